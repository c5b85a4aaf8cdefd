// Synthetic desired schemas for the schema benchmark: N tables of 10 columns, 2 secondary indexes
// and 1 foreign key each, emitted as three large SQL strings (tables, indexes, foreign keys) so
// the dev database runs three statements batches, not tens of thousands of round trips.
import { schemaFromSql, type DesiredSchema } from "../../sdk/schema/source/desired";

/** Shape of one synthetic table; the benchmark reports the totals it reads back from the model. */
export const SYNTHETIC_SHAPE = { columns: 10, indexes: 2, foreignKeys: 1 } as const;

/** Zero-padded table name, so name order equals creation order. */
export function tableName(i: number): string {
  return `t${String(i).padStart(5, "0")}`;
}

/**
 * A desired schema of `tables` tables in `public`. Table i references table floor(i/2) (table 0
 * references itself), so the foreign-key graph is a tree: every table is both a parent and a
 * child, and the planner must order every FK after both of its tables exist.
 */
export function syntheticSchema(tables: number): DesiredSchema {
  const create: string[] = [];
  const index: string[] = [];
  const fk: string[] = [];
  for (let i = 0; i < tables; i++) {
    const t = tableName(i);
    create.push(
      `CREATE TABLE ${t} (\n` +
        `  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n` +
        `  parent_id bigint,\n` +
        `  name text NOT NULL,\n` +
        `  email varchar(255),\n` +
        `  status smallint NOT NULL DEFAULT 0,\n` +
        `  amount numeric(12,2),\n` +
        `  is_active boolean NOT NULL DEFAULT true,\n` +
        `  payload jsonb,\n` +
        `  created_at timestamptz NOT NULL DEFAULT now(),\n` +
        `  updated_at timestamptz\n` +
        `);`,
    );
    index.push(`CREATE INDEX ${t}_parent_id_idx ON ${t} (parent_id);`, `CREATE UNIQUE INDEX ${t}_email_key ON ${t} (lower(email));`);
    fk.push(`ALTER TABLE ${t} ADD CONSTRAINT ${t}_parent_fk FOREIGN KEY (parent_id) REFERENCES ${tableName(Math.floor(i / 2))} (id);`);
  }
  return schemaFromSql([create.join("\n"), index.join("\n"), fk.join("\n")], `synthetic-${tables}.sql`);
}
