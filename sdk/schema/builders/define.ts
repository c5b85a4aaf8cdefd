import type { Rename } from "../source/rename";
import type { DesiredSchema } from "../source/desired";
import { renderSchema } from "./render";
import type { SchemaDefinition } from "./types";
import { assertValidDefinition } from "./validate";

/** Options of {@link defineSchema}. */
export interface DefineSchemaOptions {
  /** Name of the generated SQL file, shown in errors with a line number. @default "schema.builders.sql" */
  readonly fileName?: string;
}

/**
 * Validates builder definitions and renders them to a {@link DesiredSchema}: one SQL file in
 * dependency order plus the declared renames (tables first, so column renames name the new
 * table). The engine normalizes it exactly like hand-written SQL.
 * @throws {InputError} with `propertyPath` (e.g. `tables[1].columns.userId.references`) when the
 *   definition is invalid; the message names the field and what is allowed.
 */
export function defineSchema(definition: SchemaDefinition, options: DefineSchemaOptions = {}): DesiredSchema {
  assertValidDefinition(definition);
  const renames: Rename[] = [];
  for (const t of definition.tables ?? []) {
    if (t.renamedFrom !== undefined) renames.push({ kind: "table", schema: t.schema, from: t.renamedFrom, to: t.name });
  }
  for (const t of definition.tables ?? []) {
    for (const [name, col] of Object.entries(t.columns)) {
      if (col.spec.renamedFrom !== null) renames.push({ kind: "column", schema: t.schema, table: t.name, from: col.spec.renamedFrom, to: name });
    }
  }
  return {
    files: [{ name: options.fileName ?? "schema.builders.sql", sql: renderSchema(definition) }],
    ...(renames.length > 0 ? { renames } : {}),
  };
}
