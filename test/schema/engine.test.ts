// The schema engine object (ADR 0023): each engine owns its caches, kept connections and dev
// resources; and the desired state's catalogs are read with every normalization and cached beside
// the model, so an apply sharing a plan's cache never normalizes again for its catalog check.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSchemaEngine } from "../../sdk/schema/engine";
import { schemaFromSql } from "../../sdk/schema/source/desired";
import { freshDatabase, majors } from "../support/postgres";
import { engineOptions } from "../support/schema";

const catalogFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".catalogs.json")) : []);

describe.each(majors())("createSchemaEngine on PostgreSQL %i", (major) => {
  const engines = [createSchemaEngine(), createSchemaEngine()];
  const cacheDirs: string[] = [];
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    for (const d of cacheDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const cacheDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), "setpoint-engine-"));
    cacheDirs.push(d);
    return d;
  };

  it("keeps connections per engine, and one engine's close() leaves the other's alone", async () => {
    const db = await freshDatabase(major);
    const [a, b] = engines as [ReturnType<typeof createSchemaEngine>, ReturnType<typeof createSchemaEngine>];
    const desired = schemaFromSql("CREATE TABLE t (id int PRIMARY KEY);");
    const options = engineOptions(db, { keepConnections: true });
    await a.apply(db.url, desired, options);
    expect((await b.plan(db.url, desired, options)).plan.steps).toEqual([]);
    expect([a.keptConnections(), b.keptConnections()]).toEqual([1, 1]);
    await a.close();
    expect([a.keptConnections(), b.keptConnections()]).toEqual([0, 1]);
    // Still usable after close(): it opens what it needs again.
    expect((await a.plan(db.url, desired, options)).plan.steps).toEqual([]);
  });

  it("defaults given to the engine apply to every call, a call's own options win", async () => {
    const db = await freshDatabase(major);
    const engine = createSchemaEngine({ ...engineOptions(db), keepConnections: true });
    engines.push(engine);
    await engine.apply(db.url, schemaFromSql("CREATE TABLE t (id int);"));
    expect(engine.keptConnections()).toBe(1);
    await engine.plan(db.url, schemaFromSql("CREATE TABLE t (id int);"), { keepConnections: false });
    expect(engine.keptConnections()).toBe(1);
  });

  it("reads the desired catalogs with the normalization: an apply from a plan's cache checks without normalizing again", async () => {
    const db = await freshDatabase(major);
    const engine = createSchemaEngine();
    engines.push(engine);
    const desired = schemaFromSql("CREATE TABLE t (id int PRIMARY KEY, v text CHECK (v <> ''));");
    const changes = cacheDir();
    const planned = await engine.plan(db.url, desired, engineOptions(db, { cacheDir: changes }));
    await engine.settled();
    expect(planned.plan.steps.length).toBeGreaterThan(0);
    expect(planned.desiredFromCache).toBe(false);
    expect(catalogFiles(changes)).toHaveLength(1);
    // Applying from that cache (a new process: nothing in memory): the model and its catalogs come from the cache directory.
    engine.forgetCaches();
    const applied = await engine.apply(db.url, desired, engineOptions(db, { cacheDir: changes }));
    expect([applied.desiredFromCache, applied.catalogCheck?.differences]).toEqual([true, []]);
    // A converged target planned with an empty cache: the check runs, so normalization reads them.
    const converged = cacheDir();
    engine.forgetCaches();
    const again = await engine.plan(db.url, desired, engineOptions(db, { cacheDir: converged }));
    await engine.settled();
    expect([again.plan.steps.length, again.desiredFromCache, again.catalogCheck?.differences]).toEqual([0, false, []]);
    expect(catalogFiles(converged)).toHaveLength(1);
  });
});
