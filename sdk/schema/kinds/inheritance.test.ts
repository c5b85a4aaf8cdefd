import { describe, expect, it } from "vitest";
import type { ColumnDef, QualifiedName, TableDef } from "../model";
import { column as modelColumn, model, table as modelTable } from "../../../test/support/schema-model";
import { linkPlan, parentsFirst, projectedColumns, relinkForOwnColumns } from "./inheritance";

const q = (name: string): QualifiedName => ({ schema: "public", name });

function column(name: string, extra: Partial<ColumnDef> = {}): ColumnDef {
  return modelColumn(name, "integer", extra);
}

function table(name: string, columns: ColumnDef[], inherits: string[] = []): TableDef {
  return modelTable(name, columns, [], { inherits: inherits.map(q) });
}

const names = (ps: readonly QualifiedName[]) => ps.map((p) => p.name);

describe("linkPlan", () => {
  it("keeps the common prefix, unlinks removed parents and appends new ones", () => {
    const p = linkPlan([q("a"), q("b")], [q("a"), q("c")]);
    expect([names(p.stay), names(p.remove), names(p.add)]).toEqual([["a"], ["b"], ["c"]]);
  });

  it("unlinks and links again a kept parent that must come after a new one (INHERIT appends)", () => {
    const p = linkPlan([q("a"), q("b")], [q("c"), q("a"), q("b")]);
    expect([names(p.stay), names(p.remove), names(p.add)]).toEqual([[], ["a", "b"], ["c", "a", "b"]]);
  });

  it("changes nothing when the parents are the same", () => {
    const p = linkPlan([q("a"), q("b")], [q("a"), q("b")]);
    expect([names(p.stay), p.remove, p.add]).toEqual([["a", "b"], [], []]);
  });
});

describe("projectedColumns", () => {
  it("applies a kept parent's new column, type, default and NOT NULL to the child, and leaves the child's own alone", () => {
    const liveParent = table("p", [column("id"), column("n", { default: "1" })]);
    const desiredParent = table("p", [column("id", { type: "bigint", notNull: true }), column("n", { default: "2" }), column("added", { type: "text", comment: "c" })]);
    const child = table("c", [column("id", { local: false, inheritCount: 1 }), column("n", { local: false, inheritCount: 1, default: "1" }), column("own")], ["p"]);
    const cols = projectedColumns(child, child, linkPlan(child.inherits, child.inherits), model(liveParent, child), model(desiredParent, child));
    expect(cols.map((c) => [c.name, c.type, c.notNull, c.default, c.local, c.inheritCount, c.comment])).toEqual([
      ["id", "bigint", true, null, false, 1, null],
      ["n", "integer", false, "2", false, 1, null],
      ["own", "integer", false, null, true, 0, null],
      ["added", "text", false, null, false, 1, null],
    ]);
  });

  it("leaves out a parent's new column the child declares itself (the child adds it first), and keeps columns of a parent it leaves as its own", () => {
    const parent = table("p", [column("id")]);
    const other = table("o", [column("x")]);
    const liveChild = table("c", [column("id", { local: false, inheritCount: 1 }), column("x", { local: false, inheritCount: 1 })], ["p", "o"]);
    const desiredChild = table("c", [column("id", { local: false, inheritCount: 1 }), column("x"), column("y")], ["p"]);
    const desiredParent = table("p", [column("id"), column("y")]);
    const cols = projectedColumns(liveChild, desiredChild, linkPlan(liveChild.inherits, desiredChild.inherits), model(parent, other, liveChild), model(desiredParent, desiredChild));
    expect(cols.map((c) => [c.name, c.local, c.inheritCount])).toEqual([
      ["id", false, 1],
      ["x", true, 0],
    ]);
  });
});

describe("relinkForOwnColumns", () => {
  const parent = table("p", [column("id"), column("name")]);
  const live = table("c", [column("id", { local: false, inheritCount: 1 }), column("name", { local: false, inheritCount: 1 })], ["p"]);

  it("relinks from the parent whose columns the child now declares, when it declares them all", () => {
    const desired = table("c", [column("id", { inheritCount: 1 }), column("name", { inheritCount: 1 })], ["p"]);
    expect(relinkForOwnColumns(live, desired, model(parent, desired))).toBe(0);
  });

  it("relinks nothing when the child would make a column its own that it does not declare", () => {
    const desired = table("c", [column("id", { local: false, inheritCount: 1 }), column("name", { inheritCount: 1 })], ["p"]);
    expect(relinkForOwnColumns(live, desired, model(parent, desired))).toBe(1);
  });
});

describe("parentsFirst", () => {
  it("orders every parent before its children, over several levels", () => {
    const ordered = parentsFirst([table("a_leaf", [], ["m_mid"]), table("m_mid", [], ["z_root", "b_other"]), table("z_root", []), table("b_other", [])]);
    expect(ordered.map((t) => t.name)).toEqual(["z_root", "b_other", "m_mid", "a_leaf"]);
  });
});
