import { describe, expect, it } from "vitest";
import { majors } from "../support/postgres";
import { expectConverges } from "../support/schema";

describe.each(majors())("tables and columns on PostgreSQL %i", (major) => {
  it("creates related tables from an empty database, in one transaction group", async () => {
    const { applied } = await expectConverges(
      major,
      "",
      `CREATE TABLE authors (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email varchar(200) UNIQUE);
       CREATE TABLE books (id serial PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
                           title text NOT NULL DEFAULT 'untitled', price numeric(10,2) CHECK (price >= 0), tags text[]);
       CREATE INDEX books_title_idx ON books (lower(title));
       COMMENT ON TABLE books IS 'Books we sell';`,
    );
    expect(applied.plan.steps.every((s) => s.hazards.length === 0)).toBe(true);
    expect(applied.plan.steps.every((s) => s.transaction === "group")).toBe(true);
    const kinds = applied.plan.steps.map((s) => s.kind);
    expect(kinds.indexOf("createTable")).toBeLessThan(kinds.indexOf("addConstraint"));
  });

  it("adds, alters and drops columns", async () => {
    await expectConverges(
      major,
      `CREATE TABLE t (id int PRIMARY KEY, a varchar(10), b int, gone text); INSERT INTO t VALUES (1, 'x', 2, 'y');`,
      `CREATE TABLE t (id int PRIMARY KEY, a varchar(50) NOT NULL DEFAULT 'z', b bigint, c timestamptz DEFAULT now());`,
    );
  });
});
