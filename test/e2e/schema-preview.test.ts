// The preview as the review, through the real Pulumi engine against real PostgreSQL 17: three
// changes (add a column, a risky type change, a refused drop) each previewed with `--diff` and as
// `--json`, the JSON turned into the pull-request summary by `setpoint pr-comment`, approvals tied
// to one plan hash, and nothing stale in the state after `up`. The outputs shown in docs/preview.md
// are the ones this test produces (it fails when they differ; SETPOINT_UPDATE_DOCS=1 rewrites them).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";
import { prComment, previewDocument } from "../support/pr-comment";
import { freshDatabase, majors, serverUrl } from "../support/postgres";
import { bluegreen, seedApp, upgradeAdmin } from "../support/upgrade";
import { createPulumiProject, errorsOf, REPO_ROOT, summaryOf } from "../support/pulumi";
import { schemaProject } from "../support/schema-project";

const MAJOR = 17;
const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]);
const DOC = join(REPO_ROOT, "docs/preview.md");

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { Schema } = require("setpoint/components");

const config = new pulumi.Config();
const schema = new Schema("library", {
  connection: config.requireSecret("databaseUrl"),
  devUrl: config.require("devUrl"),
  sql: config.require("sql"),
  allowHazards: config.getObject("allowHazards"),
  approvals: config.getObject("approvals"),
});
exports.planHash = schema.planHash;
`;

const V1 = `CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (
  id bigint PRIMARY KEY,
  author_id bigint NOT NULL REFERENCES authors (id),
  title text NOT NULL,
  pages integer
);`;
const ADD_COLUMN = V1.replace("pages integer", "pages integer,\n  isbn text");
const TYPE_CHANGE = ADD_COLUMN.replace("pages integer", "pages bigint");
const DROP = TYPE_CHANGE.replace("  title text NOT NULL,\n", "");

/** One resource of `pulumi stack export`. */
interface ExportedResource {
  type: string;
  urn: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Runs a CLI command, resolving to its exit code and output whether it succeeds or fails. */
async function attempt(run: () => Promise<string>): Promise<{ ok: boolean; text: string }> {
  return run().then(
    (text) => ({ ok: true, text }),
    (err: Error) => ({ ok: false, text: err.message }),
  );
}

/**
 * The resources of `pulumi preview --diff` (from the stack line to the resource counts) and the
 * errors it printed (to stderr, in `--diff` mode), without the progress lines (`@ previewing
 * update...`), which vary between runs.
 */
function diffExcerpt(text: string): string {
  const lines = text.split("\n").filter((l) => !l.startsWith("@"));
  const from = lines.findIndex((l) => l.includes("pulumi:pulumi:Stack"));
  const to = lines.findIndex((l, i) => i > from && l.trim() === "Resources:");
  const resources = lines.slice(from < 0 ? 0 : from, to < 0 ? lines.length : to).join("\n").replace(/\s+$/, "");
  const errors = [...new Set(lines.map((l) => l.trim()).filter((l) => l.startsWith("error: ")))];
  return errors.length ? `${resources}\n\n${errors.join("\n")}` : resources;
}

/** A resource's inputs and outputs without the desired SQL (which names the tables it creates). */
function withoutDesired(r: ExportedResource): unknown {
  const strip = (v: Record<string, unknown> | undefined) => Object.fromEntries(Object.entries(v ?? {}).filter(([k]) => k !== "desired"));
  return { inputs: strip(r.inputs), outputs: strip(r.outputs) };
}

async function typeOf(c: Client, table: string, column: string): Promise<string | undefined> {
  const r = await c.query<{ t: string }>("SELECT data_type AS t FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2", [table, column]);
  return r.rows[0]?.t;
}

describe.skipIf(toolchain.skip !== undefined || !majors().includes(MAJOR))("Schema preview and pr-comment (real engine, PostgreSQL 17)", () => {
  it("shows full plans with hazards, keeps nothing stale after up, shows refused plans whole, and approves one plan by hash", async () => {
    const db = await freshDatabase(MAJOR);
    const c = await db.client();
    const project = await schemaProject({ toolchain: toolchain.env!, name: "bookshop", program: PROGRAM, databaseUrl: db.url, devUrl: serverUrl(db.server) }, cleanups);
    const setSql = (sql: string) => project.pulumiWithInput(sql, "config", "set", "sql");
    const preview = () => attempt(() => project.pulumi("preview", "--diff", "--color", "never"));
    const previewJson = async () => previewDocument((await attempt(() => project.pulumi("preview", "--json"))).text);
    const dynamicState = async () => {
      const state = JSON.parse(await project.pulumi("stack", "export")) as { deployment: { resources: ExportedResource[] } };
      return state.deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic:Resource")!;
    };

    await setSql(V1);
    const created = await project.up();
    expect(summaryOf(created), errorsOf(created)).toMatchObject({ result: "succeeded" });
    await c.query("INSERT INTO authors SELECT g, 'author ' || g FROM generate_series(1, 200) g");
    await c.query("INSERT INTO books SELECT g, 1 + g % 200, 'title ' || g, g FROM generate_series(1, 5000) g");
    await c.query("ANALYZE authors; ANALYZE books");

    // After up, the state holds what is true: nothing pending, no SQL of past updates, no preview flag.
    const afterCreate = await dynamicState();
    expect(afterCreate.outputs?.plan).toEqual([]);
    expect(afterCreate.inputs?.plan).toEqual([]);
    expect(afterCreate.inputs).not.toHaveProperty("preview");
    expect(JSON.stringify(withoutDesired(afterCreate))).not.toContain("CREATE TABLE");

    // 1. Add a column: the whole statement, its lock and duration; the tables created by the
    // first up do not show up as dropped.
    await setSql(ADD_COLUMN);
    const addPreview = await preview();
    expect(addPreview.ok, addPreview.text).toBe(true);
    expect(addPreview.text).toMatch(/"ALTER TABLE public\.books ADD COLUMN isbn text;"/);
    expect(addPreview.text).toContain("ACCESS EXCLUSIVE on public.books");
    expect(addPreview.text).toContain("instant (catalog only");
    expect(addPreview.text).not.toContain("CREATE TABLE");
    expect(addPreview.text).not.toContain("\\n");
    const addMarkdown = await prComment(await previewJson());
    expect(addMarkdown).toContain("### Schema `library`: 1 step(s)");
    expect(addMarkdown).toContain("ALTER TABLE public.books ADD COLUMN isbn text;");
    const added = await project.up();
    expect(summaryOf(added), errorsOf(added)).toMatchObject({ result: "succeeded", resourceChanges: { update: 1 } });
    expect(await typeOf(c, "books", "isbn")).toBe("text");
    const afterAdd = await dynamicState();
    expect(afterAdd.outputs?.plan).toEqual([]);
    expect(afterAdd.outputs?.planHash).toBe("");
    expect(JSON.stringify(withoutDesired(afterAdd))).not.toMatch(/ADD COLUMN|CREATE TABLE/);
    // Converged: a preview shows no change at all.
    expect(diffExcerpt((await preview()).text)).not.toContain("plan");

    // 2. A risky type change: refused, shown whole with its hazard and row estimate, then approved
    // for this plan's hash only.
    await setSql(TYPE_CHANGE);
    const refusedType = await preview();
    expect(refusedType.ok).toBe(false);
    expect(refusedType.text).toMatch(/ALTER TABLE public\.books ALTER COLUMN pages (SET DATA )?TYPE bigint/);
    expect(refusedType.text).toContain("TABLE_REWRITE: changing public.books.pages from integer to bigint rewrites the table");
    expect(refusedType.text).toContain("(NOT ALLOWED)");
    expect(refusedType.text).toContain("approvals: [{ planHash:");
    const typeJson = await previewJson();
    const typeStep = (JSON.parse(typeJson) as { steps: { urn: string; newState?: { inputs?: Record<string, unknown> } }[] }).steps.find((s) => s.urn.endsWith("pulumi-nodejs:dynamic:Resource::library"))!;
    const hash = typeStep.newState!.inputs!.planHash as string;
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(typeStep.newState!.inputs!.plan).toEqual([expect.objectContaining({ rows: 5000, duration: expect.stringContaining("rewrites public.books: ~5000 rows") })]);
    const refusedTypeMarkdown = await prComment(typeJson);
    expect(refusedTypeMarkdown).toContain("**refused**");
    expect(refusedTypeMarkdown).toContain("| ~5,000 |");

    await project.pulumi("config", "set", "--path", "approvals[0].planHash", hash);
    await project.pulumi("config", "set", "--path", "approvals[0].hazards[0]", "TABLE_REWRITE");
    const approvedType = await preview();
    expect(approvedType.ok, approvedType.text).toBe(true);
    expect(approvedType.text).toContain("TABLE_REWRITE: changing public.books.pages from integer to bigint rewrites the table under an ACCESS EXCLUSIVE lock (allowed)");
    const approvedTypeMarkdown = await prComment(await previewJson());
    expect(approvedTypeMarkdown).not.toContain("**refused**");
    const changed = await project.up();
    expect(summaryOf(changed), errorsOf(changed)).toMatchObject({ result: "succeeded" });
    expect(await typeOf(c, "books", "pages")).toBe("bigint");

    // 3. A drop of a column holding data: refused although an approval is configured (it names
    // the previous plan), the whole plan shown, nothing run by `up`.
    await setSql(DROP);
    const refusedDrop = await preview();
    expect(refusedDrop.ok).toBe(false);
    expect(refusedDrop.text).toMatch(/"ALTER TABLE public\.books DROP COLUMN title;"/);
    expect(refusedDrop.text).toContain("DATA_LOSS_DROP_COLUMN: drops column public.books.title");
    expect(refusedDrop.text).toContain("hazard(s) DATA_LOSS_DROP_COLUMN not allowed");
    expect(diffExcerpt(refusedDrop.text)).toMatch(/\n\nerror: the plan was refused before anything ran: hazard\(s\) DATA_LOSS_DROP_COLUMN not allowed \(see the plan above\)/);
    const dropMarkdown = await prComment(await previewJson());
    expect(dropMarkdown).toContain("**refused**");
    expect(dropMarkdown).toContain("error: the plan was refused before anything ran: hazard(s) DATA_LOSS_DROP_COLUMN not allowed");
    expect(dropMarkdown).toContain("DROP COLUMN title");
    const upDrop = await attempt(() => project.pulumi("up", "--yes", "--skip-preview"));
    expect(upDrop.ok).toBe(false);
    expect(upDrop.text).toContain("DATA_LOSS_DROP_COLUMN");
    expect(upDrop.text).toContain("The whole plan (1 step(s)");
    expect(await typeOf(c, "books", "title")).toBe("text");

    const doc = renderDoc([
      { title: "Adding a column", sql: ADD_COLUMN, diff: diffExcerpt(addPreview.text), markdown: addMarkdown },
      { title: "A risky type change, approved for its plan hash", sql: TYPE_CHANGE, diff: diffExcerpt(approvedType.text), markdown: approvedTypeMarkdown, before: diffExcerpt(refusedType.text) },
      { title: "A refused drop", sql: DROP, diff: diffExcerpt(refusedDrop.text), markdown: dropMarkdown },
    ]);
    if (process.env.SETPOINT_UPDATE_DOCS === "1") writeFileSync(DOC, doc);
    else expect(sizeless(readFileSync(DOC, "utf8")), "docs/preview.md differs from what the test produced; run this test with SETPOINT_UPDATE_DOCS=1 to regenerate it").toBe(sizeless(doc));
  }, 600_000);
});

const UPGRADE_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { Upgrade } = require("setpoint/components");

const config = new pulumi.Config();
new Upgrade("pg17", { blue: config.requireSecret("blueUrl"), green: config.requireSecret("greenUrl") });
`;

describe.skipIf(toolchain.skip !== undefined || !majors().includes(16) || !majors().includes(17))("pr-comment of an Upgrade (real engine, PostgreSQL 16 -> 17)", () => {
  it("shows the preflight refusal with its finding and fix, then the steps and the preflight report", async () => {
    if (!existsSync(join(REPO_ROOT, "dist/components/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
    const { blue, green } = await bluegreen(16, 17);
    const b = await blue.client();
    await seedApp(b, 10, 100);
    await b.query("CREATE TABLE audit (at timestamptz NOT NULL DEFAULT now(), line text)"); // no primary key: preflight refuses
    const admin = await upgradeAdmin(blue, green);
    const project = await createPulumiProject({ toolchain: toolchain.env!, name: "upgrade-review", files: { "index.js": UPGRADE_PROGRAM }, installSetpoint: true });
    cleanups.push(() => project.cleanup());
    await project.pulumiWithInput(admin.blue, "config", "set", "--secret", "blueUrl");
    await project.pulumiWithInput(admin.green, "config", "set", "--secret", "greenUrl");
    const previewJson = async () => previewDocument((await attempt(() => project.pulumi("preview", "--json"))).text);

    const refused = await prComment(await previewJson());
    expect(refused).toContain("### Upgrade `pg17`: **refused**");
    expect(refused).toContain(`[NO_REPLICA_IDENTITY] table "public"."audit" has no primary key`);
    expect(refused).toContain("fix: add a primary key");
    expect(refused).not.toContain(admin.password);

    await b.query("ALTER TABLE audit ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
    const ok = await prComment(await previewJson());
    expect(ok).toMatch(/### Upgrade `pg17`: \d+ step\(s\)/);
    expect(ok).toMatch(/- ok: blue PostgreSQL 16 \(t_\w+, 4 table\(s\), .*\) -> green PostgreSQL 17/);
    expect(ok).toContain("1. preflight: ");
    expect(ok).not.toContain(admin.password);
  }, 300_000);
});

interface DocChange {
  title: string;
  sql: string;
  diff: string;
  markdown: string;
  /** The preview before the approval, when there was one. */
  before?: string;
}

// Values that change from run to run (the random database name, and the resource id, a hash of the
// target URL); plan hashes stay: they are of the SQL alone.
function stable(text: string): string {
  return text.replace(/t_[0-9a-f]{12}/g, "t_<database>").replace(/\[id=[0-9a-f]{16}\]/g, "[id=<id: a hash of the target>]");
}

// Table sizes move by a page or two between runs (free space and visibility maps are written by
// autovacuum when it gets to them): compared without them, shown as measured.
function sizeless(text: string): string {
  return text.replace(/\d+(\.\d)? (B|KiB|MiB)\b/g, "<size>");
}

function renderDoc(changes: DocChange[]): string {
  const out = [
    "# The preview is the review",
    "",
    "<!-- Generated by test/e2e/schema-preview.test.ts (SETPOINT_UPDATE_DOCS=1 rewrites it); do not edit by hand. -->",
    "",
    "What `pulumi preview --diff` shows for a `Schema`, and what `setpoint pr-comment` makes of",
    "`pulumi preview --json` for a pull request, for three changes to the same stack (PostgreSQL 17,",
    "5,000 rows in `books`). Each step of the plan shows its SQL in full, its hazards (allowed or not),",
    "the lock it takes and its expected duration. A refused plan is still shown whole, and the preview",
    "fails. See [ADR 0018](adr/0018-preview-review-and-plan-approvals.md).",
    "",
  ];
  for (const c of changes) {
    out.push(`## ${c.title}`, "", "Desired SQL:", "", "```sql", c.sql, "```", "");
    if (c.before) out.push("`pulumi preview --diff` before the approval (it fails):", "", "```", stable(c.before), "```", "");
    out.push(c.before ? "`pulumi preview --diff` with the approval in stack config:" : "`pulumi preview --diff`:", "", "```", stable(c.diff), "```", "");
    out.push("`pulumi preview --json | setpoint pr-comment`:", "", "````markdown", stable(c.markdown).trimEnd(), "````", "");
  }
  return out.join("\n");
}
