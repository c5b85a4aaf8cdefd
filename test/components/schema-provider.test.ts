// The Schema dynamic provider, built (dist/), against real PostgreSQL 17: it survives Pulumi's
// function serialization, and each method does what `pulumi preview/up/refresh/destroy` rely on.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planSchema } from "../../sdk/schema/engine";
import { planHash } from "../../sdk/schema/plan/approvals";
import { HazardsRefusedError, refusedHazards } from "../../sdk/schema/plan/plan";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors, serverUrl, type TestDatabase } from "../support/postgres";

const root = resolve(__dirname, "../..");
const MAJOR = 17;
const work = mkdtempSync(join(tmpdir(), "setpoint-schema-provider-"));
// The provider has no cache option: point the engine's model cache at a temp dir, not $HOME.
const cacheEnv = { SETPOINT_CACHE_DIR: join(work, "cache") };

type Provider = Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "update" | "read" | "delete">>;
let provider: Provider;
let savedCacheDir: string | undefined;

beforeAll(() => {
  // The provider resolves setpoint/internal/schema-provider, i.e. dist/: it must be built.
  if (!existsSync(join(root, "dist/components/internal/schema-provider-impl.js"))) throw new Error("dist/ is missing: run `npm run build` before the integration tests");
  const load = createRequire(__filename);
  provider = (load(join(root, "dist/components/schema-provider.js")) as { schemaProvider: Provider }).schemaProvider;
  savedCacheDir = process.env.SETPOINT_CACHE_DIR;
  process.env.SETPOINT_CACHE_DIR = cacheEnv.SETPOINT_CACHE_DIR;
});

afterAll(() => {
  if (savedCacheDir === undefined) delete process.env.SETPOINT_CACHE_DIR;
  else process.env.SETPOINT_CACHE_DIR = savedCacheDir;
  rmSync(work, { recursive: true, force: true });
});

const TWO_TABLES = `
  CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL);
  CREATE TABLE books (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors (id), title text);
`;

/** Inputs as the component registers them, after Pulumi resolved them. */
function inputsFor(db: TestDatabase, sql: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    connection: db.url,
    desired: { files: [{ name: "sql", sql }], renames: [] },
    allowHazards: [],
    online: true,
    devUrl: serverUrl(db.server),
    deletionPolicy: "retain",
    planAtPreview: true,
    __provider: "serialized provider text",
    ...extra,
  };
}

async function tablesOf(db: TestDatabase): Promise<string[]> {
  const c = await db.client();
  const r = await c.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
  return r.rows.map((row) => row.name);
}

async function columnsOf(db: TestDatabase, table: string): Promise<string[]> {
  const c = await db.client();
  const r = await c.query<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY 1", [table]);
  return r.rows.map((row) => row.name);
}

/** check + create, as `pulumi up` does for a new resource; returns the state Pulumi would store. */
async function created(inputs: Record<string, unknown>): Promise<{ id: string; state: Record<string, unknown> }> {
  const checked = await provider.check({}, inputs);
  expect(checked.failures ?? []).toEqual([]);
  const result = await provider.create(checked.inputs!);
  // The provider host stores the outputs plus the serialized provider.
  return { id: result.id, state: { ...result.outs, __provider: inputs.__provider } };
}

describe.runIf(majors().includes(MAJOR))("Schema dynamic provider (built, PostgreSQL 17)", () => {
  it("serializes and runs in a fresh process: check, then create", async () => {
    const db = await freshDatabase(MAJOR);
    const text = execFileSync(process.execPath, ["--import", "tsx", "test/fixtures/serialize-schema-provider.ts"], { cwd: root, encoding: "utf8" });
    expect(text).toContain("exports.handler");
    // Only the forwarding object is stored in state: no engine code, so engine changes do not
    // change the provider text (and do not mark every Schema for update after an upgrade).
    for (const engineCode of ["introspect", "CREATE TABLE", "planSchema", "applySchema", "quoteIdent", "zod"]) expect(text).not.toContain(engineCode);

    const file = join(work, "provider.js");
    writeFileSync(file, text);
    const runner = `
      const provider = require(${JSON.stringify(file)}).__entry();
      const inputs = JSON.parse(process.env.SETPOINT_TEST_INPUTS);
      (async () => {
        const shown = await provider.check({}, { ...inputs, preview: true });
        const checked = await provider.check({}, inputs);
        if (checked.failures && checked.failures.length) throw new Error(JSON.stringify(checked.failures));
        const result = await provider.create(checked.inputs);
        process.stdout.write(JSON.stringify({ planned: shown.inputs.plan, stored: checked.inputs, result }));
      })().catch((err) => { console.error(err); process.exit(1); });
    `;
    // cwd is the repository root, like a program directory where setpoint is installed; no NODE_PATH.
    const out = execFileSync(process.execPath, ["-e", runner], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, ...cacheEnv, NODE_PATH: "", SETPOINT_TEST_INPUTS: JSON.stringify(inputsFor(db, TWO_TABLES)) },
    });
    const { planned, stored, result } = JSON.parse(out) as { planned: { kind: string; sql: string[] }[]; stored: Record<string, unknown>; result: { id: string; outs: Record<string, unknown> } };
    // The preview shows the plan; the inputs stored by `up` and its outputs hold nothing pending.
    expect(planned.filter((s) => s.kind === "createTable").map((s) => s.sql[0])).toEqual(["CREATE TABLE public.authors (", "CREATE TABLE public.books ("]);
    expect(stored).toMatchObject({ plan: [], planHash: "", refused: [] });
    expect(stored).not.toHaveProperty("preview");
    expect(result.id).toMatch(/^[0-9a-f]{16}$/);
    expect(result.outs).toMatchObject({ plan: [], planHash: "", refused: [] });
    expect(result.outs).not.toHaveProperty("appliedStatements");
    expect(result.outs.fingerprint).toEqual(expect.any(String));
    expect(await tablesOf(db)).toEqual(["authors", "books"]);
  });

  it("check rejects an invalid argument naming it, without echoing the connection", async () => {
    const db = await freshDatabase(MAJOR);
    const bad = inputsFor(db, TWO_TABLES, { connection: "mysql://app:hunter2-secret@db/app" });
    const checked = await provider.check({}, bad);
    expect(checked.failures).toHaveLength(1);
    expect(checked.failures![0]!.property).toBe("connection");
    expect(checked.failures![0]!.reason).toContain("postgres://");
    expect(JSON.stringify(checked.failures)).not.toContain("hunter2-secret");
  });

  it("check names the input a planning error is about: connection, devUrl or desired", async () => {
    const db = await freshDatabase(MAJOR);
    // Pulumi prints the named property's value beside the reason: the secret connection shows as
    // [secret], while naming `desired` would dump all the desired SQL into a connection error.
    const unreachable = await provider.check({}, inputsFor(db, TWO_TABLES, { connection: "postgres://app:hunter2-secret@127.0.0.1:1/app" }));
    expect(unreachable.failures).toEqual([{ property: "connection", reason: expect.stringContaining("cannot connect to postgres://app:***@127.0.0.1:1/app") }]);
    expect(JSON.stringify(unreachable.failures)).not.toContain("hunter2-secret");

    // Desired SQL not normalized before (a cached model would not need the dev server).
    const uncached = `CREATE TABLE t_${randomBytes(6).toString("hex")} (id int);`;
    const badDev = await provider.check({}, inputsFor(db, uncached, { devUrl: "postgres://dev:dev-secret@127.0.0.1:1/postgres" }));
    expect(badDev.failures).toEqual([{ property: "devUrl", reason: expect.stringContaining("cannot connect to postgres://dev:***@127.0.0.1:1/") }]);
    expect(JSON.stringify(badDev.failures)).not.toContain("dev-secret");

    const badSql = await provider.check({}, inputsFor(db, "CREATE TABLE ok (id int);\nCREATE TABLE broken (id nosuchtype);"));
    expect(badSql.failures).toEqual([{ property: "desired", reason: expect.stringContaining("invalid desired schema at sql:2") }]);
  });

  it("diff: no change when only __provider differs and the plan is empty; a change when the plan is not empty or an argument changed", async () => {
    const db = await freshDatabase(MAJOR);
    const { id, state } = await created(inputsFor(db, TWO_TABLES, { __provider: "provider text v1" }));

    const same = await provider.check(state, inputsFor(db, TWO_TABLES, { __provider: "provider text v2", preview: true }));
    expect(same.failures ?? []).toEqual([]);
    expect(same.inputs!.plan).toEqual([]);
    expect(await provider.diff(id, state, same.inputs!)).toMatchObject({ changes: false });

    const withTags = `${TWO_TABLES} CREATE TABLE tags (id bigint PRIMARY KEY);`;
    const grown = await provider.check(state, inputsFor(db, withTags, { preview: true }));
    expect(grown.inputs!.plan).toEqual([expect.objectContaining({ step: 1, kind: "createTable", lock: "none (new objects only)", sql: expect.arrayContaining(["CREATE TABLE public.tags ("]) })]);
    expect(grown.inputs!.planHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await provider.diff(id, state, grown.inputs!)).toMatchObject({ changes: true });
    // During `up` the plan stays out of the inputs, and diff still sees the change ...
    const during = await provider.check(state, inputsFor(db, withTags));
    expect(during.inputs).toMatchObject({ plan: [], planHash: "" });
    expect(await provider.diff(id, state, during.inputs!)).toMatchObject({ changes: true });
    // ... also when it has to plan for itself (no check of these inputs before it in this process).
    expect(await provider.diff(id, state, { ...state })).toMatchObject({ changes: false });
    const c = await db.client();
    await c.query("ALTER TABLE books ADD COLUMN drifted int");
    expect(await provider.diff(id, state, { ...state })).toMatchObject({ changes: true });
    await c.query("ALTER TABLE books DROP COLUMN drifted");

    const offline = await provider.check(state, inputsFor(db, TWO_TABLES, { online: false, preview: true }));
    expect(offline.inputs!.plan).toEqual([]);
    expect(await provider.diff(id, state, offline.inputs!)).toMatchObject({ changes: true });

    // Arguments left to their defaults mean the same as the defaults spelled out.
    const defaults = inputsFor(db, TWO_TABLES);
    for (const k of ["allowHazards", "online", "deletionPolicy", "planAtPreview"]) delete defaults[k];
    const implicit = await provider.check(state, defaults);
    expect(await provider.diff(id, state, implicit.inputs!)).toMatchObject({ changes: false });
  });

  it("check refuses a destructive change with the engine's message, and changes nothing", async () => {
    const db = await freshDatabase(MAJOR);
    const withEmail = `${TWO_TABLES} ALTER TABLE authors ADD COLUMN email text;`;
    const { state } = await created(inputsFor(db, withEmail));
    const c = await db.client();
    await c.query("INSERT INTO authors (id, name, email) VALUES (1, 'Ursula', 'u@example.com')");

    // During `up`: refused, with the engine's message, the whole plan, and how to approve it.
    const checked = await provider.check(state, inputsFor(db, TWO_TABLES));
    const expected = await planSchema(db.url, schemaFromSql(TWO_TABLES), { devUrl: serverUrl(db.server), cacheDir: false });
    const refused = refusedHazards(expected.plan, []);
    expect(refused.map((h) => h.code)).toEqual(["DATA_LOSS_DROP_COLUMN"]);
    expect(checked.failures).toEqual([{ property: "allowHazards", reason: expect.stringContaining(new HazardsRefusedError(refused).message) }]);
    const reason = checked.failures![0]!.reason;
    expect(reason).toContain('allowHazards: ["DATA_LOSS_DROP_COLUMN"]');
    expect(reason).toContain(`approvals: [{ planHash: "${planHash(expected.plan)}", hazards: ["DATA_LOSS_DROP_COLUMN"] }]`);
    expect(reason).toContain("The whole plan (1 step(s)");
    expect(reason).toContain("ALTER TABLE public.authors DROP COLUMN email;");
    expect(await columnsOf(db, "authors")).toEqual(["email", "id", "name"]);

    // In a preview: no failure (the component fails the preview), the whole plan with the refusal.
    const shown = await provider.check(state, inputsFor(db, TWO_TABLES, { preview: true }));
    expect(shown.failures ?? []).toEqual([]);
    expect(shown.inputs).toMatchObject({ refused: ["DATA_LOSS_DROP_COLUMN"], planHash: planHash(expected.plan) });
    expect(shown.inputs!.plan).toEqual([expect.objectContaining({ kind: "dropColumn", hazards: [expect.stringMatching(/^DATA_LOSS_DROP_COLUMN: drops column public\.authors\.email .*\(NOT ALLOWED\)$/)] })]);

    const allowed = await provider.check(state, inputsFor(db, TWO_TABLES, { allowHazards: ["DATA_LOSS_DROP_COLUMN"], preview: true }));
    expect(allowed.failures ?? []).toEqual([]);
    expect(allowed.inputs!.refused).toEqual([]);
    expect(allowed.inputs!.plan).toEqual([expect.objectContaining({ sql: ["ALTER TABLE public.authors DROP COLUMN email;"], hazards: [expect.stringMatching(/\(allowed\)$/)] })]);
  });

  it("an approval holds for the plan hash it names only, in check and in update", async () => {
    const db = await freshDatabase(MAJOR);
    const withEmail = `${TWO_TABLES} ALTER TABLE authors ADD COLUMN email text; ALTER TABLE authors ADD COLUMN phone text;`;
    const { id, state } = await created(inputsFor(db, withEmail));
    const c = await db.client();
    await c.query("INSERT INTO authors (id, name, email, phone) VALUES (1, 'Ursula', 'u@example.com', '555')");
    const dropEmail = `${TWO_TABLES} ALTER TABLE authors ADD COLUMN phone text;`;
    const hash = (await provider.check(state, inputsFor(db, dropEmail, { preview: true }))).inputs!.planHash as string;
    const approvals = [{ planHash: hash, hazards: ["DATA_LOSS_DROP_COLUMN"] }];

    // The same approval does not cover another plan with the same hazard (dropping both columns).
    const other = await provider.check(state, inputsFor(db, TWO_TABLES, { approvals }));
    expect(other.failures).toEqual([{ property: "allowHazards", reason: expect.stringContaining("DATA_LOSS_DROP_COLUMN") }]);

    const approved = await provider.check(state, inputsFor(db, dropEmail, { approvals }));
    expect(approved.failures ?? []).toEqual([]);
    await provider.update(id, state, approved.inputs!);
    expect(await columnsOf(db, "authors")).toEqual(["id", "name", "phone"]);
  });

  it("read reports out-of-band drift as the plan", async () => {
    const db = await freshDatabase(MAJOR);
    const { id, state } = await created(inputsFor(db, TWO_TABLES));
    const converged = await provider.read!(id, state);
    expect(converged.props).toMatchObject({ plan: [], planHash: "", refused: [] });

    const c = await db.client();
    await c.query("ALTER TABLE books ADD COLUMN isbn text");
    const drifted = await provider.read!(id, state);
    expect(drifted.id).toBe(id);
    expect(drifted.props!.plan).toEqual([
      expect.objectContaining({ sql: ["ALTER TABLE public.books DROP COLUMN isbn;"], hazards: [expect.stringContaining("DATA_LOSS_DROP_COLUMN")] }),
    ]);
    expect(drifted.props!.refused).toEqual(["DATA_LOSS_DROP_COLUMN"]);
    // The arguments are kept, so the next diff compares like with like.
    expect(drifted.props).toMatchObject({ connection: db.url, deletionPolicy: "retain", __provider: state.__provider });
  });

  it("delete keeps the tables with deletionPolicy retain", async () => {
    const db = await freshDatabase(MAJOR);
    const { id, state } = await created(inputsFor(db, TWO_TABLES));
    await provider.delete(id, state);
    expect(await tablesOf(db)).toEqual(["authors", "books"]);
  });

  it("delete drops what it manages with deletionPolicy drop, and nothing else", async () => {
    const db = await freshDatabase(MAJOR);
    const c = await db.client();
    await c.query("CREATE SCHEMA other; CREATE TABLE other.keep (id int)");
    const { id, state } = await created(inputsFor(db, TWO_TABLES, { deletionPolicy: "drop" }));
    expect(await tablesOf(db)).toEqual(["authors", "books"]);
    await c.query("INSERT INTO authors VALUES (1, 'Ursula')");
    await provider.delete(id, state);
    expect(await tablesOf(db)).toEqual([]);
    const kept = await c.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'other' AND table_name = 'keep'");
    expect(kept.rowCount).toBe(1);
    const schemas = await c.query<{ name: string }>("SELECT nspname AS name FROM pg_namespace WHERE nspname IN ('public', 'other') ORDER BY 1");
    expect(schemas.rows.map((r) => r.name)).toEqual(["other", "public"]);
  });
});
