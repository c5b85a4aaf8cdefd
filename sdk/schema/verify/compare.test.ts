import { describe, expect, it } from "vitest";
import { compareSnapshots, differingPairs, formatDifference } from "./compare";
import { SNAPSHOT_VERSION, type CatalogRow, type CatalogSnapshot } from "./snapshot";

const PROPS = { pg_class: ["relkind", "relreplident"], pg_attribute: ["atttypid", "position", "attislocal", "attcompression"], pg_namespace: ["nspowner"] };

function snapshot(rows: CatalogRow[], hashes: Record<string, string>, over: Partial<CatalogSnapshot> = {}): CatalogSnapshot {
  return { version: SNAPSHOT_VERSION, serverVersionNum: 170000, schemas: ["public"], hashes, properties: PROPS, rows, ...over };
}
const cls = (identity: string, props: Record<string, unknown>): CatalogRow => ({ catalog: "pg_class", schema: "public", identity, props });
const att = (identity: string, props: Record<string, unknown>): CatalogRow => ({ catalog: "pg_attribute", schema: "public", identity, props });

describe("catalog comparison", () => {
  it("compares only the catalog and schema pairs whose hashes differ, and every pair across server versions", () => {
    const a = snapshot([], { "pg_class|public": "1", "pg_attribute|public": "2" });
    expect(differingPairs(a, snapshot([], { "pg_class|public": "1", "pg_attribute|public": "3" }), ["public"])).toEqual(["pg_attribute|public"]);
    expect(differingPairs(a, snapshot([], { "pg_class|public": "1", "pg_attribute|public": "2" }), ["public"])).toEqual([]);
    expect(differingPairs(a, snapshot([], { "pg_class|public": "1", "pg_attribute|public": "2" }, { serverVersionNum: 180000 }), ["public"])).toEqual([
      "pg_class|public",
      "pg_attribute|public",
    ]);
  });

  it("names catalog, property and object, and tells known differences from errors", () => {
    const expected = snapshot(
      [cls("public.t", { relkind: "r", relreplident: "d" }), att("public.t.a", { atttypid: "text", position: 2, attislocal: false, attcompression: "" })],
      {},
    );
    const actual = snapshot(
      [cls("public.t", { relkind: "r", relreplident: "f" }), att("public.t.a", { atttypid: "text", position: 3, attislocal: true, attcompression: "p" })],
      {},
    );
    const found = compareSnapshots(expected, actual, ["pg_class|public", "pg_attribute|public"]);
    expect(found.map((d) => [d.code, formatDifference(d).split(":")[0]])).toEqual([
      ["UNMODELLED_DIFFERENCE", "UNMODELLED_DIFFERENCE pg_class.relreplident public.t"],
      ["UNMODELLED_DIFFERENCE", "UNMODELLED_DIFFERENCE pg_attribute.attcompression public.t.a"],
      ["KNOWN_DIFFERENCE", "KNOWN_DIFFERENCE pg_attribute.attislocal public.t.a"],
      ["KNOWN_DIFFERENCE", "KNOWN_DIFFERENCE pg_attribute.position public.t.a"],
    ]);
    expect(found[0]).toMatchObject({ catalog: "pg_class", object: "public.t", property: "relreplident", expected: "d", actual: "f" });
  });

  it("reports a relation on one side only once, not each of its columns", () => {
    const expected = snapshot([cls("public.gone", { relkind: "r" }), att("public.gone.a", { atttypid: "int" }), att('public."gone.x".a', { atttypid: "int" })], {});
    const actual = snapshot([cls("public.extra", { relkind: "r" }), att("public.extra.b", { atttypid: "int" }), att('public."gone.x".a', { atttypid: "int" })], {});
    expect(compareSnapshots(expected, actual, ["pg_class|public", "pg_attribute|public"]).map((d) => formatDifference(d))).toEqual([
      "UNMODELLED_DIFFERENCE pg_class public.extra: only on the target",
      "UNMODELLED_DIFFERENCE pg_class public.gone: missing on the target",
    ]);
  });

  it("compares only the properties both servers' catalogs have", () => {
    const expected = snapshot([cls("public.t", { relkind: "r", relreplident: "d" })], {});
    const actual = snapshot([cls("public.t", { relkind: "r", relreplident: "f" })], {}, { properties: { ...PROPS, pg_class: ["relkind"] } });
    expect(compareSnapshots(expected, actual, ["pg_class|public"])).toEqual([]);
  });

  it("tolerates the public schema's owner only", () => {
    const ns = (identity: string, owner: string): CatalogRow => ({ catalog: "pg_namespace", schema: identity, identity, props: { nspowner: owner } });
    const found = compareSnapshots(snapshot([ns("public", "a"), ns("app", "a")], {}), snapshot([ns("public", "b"), ns("app", "b")], {}), ["pg_namespace|public", "pg_namespace|app"]);
    expect(found.map((d) => `${d.code} ${d.object}`)).toEqual(["UNMODELLED_DIFFERENCE app", "KNOWN_DIFFERENCE public"]);
  });
});
