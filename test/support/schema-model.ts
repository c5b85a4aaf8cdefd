// Hand-written schema models for the pure stages' unit tests (diff, plan, per-kind helpers):
// a column, a constraint and a table with every field at PostgreSQL's default.
import { emptyModel, type ColumnDef, type ConstraintDef, type SchemaModel, type TableDef } from "../../sdk/schema/model";

/** A column of `type` (default `integer`), nullable, no default. */
export function column(name: string, type = "integer", extra: Partial<ColumnDef> = {}): ColumnDef {
  return { name, type, notNull: false, default: null, generated: null, generatedKind: null, notNullConstraint: null, identity: null, collation: null, userType: null, local: true, inheritCount: 0, comment: null, ...extra };
}

/** A validated, enforced, not deferrable constraint; a foreign key when `references` names a table of `public`. */
export function constraint(name: string, kind: ConstraintDef["kind"], definition: string, columns: string[], references: string | null = null): ConstraintDef {
  return {
    name,
    kind,
    definition,
    columns,
    references: references === null ? null : { schema: "public", name: references },
    referencedIndex: references === null ? null : `${references}_pkey`,
    deferrable: false,
    initiallyDeferred: false,
    validated: true,
    enforced: true,
    inheritCount: 0,
    noInherit: false,
    comment: null,
  };
}

/** A plain logged table of `public`. */
export function table(name: string, columns: ColumnDef[], constraints: readonly ConstraintDef[] = [], extra: Partial<TableDef> = {}): TableDef {
  return {
    schema: "public",
    name,
    unlogged: false,
    columns,
    constraints,
    indexes: [],
    partitionIndexes: [],
    replicaIdentity: { kind: "DEFAULT" },
    options: [],
    rowSecurity: false,
    forceRowSecurity: false,
    partitionBy: null,
    partitionOf: null,
    inherits: [],
    comment: null,
    ...extra,
  };
}

/** A model holding `tables` and nothing else. */
export const model = (...tables: TableDef[]): SchemaModel => ({ ...emptyModel(), tables });
