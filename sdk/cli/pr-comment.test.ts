import { describe, expect, it } from "vitest";
import { main } from "./main";
import { changedPaths, parsePreviewJson, prComment } from "./pr-comment";

// The Schema section is tested on a real `pulumi preview --json` (test/e2e/schema-preview.test.ts);
// these cover the parsing and the other resource kinds' sections as functions of their input.
const UPGRADE_URN = "urn:pulumi:dev::shop::setpoint:index:Upgrade$pulumi-nodejs:dynamic:Resource::pg18";
const CLUSTER_URN = "urn:pulumi:dev::shop::setpoint:index:PostgresCluster$kubernetes:setpoint.dev/v1alpha1:PostgresCluster::main";

describe("parsePreviewJson", () => {
  it("names what is wrong with the input and how to produce it", () => {
    expect(() => parsePreviewJson("Previewing update (dev):")).toThrow(/not JSON .*pulumi preview --json/);
    expect(() => parsePreviewJson(JSON.stringify({ steps: [{ op: 1 }] }))).toThrow(/not the output of `pulumi preview --json`: steps\.0\.op/);
  });
});

describe("prComment", () => {
  it("says when the preview holds no Setpoint resource", () => {
    expect(prComment(parsePreviewJson(JSON.stringify({ steps: [{ op: "same", urn: "urn:pulumi:dev::p::aws:s3/bucket:Bucket::b" }] })))).toContain("No Setpoint resources in this preview.");
  });

  it("shows an Upgrade's steps, traffic switch and preflight findings, and its refusal", () => {
    const preview = parsePreviewJson(
      JSON.stringify({
        steps: [
          {
            op: "update",
            urn: UPGRADE_URN,
            newState: {
              inputs: {
                plannedSteps: ["preflight: check blue and green", "replicate: copy 3 table(s)"],
                preflight: ["REFUSED: blue PostgreSQL 16 -> green PostgreSQL 18", "error NO_PRIMARY_KEY (blue public.events): table has no primary key", "fix: add a primary key"],
                trafficSummary: "PgBouncer at 127.0.0.1:6432",
              },
            },
          },
        ],
        diagnostics: [{ urn: "urn:pulumi:dev::shop::setpoint:index:Upgrade::pg18", severity: "error", message: "preflight refused the upgrade" }],
      }),
    );
    const md = prComment(preview);
    expect(md).toContain("### Upgrade `pg18`: **refused**");
    expect(md).toContain("1. preflight: check blue and green\n2. replicate: copy 3 table(s)");
    expect(md).toContain("- error NO_PRIMARY_KEY (blue public.events): table has no primary key\n- fix: add a primary key");
    expect(md).toContain("Traffic switch: PgBouncer at 127.0.0.1:6432");
    expect(md).toContain("preflight refused the upgrade");
  });

  it("lists a Schema's unmodelled differences instead of saying the database matches", () => {
    const urn = "urn:pulumi:dev::shop::setpoint:index:Schema$pulumi-nodejs:dynamic:Resource::app";
    const line = "UNMODELLED_DIFFERENCE pg_index.indisclustered public.docs_body_idx: expected false, found true";
    const md = prComment(parsePreviewJson(JSON.stringify({ steps: [{ op: "update", urn, newState: { inputs: { plan: [], refused: [], unmodelled: [line] } } }] })));
    expect(md).toContain("### Schema `app`: **differs in unmanaged properties**");
    expect(md).toContain(`- \`${line}\``);
    expect(md).toContain("`pulumi up` fails on them until they match");
    expect(md).not.toContain("The database matches the desired schema.");
    const matching = prComment(parsePreviewJson(JSON.stringify({ steps: [{ op: "update", urn, newState: { inputs: { plan: [], refused: [], unmodelled: [] } } }] })));
    expect(matching).toContain("The database matches the desired schema.");
  });

  it("shows a PostgresCluster's spec changes field by field, and lists unchanged resources", () => {
    const preview = parsePreviewJson(
      JSON.stringify({
        steps: [
          {
            op: "update",
            urn: CLUSTER_URN,
            oldState: { inputs: { spec: { instances: 1, postgresVersion: 17, storage: { size: "10Gi" } } } },
            newState: { inputs: { spec: { instances: 3, postgresVersion: 17, storage: { size: "20Gi" }, pooler: { enabled: true } } } },
          },
          { op: "same", urn: UPGRADE_URN },
        ],
      }),
    );
    const md = prComment(preview);
    expect(md).toContain("### PostgresCluster `main`: update");
    expect(md).toContain("| `spec.instances` | `1` | `3` |");
    expect(md).toContain("| `spec.storage.size` | `\"10Gi\"` | `\"20Gi\"` |");
    expect(md).toContain("| `spec.pooler` | (unset) | `{\"enabled\":true}` |");
    expect(md).not.toContain("postgresVersion");
    expect(md).toContain("Unchanged: Upgrade `pg18`.");
  });
});

describe("prComment of a failed check", () => {
  it("shows the error of a Setpoint resource that has no step (its check failed), and nothing for other resources", () => {
    const md = prComment(
      parsePreviewJson(
        JSON.stringify({
          steps: [{ op: "same", urn: "urn:pulumi:dev::shop::setpoint:index:Schema::library" }],
          diagnostics: [
            { urn: "urn:pulumi:dev::shop::setpoint:index:Schema$pulumi-nodejs:dynamic:Resource::library", severity: "error", message: "invalid desired schema at sql:2" },
            { urn: "urn:pulumi:dev::shop::aws:s3/bucket:Bucket::b", severity: "error", message: "not ours" },
          ],
        }),
      ),
    );
    expect(md).toContain("### Schema `library`: **refused**");
    expect(md).toContain("invalid desired schema at sql:2");
    expect(md).not.toContain("not ours");
  });
});

describe("changedPaths", () => {
  it("lists leaf paths that differ, arrays compared whole", () => {
    expect(changedPaths({ a: 1, b: { c: [1, 2], d: "x" } }, { a: 1, b: { c: [1, 3], e: true } })).toEqual([
      { path: "b.c", from: [1, 2], to: [1, 3] },
      { path: "b.d", from: "x", to: undefined },
      { path: "b.e", from: undefined, to: true },
    ]);
  });
});

describe("setpoint pr-comment", () => {
  it("reads the preview from stdin and prints Markdown; a bad flag names the usage", async () => {
    const out: string[] = [];
    const code = await main(["pr-comment"], { stdout: (t) => out.push(t), stderr: () => undefined, readStdin: async () => JSON.stringify({ steps: [] }) });
    expect(code).toBe(0);
    expect(out.join("")).toContain("## Setpoint preview");
    const err: string[] = [];
    expect(await main(["pr-comment", "--fiel", "x"], { stdout: () => undefined, stderr: (t) => err.push(t) })).toBe(1);
    expect(err.join("")).toContain("usage: setpoint pr-comment [--file preview.json]");
    const missing: string[] = [];
    expect(await main(["pr-comment", "--file", "/nonexistent/preview.json"], { stdout: () => undefined, stderr: (t) => missing.push(t) })).toBe(1);
    expect(missing.join("")).toContain("cannot read --file /nonexistent/preview.json");
  });
});
