import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applySchema, planSchema } from "../../sdk/schema/engine";
import { loadSchemaPath, schemaFromSql } from "../../sdk/schema/source/desired";
import { formatDifference } from "../../sdk/schema/verify/index";
import type { PostgresMajor } from "../../sdk/postgres/versions";
import { propertyLines } from "../support/catalog-props";
import { pgClientTools } from "../support/pg-client";
import { freshDatabase, majors, serverUrl, servers } from "../support/postgres";
import { pairsFor } from "../schema-suite/corpus";
import { ensureSuiteRoles } from "../schema-suite/runner";
import { engineOptions, runSql } from "../support/schema";

// A user's first desired schema is often `pg_dump --schema-only` of the database they have (ADR
// 0057). The real pg_dump (Debian's postgresql-client, which .ci/run installs) writes psql
// meta-commands (\restrict and \unrestrict since the August 2025 releases), session settings, and
// its own forms of every object: ALTER TABLE ONLY ... ADD CONSTRAINT, ALTER INDEX ... ATTACH
// PARTITION, sequences owned by columns, materialized views WITH NO DATA, and CHECKs printed in a
// form PostgreSQL prints differently once parsed again. Its output must plan as nothing against the
// database it came from, and, applied to an empty database, give what psql restoring it gives.

const tools = pgClientTools();
// pg_dump refuses a server newer than itself.
const dumpable = majors().filter((m) => tools !== null && m <= tools.major);

const SCHEMA = `
CREATE SCHEMA app;
CREATE TYPE app.status AS ENUM ('new', 'paid', 'shipped');
CREATE DOMAIN app.email AS text CONSTRAINT email_at CHECK (VALUE ~ '@');
CREATE TABLE app.customer (id bigserial PRIMARY KEY, email app.email NOT NULL UNIQUE, name varchar(80),
  tier varchar(10) NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'team')), created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE app.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id bigint NOT NULL REFERENCES app.customer ON DELETE CASCADE,
  status app.status NOT NULL DEFAULT 'new', total numeric(12,2) CHECK (total >= 0), note text COLLATE "C");
CREATE INDEX orders_open ON app.orders (customer_id) WHERE status <> 'shipped';
CREATE INDEX orders_note ON app.orders (lower(note));
COMMENT ON TABLE app.orders IS 'one row per order';
COMMENT ON COLUMN app.orders.total IS 'in EUR';
CREATE VIEW app.open_orders AS SELECT o.id, c.email FROM app.orders o JOIN app.customer c ON c.id = o.customer_id WHERE o.status = 'new';
CREATE MATERIALIZED VIEW app.totals AS SELECT customer_id, sum(total) AS total FROM app.orders GROUP BY customer_id;
CREATE UNIQUE INDEX totals_customer ON app.totals (customer_id);
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := coalesce(NEW.note, ''); RETURN NEW; END$$;
CREATE TRIGGER orders_touch BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE FUNCTION app.order_count(cid bigint) RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM app.orders WHERE customer_id = cid; END;
CREATE TABLE app.event (id bigint NOT NULL, at timestamptz NOT NULL, kind varchar(8) NOT NULL CHECK (kind IN ('in', 'out')), payload jsonb, PRIMARY KEY (id, at, kind)) PARTITION BY RANGE (at);
CREATE TABLE app.event_2026 PARTITION OF app.event FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (kind);
CREATE TABLE app.event_2026_in PARTITION OF app.event_2026 FOR VALUES IN ('in');
CREATE TABLE app.event_rest PARTITION OF app.event DEFAULT;
CREATE INDEX event_at ON app.event (at);
ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_orders ON app.orders USING (customer_id = current_setting('app.customer', true)::bigint);
CREATE SEQUENCE app.invoice_no START 1000 INCREMENT 10;
CREATE TABLE app.invoice (no int PRIMARY KEY DEFAULT nextval('app.invoice_no'), order_id bigint REFERENCES app.orders DEFERRABLE INITIALLY DEFERRED);
ALTER SEQUENCE app.invoice_no OWNED BY app.invoice.no;
CREATE TABLE app.audit (at timestamptz DEFAULT now(), what text);
CREATE TABLE app.audit_orders (order_id bigint) INHERITS (app.audit);
`;

describe("pg_dump output as the desired schema", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const dump = (url: string, args: string[] = ["--schema-only"]): string => {
    const dir = mkdtempSync(join(tmpdir(), "setpoint-dump-"));
    dirs.push(dir);
    const file = join(dir, "schema.sql");
    execFileSync(tools!.pgDump, [...args, "-f", file, "-d", url], { stdio: ["ignore", "pipe", "pipe"] });
    return file;
  };

  it("has a pg_dump to test with (Debian's postgresql-client) that can dump a tested major", () => {
    expect(tools, "no pg_dump installed: apt-get install postgresql-client").not.toBeNull();
    expect(dumpable.length, `pg_dump ${tools?.major} is older than every tested major (${majors().join(", ")})`).toBeGreaterThan(0);
  });

  describe.each(dumpable)("PostgreSQL %i", (major) => {
    it("plans nothing against the database it was dumped from, and builds on an empty database what psql restoring it builds", async () => {
      const source = await freshDatabase(major as PostgresMajor);
      await runSql(source, SCHEMA);
      const file = dump(source.url);
      const desired = loadSchemaPath(file);

      const same = await planSchema(source.url, desired, engineOptions(source));
      expect(same.plan.steps.map((s) => s.sql)).toEqual([]);
      expect(same.catalogCheck?.differences.map(formatDifference)).toEqual([]);

      const empty = await freshDatabase(major as PostgresMajor);
      await applySchema(empty.url, desired, engineOptions(empty, { allowHazards: "all" }));
      const again = await planSchema(empty.url, desired, engineOptions(empty));
      expect(again.plan.steps.map((s) => s.sql)).toEqual([]);
      expect(again.catalogCheck?.differences.map(formatDifference)).toEqual([]);
      const restored = await freshDatabase(major as PostgresMajor);
      execFileSync(tools!.psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", restored.url, "-f", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      // psql restores a partition's primary key with ALTER TABLE ONLY and attaches it (connoinherit
      // true); the engine cascades it from the parent (false). No DDL changes the flag and nothing
      // reads it for index-backed constraints (ADR 0057): every other line must match.
      const lines = async (db: typeof empty) => (await propertyLines(await db.client())).map((l) => (/^pg_constraint \S+: [pux] /.test(l) ? l.replace(/ noinherit=\w+/, "") : l));
      expect(await lines(empty)).toEqual(await lines(restored));
    });

    it("refuses a dump made with --create (naming \\connect), a custom-format archive (naming pg_restore) and a dump with data, before anything runs", async () => {
      const source = await freshDatabase(major as PostgresMajor);
      await runSql(source, "CREATE TABLE t (id int);");
      const file = dump(source.url, ["--schema-only", "--create"]);
      expect(() => loadSchemaPath(file)).toThrow(/psql meta-command \\connect at .*schema\.sql:\d+ .*without --create/);
      const archive = dump(source.url, ["--schema-only", "-Fc"]);
      expect(() => loadSchemaPath(archive)).toThrow(/is a pg_dump custom-format archive \(pg_dump -Fc\), not SQL: make plain SQL of its schema with pg_restore --schema-only/);
      await runSql(source, "INSERT INTO t VALUES (1), (NULL);");
      expect(() => loadSchemaPath(dump(source.url, []))).toThrow(/schema\.sql:\d+ holds table data \(COPY \.\.\. FROM stdin\): .*pg_dump --schema-only/);
    });
  });
});

// The schema suite's corpus (test/schema-suite/corpus), every 6th distinct desired side, dumped
// with the real pg_dump on the newest major it can dump and planned against its source: each an
// empty plan with a clean catalog check. Pairs that pin an extension's version are left out: a
// dump names no version, and a desired extension without one is its default (ADR 0057).
describe.skipIf(dumpable.length === 0)("pg_dump of the schema suite's desired sides", () => {
  it("plans nothing against the database each came from", async () => {
    const major = dumpable.at(-1)! as PostgresMajor;
    const seen = new Set<string>();
    const distinct = pairsFor(major).filter((p) => !/CREATE EXTENSION[^;]*\sVERSION\s/i.test(p.new) && !seen.has(p.new) && (seen.add(p.new), true));
    const sample = distinct.filter((_, i) => i % 6 === 0);
    expect(sample.length).toBeGreaterThan(50);
    const dir = mkdtempSync(join(tmpdir(), "setpoint-dump-suite-"));
    const failures: string[] = [];
    try {
      await ensureSuiteRoles(serverUrl(servers().find((s) => s.major === major)!));
      for (const [k, pair] of sample.entries()) {
        const source = await freshDatabase(major);
        await runSql(source, pair.new);
        const file = join(dir, `${k}.sql`);
        execFileSync(tools!.pgDump, ["--schema-only", "-f", file, "-d", source.url], { stdio: ["ignore", "pipe", "pipe"] });
        const planned = await planSchema(source.url, loadSchemaPath(file), engineOptions(source, pair.schemas ? { schemas: pair.schemas } : {}));
        const found = [...planned.plan.steps.map((s) => s.sql), ...(planned.catalogCheck?.differences.map(formatDifference) ?? [])];
        if (found.length > 0) failures.push(`${pair.name}: ${found.join(" | ")}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(failures).toEqual([]);
  }, 600_000);
});

// What pg_dump does to a CHECK, on every major without pg_dump: the desired SQL holds the text the
// target's catalog prints (not a fixed point: parsed again it prints with per-item casts), on a
// table, its partitions and an inheritance child. The same constraint, not a change (ADR 0057).
describe.each(majors())("PostgreSQL %i: a CHECK desired as the target prints it", (major) => {
  it("plans nothing, and the catalog check finds the partitions' and children's copies the same", async () => {
    const live = `CREATE TABLE ticket (id int, state varchar(10) CHECK (state IN ('open', 'closed')), kind varchar(8) NOT NULL) PARTITION BY LIST (kind);
      CREATE TABLE ticket_a PARTITION OF ticket FOR VALUES IN ('a');
      CREATE TABLE note (tag varchar(5) CONSTRAINT note_tag CHECK (tag IN ('x', 'y')));
      CREATE TABLE note_child () INHERITS (note);`;
    const target = await freshDatabase(major);
    await runSql(target, live);
    const { rows } = await (await target.client()).query<{ t: string; n: string; d: string }>(
      "SELECT conrelid::regclass::text AS t, conname AS n, pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE contype = 'c' AND conislocal AND conrelid <> 0 ORDER BY 1, 2",
    );
    // The form that prints differently once parsed again: an array cast as a whole.
    expect(rows.map((r) => [r.t, r.n, /ANY \(\(ARRAY\[.*\]\)::text\[\]\)/.test(r.d)])).toEqual([["note", "note_tag", true], ["ticket", "ticket_state_check", true]]);
    const printed = `CREATE TABLE ticket (id int, state varchar(10), kind varchar(8) NOT NULL) PARTITION BY LIST (kind);
      CREATE TABLE ticket_a PARTITION OF ticket FOR VALUES IN ('a');
      CREATE TABLE note (tag varchar(5));
      CREATE TABLE note_child () INHERITS (note);
      ${rows.map((r) => `ALTER TABLE ${r.t} ADD CONSTRAINT ${r.n} ${r.d};`).join("\n")}`;
    const planned = await planSchema(target.url, schemaFromSql(printed), engineOptions(target));
    expect(planned.plan.steps.map((s) => s.sql)).toEqual([]);
    expect(planned.catalogCheck?.differences.map(formatDifference)).toEqual([]);
    expect(planned.desired.tables.find((t) => t.name === "ticket")?.constraints.find((c) => c.kind === "CHECK")?.printedFrom).toEqual([rows.find((r) => r.t === "ticket")!.d]);
  });
});

