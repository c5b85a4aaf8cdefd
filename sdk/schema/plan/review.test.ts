import { describe, expect, it } from "vitest";
import type { PlanStep } from "./plan";
import { DISPLAY_LINE_MAX, describeLock, displayLines, reviewPlan, stepDuration, stepLock } from "./review";

const books = { schema: "public", name: "books" };
const meta = { sql: ["SELECT 1"], objects: [], hazards: [], transaction: "group", transactional: true, lockTimeoutMs: 3000, statementTimeoutMs: 60000 };
const s = (change: Record<string, unknown>): PlanStep => ({ ...meta, ...change }) as unknown as PlanStep;

describe("stepLock (PostgreSQL's documented lock levels)", () => {
  it.each([
    [{ kind: "addColumn", table: books, column: { name: "x" }, volatileDefault: false }, "ACCESS EXCLUSIVE on public.books (blocks reads and writes)"],
    [{ kind: "createIndex", table: books, index: { name: "i" }, concurrently: false }, "SHARE on public.books (blocks writes)"],
    [{ kind: "createIndex", table: books, index: { name: "i" }, concurrently: true }, "SHARE UPDATE EXCLUSIVE on public.books (blocks other schema changes and VACUUM, not reads or writes)"],
    [{ kind: "validateConstraint", table: books, constraint: "c" }, "SHARE UPDATE EXCLUSIVE on public.books (blocks other schema changes and VACUUM, not reads or writes)"],
    [
      { kind: "addConstraint", table: books, notValid: true, constraint: { name: "fk", kind: "FOREIGN KEY", references: { schema: "public", name: "authors" } } },
      "SHARE ROW EXCLUSIVE on public.books, public.authors (blocks writes)",
    ],
    [{ kind: "setTableOptions", table: books, set: ["fillfactor=70"], reset: ["autovacuum_enabled"] }, "SHARE UPDATE EXCLUSIVE on public.books (blocks other schema changes and VACUUM, not reads or writes)"],
    [{ kind: "setTableOptions", table: books, set: ["user_catalog_table=true"], reset: [] }, "ACCESS EXCLUSIVE on public.books (blocks reads and writes)"],
    [{ kind: "createTable", table: books }, "none (new objects only)"],
    [{ kind: "grantPrivileges", target: {}, grantee: null, privileges: ["SELECT"], withGrantOption: false }, "unknown (not documented for this statement)"],
  ])("%o: %s", (change, expected) => expect(describeLock(stepLock(s(change)))).toBe(expected));
});

describe("stepDuration", () => {
  const sizes = new Map([["public.books", { rows: 5000, bytes: 475136 }]]);

  it("calls catalog-only steps instant and never invents a time for the others", () => {
    expect(stepDuration(s({ kind: "addColumn", table: books, column: { name: "x" }, volatileDefault: false }), sizes)).toBe("instant (catalog only, once the lock is granted)");
    expect(stepDuration(s({ kind: "alterColumnType", table: books, column: "pages", rewrite: true }), sizes)).toBe("unknown (rewrites public.books: ~5000 rows, 464.0 KiB)");
    expect(stepDuration(s({ kind: "validateConstraint", table: books, constraint: "c" }), new Map())).toBe("unknown (scans every row; table size not known)");
    expect(stepDuration(s({ kind: "setNotNull", table: books, column: "x", online: true }), sizes)).toBe("instant (catalog only, once the lock is granted)");
    expect(stepDuration(s({ kind: "setNotNull", table: books, column: "x", online: false }), sizes)).toMatch(/^unknown \(scans public\.books/);
  });
});

describe("displayLines", () => {
  it("keeps short statements whole, ends them with ;, and quotes identifiers only where needed", () => {
    expect(displayLines('ALTER TABLE "public"."books" ADD COLUMN "isbn" text')).toEqual(["ALTER TABLE public.books ADD COLUMN isbn text;"]);
    expect(displayLines('ALTER TABLE "public"."Order" ADD COLUMN "user" text')).toEqual(['ALTER TABLE public."Order" ADD COLUMN "user" text;']);
  });

  it("splits multi-line statements and wraps long lines under Pulumi's display limit", () => {
    const cols = Array.from({ length: 30 }, (_, i) => `column_number_${i} integer`).join(", ");
    const lines = displayLines(`CREATE TABLE t (\n  ${cols}\n)`);
    expect(lines[0]).toBe("CREATE TABLE t (");
    expect(lines.at(-1)).toBe(");");
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(DISPLAY_LINE_MAX);
    expect(lines.join(" ").replace(/\s+/g, " ")).toBe(`CREATE TABLE t ( ${cols} );`);
  });

  it("never leaves a line that is a bare JSON value (Pulumi would show it as data)", () => {
    const lines = displayLines("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\nSELECT\n42\n$$");
    for (const l of lines) expect(() => JSON.parse(l.trim())).toThrow();
    expect(lines).toContain("SELECT 42");
  });
});

describe("reviewPlan", () => {
  it("marks each hazard allowed or not, and gives the rows of the step's table when known", () => {
    const step = s({ kind: "dropColumn", table: books, column: { name: "title" }, rows: { empty: false, estimatedRows: 5000 }, hazards: [{ code: "DATA_LOSS_DROP_COLUMN", message: "drops column public.books.title" }] });
    const [r] = reviewPlan({ steps: [step], unmanaged: [] }, () => false);
    expect(r).toMatchObject({ step: 1, kind: "dropColumn", rows: 5000, hazards: ["DATA_LOSS_DROP_COLUMN: drops column public.books.title (NOT ALLOWED)"] });
    const [ok] = reviewPlan({ steps: [step], unmanaged: [] }, (c) => c === "DATA_LOSS_DROP_COLUMN");
    expect(ok!.hazards).toEqual(["DATA_LOSS_DROP_COLUMN: drops column public.books.title (allowed)"]);
    const [unknown] = reviewPlan({ steps: [s({ kind: "addColumn", table: books, column: { name: "x" }, volatileDefault: false })], unmanaged: [] }, () => true);
    expect(unknown).not.toHaveProperty("rows");
  });
});
