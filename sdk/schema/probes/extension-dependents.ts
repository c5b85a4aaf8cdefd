import type { ClientBase } from "pg";
import { SetpointError } from "../../errors";
import type { Change } from "../changes";

/** An object outside the managed schemas that uses an extension the plan drops. */
export interface ExtensionDependent {
  readonly extension: string;
  /** `pg_describe_object` text, e.g. `table other.t column c`. */
  readonly object: string;
}

/**
 * Raised at plan time, before anything runs, when the desired state drops an extension that
 * objects outside the managed schemas still use: the plan may not touch them, and PostgreSQL
 * refuses to drop the extension while they exist.
 */
export class ExtensionInUseError extends SetpointError {
  readonly dependents: readonly ExtensionDependent[];

  constructor(dependents: readonly ExtensionDependent[]) {
    super(
      "EXTENSION_IN_USE",
      `the plan was refused before anything ran: it drops extension(s) that objects outside the managed schemas use:\n` +
        dependents.map((d) => `  - ${d.extension}: used by ${d.object}`).join("\n") +
        "\nKeep the extension in the desired schema, or change or drop those objects first.",
    );
    this.dependents = dependents;
  }
}

// Objects that depend on an extension's members, are not themselves part of an extension, and lie
// in a schema outside $2 (what the plan manages: those it drops or changes itself).
const DEPENDENTS_SQL = `
SELECT DISTINCT e.extname AS extension, pg_describe_object(d.classid, d.objid, d.objsubid) AS object
FROM pg_extension e
JOIN pg_depend m ON m.refclassid = 'pg_extension'::regclass AND m.refobjid = e.oid AND m.deptype = 'e'
JOIN pg_depend d ON d.refclassid = m.classid AND d.refobjid = m.objid AND d.deptype IN ('n', 'a')
CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) io
WHERE e.extname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = d.classid AND x.objid = d.objid AND x.deptype = 'e')
  AND io.schema IS NOT NULL AND io.schema <> ALL($2::text[]) AND io.schema NOT LIKE 'pg\\_%' AND io.schema <> 'information_schema'
ORDER BY 1, 2`;

/**
 * Objects outside `managedSchemas` that use an extension `changes` drop (found through pg_depend;
 * those in managed schemas are the plan's to drop or keep).
 */
export async function findExtensionDependents(client: ClientBase, changes: readonly Change[], managedSchemas: readonly string[]): Promise<ExtensionDependent[]> {
  const dropped = changes.flatMap((c) => (c.kind === "dropExtension" ? [c.extension.name] : []));
  if (dropped.length === 0) return [];
  const { rows } = await client.query<ExtensionDependent>(DEPENDENTS_SQL, [dropped, managedSchemas]);
  return rows;
}
