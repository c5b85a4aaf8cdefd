// The Schema component through the real Pulumi engine, installed as the `setpoint` package (dist/),
// against real PostgreSQL 17 with a password-protected role: preview shows the SQL, up applies it,
// a second up is a no-op, refresh reports drift, a destructive fix is refused until allowed,
// destroy keeps the tables, and the password never reaches the state.
import type { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";
import { createPasswordRole, freshDatabase, majors, serverUrl } from "../support/postgres";
import { errorsOf, summaryOf } from "../support/pulumi";
import { schemaProject } from "../support/schema-project";

const MAJOR = 17;
const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]);

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const { Schema } = require("setpoint/components");

const config = new pulumi.Config();
const schema = new Schema("library", {
  connection: config.requireSecret("databaseUrl"),
  devUrl: config.require("devUrl"),
  sql: \`
    CREATE TABLE authors (id bigint PRIMARY KEY, name text NOT NULL);
    CREATE TABLE books (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors (id), title text NOT NULL);
  \`,
  allowHazards: config.getObject("allowHazards"),
});
exports.planHash = schema.planHash;
`;

/** One resource of `pulumi stack export`. */
interface ExportedResource {
  type: string;
  urn: string;
  outputs?: Record<string, unknown>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function columnsOf(c: Client, table: string): Promise<string[]> {
  const r = await c.query<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY 1", [table]);
  return r.rows.map((row) => row.name);
}

describe.skipIf(toolchain.skip !== undefined || !majors().includes(MAJOR))("Schema component (real engine, PostgreSQL 17)", () => {
  it("previews, applies, converges, reports drift, refuses then allows the destructive fix, and retains on destroy", async () => {
    const db = await freshDatabase(MAJOR);

    // The shared servers trust local connections; a role with a password makes the secret real.
    const { role, password, url, drop } = await createPasswordRole(db);
    // Runs after the database is dropped (onTestFinished), so the role owns nothing any more.
    cleanups.push(drop);
    const c = await db.client(); // the superuser, on the test database

    const project = await schemaProject({ toolchain: toolchain.env!, name: "schema-e2e", program: PROGRAM, databaseUrl: url, devUrl: serverUrl(db.server) }, cleanups);

    // Preview: the plan is visible, the password is not.
    const preview = await project.pulumi("preview", "--diff");
    expect(preview).toContain("CREATE TABLE");
    expect(preview).not.toContain(password);

    const first = await project.up();
    expect(summaryOf(first), errorsOf(first)).toMatchObject({ result: "succeeded", resourceChanges: { create: 3 } });
    expect(await columnsOf(c, "authors")).toEqual(["id", "name"]);
    expect(await columnsOf(c, "books")).toEqual(["author_id", "id", "title"]);
    const owner = await c.query<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'books'");
    expect(owner.rows[0]?.owner).toBe(role);

    const second = await project.up();
    expect(summaryOf(second), errorsOf(second)).toMatchObject({ result: "succeeded" });
    expect(summaryOf(second)?.resourceChanges).toEqual({ same: 3 });

    // Drift made out of band: refresh reports the statement that would undo it.
    await c.query("ALTER TABLE books ADD COLUMN x int");
    await c.query("INSERT INTO authors VALUES (1, 'Ursula'); INSERT INTO books VALUES (1, 1, 'The Dispossessed', 42)");
    await project.pulumi("refresh", "--yes");
    const stateAfterRefresh = JSON.parse(await project.pulumi("stack", "export")) as { deployment: { resources: ExportedResource[] } };
    const dynamic = stateAfterRefresh.deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic:Resource");
    expect(dynamic?.outputs?.plan).toEqual([expect.objectContaining({ sql: ["ALTER TABLE public.books DROP COLUMN x;"], hazards: [expect.stringContaining("DATA_LOSS_DROP_COLUMN")] })]);

    // Undoing it drops data: the preview refuses, naming the hazard, and nothing runs.
    const refused = await project.pulumi("up", "--yes").then(
      (out) => ({ ok: true, text: out }),
      (err: Error) => ({ ok: false, text: err.message }),
    );
    expect(refused.ok, refused.text).toBe(false);
    expect(refused.text).toContain("DATA_LOSS_DROP_COLUMN");
    expect(refused.text).toContain("drops column public.books.x");
    expect(refused.text).not.toContain(password);
    expect(await columnsOf(c, "books")).toEqual(["author_id", "id", "title", "x"]);

    // Allowed through config, the same up converges.
    await project.pulumi("config", "set", "--path", "allowHazards[0]", "DATA_LOSS_DROP_COLUMN");
    const allowed = await project.up();
    expect(summaryOf(allowed), errorsOf(allowed)).toMatchObject({ result: "succeeded" });
    expect(summaryOf(allowed)?.resourceChanges).toEqual({ update: 1, same: 2 });
    expect(await columnsOf(c, "books")).toEqual(["author_id", "id", "title"]);
    const converged = await project.up();
    expect(summaryOf(converged), errorsOf(converged)).toMatchObject({ result: "succeeded" });
    expect(summaryOf(converged)?.resourceChanges).toEqual({ same: 3 });

    // The state holds the connection only as ciphertext.
    const exported = await project.pulumi("stack", "export");
    expect(exported).not.toContain(password);
    expect(exported).toContain("CREATE TABLE");
    const state = JSON.parse(exported) as { deployment: { resources: ExportedResource[] } };
    const outputs = state.deployment.resources.find((r) => r.type === "pulumi-nodejs:dynamic:Resource")?.outputs ?? {};
    expect(outputs.connection).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" });

    // deletionPolicy defaults to retain: destroy leaves the tables and their rows.
    const destroyed = await project.destroy();
    expect(summaryOf(destroyed), errorsOf(destroyed)).toMatchObject({ result: "succeeded", resourceChanges: { delete: 3 } });
    const rows = await c.query("SELECT title FROM books");
    expect(rows.rows).toEqual([{ title: "The Dispossessed" }]);
  }, 300_000);
});
