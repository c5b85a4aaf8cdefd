import { describe, expect, it } from "vitest";
import { checkExpression, parseUniqueIndex, referencedColumns } from "./data-probes";
import { formatKey } from "./data-probes-run";

describe("data probe parsing of PostgreSQL's printed definitions", () => {
  it("finds a CHECK's expression, with parentheses and quotes inside", () => {
    expect(checkExpression("CHECK ((price > (0)::numeric))")).toBe("(price > (0)::numeric)");
    expect(checkExpression(`CHECK (((note <> ')'::text) AND ("we)ird" > 0))) NO INHERIT`)).toBe(`((note <> ')'::text) AND ("we)ird" > 0))`);
    expect(checkExpression("EXCLUDE USING gist (c WITH &&)")).toBeNull();
  });

  it("finds a foreign key's referenced columns, past a quoted table name", () => {
    expect(referencedColumns("FOREIGN KEY (a, b) REFERENCES parent(x, y) ON DELETE CASCADE")).toEqual(["x", "y"]);
    expect(referencedColumns(`FOREIGN KEY (a) REFERENCES s."odd(name"("Id, x") MATCH FULL`)).toEqual([`"Id, x"`]);
    expect(referencedColumns("CHECK (a > 0)")).toBeNull();
  });

  it("reads a unique index's keys, NULLS NOT DISTINCT and predicate", () => {
    expect(parseUniqueIndex("CREATE UNIQUE INDEX u ON public.t USING btree (lower(code), b DESC NULLS LAST) WHERE (active AND (b > 0))")).toEqual({
      keys: ["lower(code)", "b"],
      nullsDistinct: true,
      where: "(active AND (b > 0))",
    });
    expect(parseUniqueIndex("CREATE UNIQUE INDEX u ON public.t USING btree (a) INCLUDE (b) NULLS NOT DISTINCT")).toEqual({ keys: ["a"], nullsDistinct: false, where: null });
    expect(parseUniqueIndex("CREATE INDEX i ON public.t USING btree (a)")).toBeNull();
    expect(parseUniqueIndex("CREATE UNIQUE INDEX i ON public.t USING hash (a)")).toBeNull();
  });

  it("formats sample keys PostgreSQL-style, quoting anything that is not a short plain token", () => {
    expect(formatKey(["id"], "[42]")).toBe("(id)=(42)");
    expect(formatKey(["tenant", "Order Id"], '["acme", "a-1"]')).toBe('(tenant, "Order Id")=(acme, a-1)');
    expect(formatKey(["id"], '["x\\u001b[31m\\ny"]')).toBe('(id)=("x\\u001b[31m\\ny")');
    expect(formatKey(["id"], JSON.stringify(["z".repeat(100)]))).toBe(`(id)=("${"z".repeat(64)}…")`);
    expect(formatKey(["id"], "[null]")).toBe("(id)=(NULL)");
    expect(formatKey(["id"], "not json")).toBe("(?)");
  });
});
