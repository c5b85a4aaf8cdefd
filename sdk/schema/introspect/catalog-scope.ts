/**
 * SQL fragments shared by the catalog queries of introspection: which schemas and objects are in
 * scope. `$1` is the schema scope (text[]) or NULL for every user schema.
 */

/** The namespace alias `nsp` is a user schema in the scope `$1`. */
export const IN_SCOPE = (nsp: string) =>
  `(${nsp}.nspname NOT LIKE 'pg\\_%' AND ${nsp}.nspname <> 'information_schema' AND ($1::text[] IS NULL OR ${nsp}.nspname = ANY($1::text[])))`;

/** The object `oid` of `catalog` does not belong to an extension. */
export const NOT_EXTENSION_MEMBER = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '${catalog}'::regclass AND dep.objid = ${oid} AND dep.deptype = 'e')`;

/**
 * The relation `c` is a managed table: plain and partitioned tables, partitions, and tables in
 * classic inheritance; a table inheriting from a relation that is not a table (a foreign table) is
 * unmanaged.
 */
export const MANAGED_TABLE = `
c.relkind IN ('r', 'p')
AND NOT EXISTS (SELECT 1 FROM pg_inherits inh JOIN pg_class ipc ON ipc.oid = inh.inhparent WHERE inh.inhrelid = c.oid AND ipc.relkind NOT IN ('r', 'p'))`;
