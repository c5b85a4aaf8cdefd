/**
 * The trust boundary of the builders: `defineSchema` input is checked here, shape first (zod),
 * then cross-references (names that must exist, must be unique, options that exclude each other).
 * Issues carry the property path the user wrote, e.g. `tables[1].columns.userId.references`.
 */
import { z } from "zod";
import { InputError } from "../../errors";
import { Column } from "./columns";
import { isSql } from "./sql";
import type { AnyTable, ColumnSpec, ColumnType, SchemaDefinition } from "./types";

/** One validation problem: where, and what is allowed. */
export interface BuilderIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const MAX_NAME_BYTES = 63;

const identifier = z
  .string({ error: "must be a string" })
  .min(1, { error: "must not be empty" })
  .refine((s) => Buffer.byteLength(s, "utf8") <= MAX_NAME_BYTES, { error: `must be at most ${MAX_NAME_BYTES} bytes (PostgreSQL truncates longer names)` })
  .refine((s) => !s.includes("\0"), { error: "must not contain a NUL byte" });

const sqlExpr = z.custom((v) => isSql(v), { error: "must be a raw expression built with sql`...`" });
const integer = z.custom((v) => (typeof v === "number" && Number.isSafeInteger(v)) || typeof v === "bigint", {
  error: "must be an integer (a safe-integer number or a bigint)",
});
const intIn = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

const columnType: z.ZodType = z.lazy(() =>
  z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("scalar"),
      name: z.enum(["smallint", "integer", "bigint", "smallserial", "serial", "bigserial", "real", "double precision", "boolean", "text", "uuid", "bytea", "date", "interval", "json", "jsonb", "inet", "cidr", "macaddr", "citext", "tsvector"]),
    }),
    z.object({ kind: z.literal("numeric"), precision: intIn(1, 1000).nullable(), scale: intIn(0, 1000).nullable() }),
    z.object({ kind: z.enum(["varchar", "char"]), length: intIn(1, 10485760).nullable() }),
    z.object({ kind: z.enum(["time", "timestamp", "timestamptz"]), precision: intIn(0, 6).nullable() }),
    z.object({ kind: z.literal("enum"), enum: z.object({ schema: identifier, name: identifier }) }),
    z.object({ kind: z.literal("custom"), text: z.string().trim().min(1, { error: "type text must not be empty" }), extension: identifier.nullable() }),
    z.object({ kind: z.literal("array"), element: columnType }),
  ]),
);

const action = z.enum(["no action", "restrict", "cascade", "set null", "set default"]);
const referenceOptions = {
  name: identifier.optional(),
  onDelete: action.optional(),
  onUpdate: action.optional(),
  match: z.enum(["full", "simple"]).optional(),
  deferrable: z.boolean().optional(),
  initiallyDeferred: z.boolean().optional(),
};
const target = z.object({ schema: identifier, name: identifier, builder: z.boolean() }, { error: "must be a table() or { schema?, name }" });
const sequenceOptions = {
  start: integer.optional(),
  increment: integer.optional(),
  minValue: integer.optional(),
  maxValue: integer.optional(),
  cache: integer.optional(),
  cycle: z.boolean().optional(),
};
const check = z.object({ name: identifier.optional(), expression: sqlExpr });
const storage = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: "must be a string, a finite number or a boolean" }))
  .superRefine((options, ctx) => {
    // Checked here rather than as a record key schema so the issue points at the key itself.
    for (const key of Object.keys(options)) {
      if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(key)) {
        ctx.addIssue({ code: "custom", path: [key], message: "storage parameter names are lower-case words, e.g. fillfactor or toast.autovacuum_enabled" });
      }
    }
  });

const columnSpec = z.object(
  {
    type: columnType,
    notNull: z.boolean(),
    default: z.unknown(),
    primaryKey: z.boolean(),
    unique: z.object({ name: identifier.optional(), nullsNotDistinct: z.boolean() }).nullable(),
    checks: z.array(check),
    references: z.object({ ...referenceOptions, table: target, column: identifier }).nullable(),
    generated: sqlExpr.nullable(),
    identity: z.object({ generation: z.enum(["always", "by default"]), options: z.object(sequenceOptions) }).nullable(),
    collate: identifier.nullable(),
    statistics: z.number().int().min(0).max(10000).nullable(),
    storage: z.enum(["plain", "external", "extended", "main"]).nullable(),
    compression: z.enum(["pglz", "lz4"]).nullable(),
    comment: z.string().nullable(),
    renamedFrom: identifier.nullable(),
  },
  { error: "must be a column built with column.<type>()" },
);

const indexKey = z.union([
  identifier,
  z.object({
    column: identifier.optional(),
    expression: sqlExpr.optional(),
    opclass: identifier.optional(),
    order: z.enum(["asc", "desc"]).optional(),
    nulls: z.enum(["first", "last"]).optional(),
    collate: identifier.optional(),
  }),
]);

const tableSpec = z.strictObject(
  {
    kind: z.literal("table", { error: "must be a table built with table()" }),
    schema: identifier,
    name: identifier,
    columns: z.record(z.string(), columnSpec),
    primaryKey: z.union([z.array(identifier).min(1), z.object({ name: identifier.optional(), columns: z.array(identifier).min(1) })]).optional(),
    uniques: z.array(z.object({ name: identifier.optional(), columns: z.array(identifier).min(1), nullsNotDistinct: z.boolean().optional() })).optional(),
    checks: z.array(check).optional(),
    foreignKeys: z.array(z.object({ ...referenceOptions, columns: z.array(identifier).min(1), references: target, referencedColumns: z.array(identifier).min(1) })).optional(),
    exclusions: z.array(z.object({ name: identifier.optional(), definition: sqlExpr })).optional(),
    indexes: z
      .array(
        z.object({
          name: identifier.optional(),
          columns: z.array(indexKey).min(1, { error: "an index needs at least one column or expression" }),
          unique: z.boolean().optional(),
          nullsNotDistinct: z.boolean().optional(),
          method: z.enum(["btree", "hash", "gist", "spgist", "gin", "brin"]).optional(),
          where: sqlExpr.optional(),
          include: z.array(identifier).optional(),
          with: storage.optional(),
          comment: z.string().optional(),
        }),
      )
      .optional(),
    unlogged: z.boolean().optional(),
    storage: storage.optional(),
    comment: z.string().optional(),
    renamedFrom: identifier.optional(),
  },
  { error: "must be a table built with table()" },
);

const definitionSpec = z.strictObject({
  extensions: z.array(z.union([identifier, z.object({ name: identifier, schema: identifier.optional() })])).optional(),
  enums: z
    .array(
      z.object(
        {
          kind: z.literal("enum", { error: "must be an enum built with enumType()" }),
          schema: identifier,
          name: identifier,
          values: z.array(identifier, { error: "must be an array of labels" }).min(1, { error: "an enum needs at least one value" }),
          comment: z.string().optional(),
        },
        { error: "must be an enum built with enumType()" },
      ),
    )
    .optional(),
  sequences: z
    .array(
      z.object(
        {
          kind: z.literal("sequence", { error: "must be a sequence built with sequence()" }),
          schema: identifier,
          name: identifier,
          as: z.enum(["smallint", "integer", "bigint"]).optional(),
          ...sequenceOptions,
          ownedBy: z.object({ table: target, column: identifier }).optional(),
          comment: z.string().optional(),
        },
        { error: "must be a sequence built with sequence()" },
      ),
    )
    .optional(),
  tables: z.array(tableSpec).optional(),
});

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

// Builder objects become the plain data zod checks, keeping the user's property names.
function project(def: unknown): unknown {
  if (!isObject(def)) return def;
  const targetOf = (t: unknown) => (isObject(t) ? { schema: t.schema ?? "public", name: t.name, builder: t.kind === "table" } : t);
  const tables = Array.isArray(def.tables)
    ? def.tables.map((t: unknown) => {
        if (!isObject(t)) return t;
        const columns = isObject(t.columns) ? Object.fromEntries(Object.entries(t.columns).map(([k, c]) => [k, c instanceof Column ? c.spec : c])) : t.columns;
        const foreignKeys = Array.isArray(t.foreignKeys) ? t.foreignKeys.map((f: unknown) => (isObject(f) ? { ...f, references: targetOf(f.references) } : f)) : t.foreignKeys;
        return { ...t, columns, ...(foreignKeys === undefined ? {} : { foreignKeys }) };
      })
    : def.tables;
  const sequences = Array.isArray(def.sequences)
    ? def.sequences.map((q: unknown) => (isObject(q) && isObject(q.ownedBy) ? { ...q, ownedBy: { ...q.ownedBy, table: targetOf(q.ownedBy.table) } } : q))
    : def.sequences;
  return { ...def, ...(tables === undefined ? {} : { tables }), ...(sequences === undefined ? {} : { sequences }) };
}

/** `tables[1].columns.userId.references` from a path array. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (typeof p === "string" && /^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

/** Every problem with a schema definition; empty when it is valid. */
export function validateDefinition(def: unknown): BuilderIssue[] {
  const shape = definitionSpec.safeParse(project(def));
  if (!shape.success) return shape.error.issues.map((i) => ({ path: i.path.filter((p): p is string | number => typeof p !== "symbol"), message: i.message }));
  return crossCheck(def as SchemaDefinition);
}

/**
 * Validates a definition and throws the first problem.
 * @throws {InputError} with `propertyPath` and a message naming the field and what is allowed.
 */
export function assertValidDefinition(def: unknown): asserts def is SchemaDefinition {
  const issues = validateDefinition(def);
  const first = issues[0];
  if (!first) return;
  const path = formatPath(first.path);
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  throw new InputError(`${path || "schema"}: ${first.message}${more}`, { propertyPath: path || undefined });
}

type Path = (string | number)[];
const qname = (schema: string, name: string) => `${schema}.${name}`;
const list = (xs: Iterable<string>) => [...xs].map((x) => JSON.stringify(x)).join(", ");

function crossCheck(def: SchemaDefinition): BuilderIssue[] {
  const issues: BuilderIssue[] = [];
  const add = (path: Path, message: string) => issues.push({ path, message });
  const tables = def.tables ?? [];
  const enums = def.enums ?? [];
  const sequences = def.sequences ?? [];
  const extensions = new Set((def.extensions ?? []).map((e) => (typeof e === "string" ? e : e.name)));
  const tableByName = new Map<string, AnyTable>();
  const enumByName = new Map(enums.map((e) => [qname(e.schema, e.name), e]));
  // Tables, sequences and indexes share one namespace per schema (pg_class); types another.
  const relations = new Map<string, string>();
  const claimRelation = (schema: string, name: string, what: string, path: Path) => {
    const key = qname(schema, name);
    const prior = relations.get(key);
    if (prior) add(path, `${what} ${key} collides with ${prior} of the same name; tables, sequences and indexes need distinct names in a schema`);
    else relations.set(key, `${what} ${key}`);
  };

  const typeNames = new Set<string>();
  enums.forEach((e, i) => {
    const key = qname(e.schema, e.name);
    if (typeNames.has(key)) add(["enums", i, "name"], `enum ${key} is defined twice; enum names must be unique in a schema`);
    typeNames.add(key);
    const seen = new Set<string>();
    e.values.forEach((v, j) => {
      if (seen.has(v)) add(["enums", i, "values", j], `duplicate value ${JSON.stringify(v)}; enum values must be unique`);
      seen.add(v);
    });
  });
  sequences.forEach((q, i) => claimRelation(q.schema, q.name, "sequence", ["sequences", i, "name"]));
  tables.forEach((t, i) => {
    const key = qname(t.schema, t.name);
    if (tableByName.has(key)) add(["tables", i, "name"], `table ${key} is defined twice; table names must be unique in a schema`);
    else tableByName.set(key, t);
    if (typeNames.has(key)) add(["tables", i, "name"], `table ${key} collides with the enum of the same name (a table is also a type)`);
    claimRelation(t.schema, t.name, "table", ["tables", i, "name"]);
  });

  // A reference to a builder table, or to a name that is one, must resolve to a defined column.
  const checkTarget = (path: Path, t: { schema: string; name: string; builder: boolean }, columns: readonly string[]) => {
    const key = qname(t.schema, t.name);
    const found = tableByName.get(key);
    if (!found) {
      if (t.builder) add(path, `references table ${key}, which is not in tables; add it to defineSchema({ tables })`);
      return;
    }
    const known = Object.keys(found.columns);
    columns.forEach((c) => {
      if (!known.includes(c)) add(path, `column ${JSON.stringify(c)} does not exist in ${key}; its columns are ${list(known)}`);
    });
  };

  sequences.forEach((q, i) => {
    if (q.ownedBy) {
      const t = q.ownedBy.table;
      checkTarget(["sequences", i, "ownedBy"], { schema: t.schema ?? "public", name: t.name, builder: "kind" in t }, [q.ownedBy.column]);
    }
  });

  tables.forEach((t, i) => {
    const at = (...rest: Path): Path => ["tables", i, ...rest];
    const cols = Object.keys(t.columns);
    const hasColumn = (path: Path, c: string) => {
      if (!cols.includes(c)) add(path, `column ${JSON.stringify(c)} does not exist in ${qname(t.schema, t.name)}; its columns are ${list(cols)}`);
    };
    if (t.renamedFrom !== undefined && (t.renamedFrom === t.name || tableByName.has(qname(t.schema, t.renamedFrom)))) {
      add(at("renamedFrom"), `renamedFrom ${JSON.stringify(t.renamedFrom)} must be an old name that no table in the definition still has`);
    }
    let primaryKeys = t.primaryKey ? 1 : 0;
    for (const [name, col] of Object.entries(t.columns)) {
      const bytes = Buffer.byteLength(name, "utf8");
      if (bytes === 0 || bytes > MAX_NAME_BYTES) add(at("columns", name), `column names must be 1 to ${MAX_NAME_BYTES} bytes long`);
      checkColumn(col.spec, at("columns", name), add, { enumByName, extensions, cols, name });
      if (col.spec.primaryKey && ++primaryKeys > 1) add(at("columns", name, "primaryKey"), "a table has at most one primary key; use the table's primaryKey option for a composite key");
      if (col.spec.references) {
        checkTarget(at("columns", name, "references"), col.spec.references.table, [col.spec.references.column]);
        checkDeferral(col.spec.references, at("columns", name, "references", "initiallyDeferred"), add);
      }
    }
    if (t.primaryKey) {
      const pk = Array.isArray(t.primaryKey) ? { path: at("primaryKey"), columns: t.primaryKey as readonly string[] } : { path: at("primaryKey", "columns"), columns: (t.primaryKey as { columns: readonly string[] }).columns };
      pk.columns.forEach((c, j) => hasColumn([...pk.path, j], c));
    }
    (t.uniques ?? []).forEach((u, j) => u.columns.forEach((c, k) => hasColumn(at("uniques", j, "columns", k), c)));
    (t.foreignKeys ?? []).forEach((fk, j) => {
      fk.columns.forEach((c, k) => hasColumn(at("foreignKeys", j, "columns", k), c));
      if (fk.referencedColumns.length !== fk.columns.length) add(at("foreignKeys", j, "referencedColumns"), `must name as many columns as columns (${fk.columns.length})`);
      checkDeferral(fk, at("foreignKeys", j, "initiallyDeferred"), add);
      checkTarget(at("foreignKeys", j, "references"), { schema: fk.references.schema ?? "public", name: fk.references.name, builder: "kind" in fk.references }, fk.referencedColumns);
    });
    checkConstraintNames(t, at, add);
    (t.indexes ?? []).forEach((ix, j) => {
      ix.columns.forEach((k, n) => {
        if (typeof k === "string") hasColumn(at("indexes", j, "columns", n), k);
        else if ((k.column === undefined) === (k.expression === undefined)) add(at("indexes", j, "columns", n), "an index key has exactly one of column or expression");
        else if (k.column !== undefined) hasColumn(at("indexes", j, "columns", n, "column"), k.column);
      });
      (ix.include ?? []).forEach((c, n) => hasColumn(at("indexes", j, "include", n), c));
      if (ix.nullsNotDistinct && !ix.unique) add(at("indexes", j, "nullsNotDistinct"), "nullsNotDistinct applies only to unique indexes; set unique: true");
      if (ix.comment !== undefined && ix.name === undefined) add(at("indexes", j, "comment"), "a commented index needs a name; set name");
      if (ix.name !== undefined) claimRelation(t.schema, ix.name, "index", at("indexes", j, "name"));
    });
  });
  return issues;
}

// Without DEFERRABLE, INITIALLY DEFERRED would be silently meaningless; say so instead.
function checkDeferral(o: { deferrable?: boolean; initiallyDeferred?: boolean }, path: Path, add: (path: Path, message: string) => void): void {
  if (o.initiallyDeferred && !o.deferrable) add(path, "initiallyDeferred needs deferrable: true");
}

function checkConstraintNames(t: AnyTable, at: (...rest: Path) => Path, add: (path: Path, message: string) => void): void {
  const seen = new Set<string>();
  const claim = (name: string | undefined, path: Path) => {
    if (name === undefined) return;
    if (seen.has(name)) add(path, `constraint name ${JSON.stringify(name)} is used twice in ${qname(t.schema, t.name)}; constraint names must be unique per table`);
    seen.add(name);
  };
  for (const [name, col] of Object.entries(t.columns)) {
    claim(col.spec.unique?.name, at("columns", name, "unique", "name"));
    col.spec.checks.forEach((c, j) => claim(c.name, at("columns", name, "checks", j, "name")));
    claim(col.spec.references?.name, at("columns", name, "references", "name"));
  }
  if (t.primaryKey && !Array.isArray(t.primaryKey)) claim((t.primaryKey as { name?: string }).name, at("primaryKey", "name"));
  (t.uniques ?? []).forEach((u, j) => claim(u.name, at("uniques", j, "name")));
  (t.checks ?? []).forEach((c, j) => claim(c.name, at("checks", j, "name")));
  (t.foreignKeys ?? []).forEach((f, j) => claim(f.name, at("foreignKeys", j, "name")));
  (t.exclusions ?? []).forEach((x, j) => claim(x.name, at("exclusions", j, "name")));
}

interface ColumnContext {
  enumByName: ReadonlyMap<string, { values: readonly string[] }>;
  extensions: ReadonlySet<string>;
  cols: readonly string[];
  name: string;
}

const SERIALS = new Set(["smallserial", "serial", "bigserial"]);
const INTEGERS = new Set(["smallint", "integer", "bigint"]);

function baseType(t: ColumnType): ColumnType {
  return t.kind === "array" ? baseType(t.element) : t;
}

function checkColumn(c: ColumnSpec, path: Path, add: (path: Path, message: string) => void, ctx: ColumnContext): void {
  const base = baseType(c.type);
  if (base.kind === "enum" && !ctx.enumByName.has(qname(base.enum.schema, base.enum.name))) {
    add([...path, "type"], `uses enum ${qname(base.enum.schema, base.enum.name)}, which is not in enums; add it to defineSchema({ enums })`);
  }
  const extension = base.kind === "scalar" && base.name === "citext" ? "citext" : base.kind === "custom" ? base.extension : null;
  if (extension !== null && !ctx.extensions.has(extension)) add([...path, "type"], `needs the ${extension} extension; add ${JSON.stringify(extension)} to defineSchema({ extensions })`);
  if (base.kind === "numeric" && base.precision !== null && base.scale !== null && base.scale > base.precision) {
    add([...path, "type"], `numeric scale must be between 0 and the precision (${base.precision}); got ${base.scale}`);
  }
  const serial = c.type.kind === "scalar" && SERIALS.has(c.type.name);
  if (c.type.kind === "array" && base.kind === "scalar" && SERIALS.has(base.name)) add([...path, "type"], "serial types cannot be arrays");
  if (c.identity !== null && !(c.type.kind === "scalar" && INTEGERS.has(c.type.name))) add([...path, "identity"], "identity columns must be smallint, integer or bigint");
  const sources = [c.default !== null && "default", c.identity !== null && "identity", c.generated !== null && "generated", serial && "a serial type"].filter(Boolean);
  if (sources.length > 1) add([...path, c.default !== null ? "default" : "generated"], `a column takes its value from one of default, identity, generated or a serial type; this one has ${sources.join(" and ")}`);
  if (c.renamedFrom !== null && (c.renamedFrom === ctx.name || ctx.cols.includes(c.renamedFrom))) {
    add([...path, "renamedFrom"], `renamedFrom ${JSON.stringify(c.renamedFrom)} must be an old name that no column of the table still has`);
  }
  if (c.default !== null && !isSql(c.default)) {
    const problem = checkValue(c.type, c.default.value, ctx);
    if (problem) add([...path, "default"], problem);
  }
}

// Literal defaults must be renderable and, for enums, one of the labels.
function checkValue(type: ColumnType, value: unknown, ctx: ColumnContext): string | null {
  if (isSql(value)) return null;
  if (type.kind === "array") {
    if (!Array.isArray(value)) return "a default of an array column must be an array or a sql`...` expression";
    for (const v of value) {
      const p = checkValue(type.element, v, ctx);
      if (p) return p;
    }
    return null;
  }
  if (type.kind === "scalar" && (type.name === "json" || type.name === "jsonb")) {
    try {
      return JSON.stringify(value) === undefined ? "a json default must be JSON-serializable" : null;
    } catch {
      return "a json default must be JSON-serializable";
    }
  }
  if (type.kind === "enum") {
    const values = ctx.enumByName.get(qname(type.enum.schema, type.enum.name))?.values ?? [];
    return typeof value === "string" && values.includes(value) ? null : `must be one of ${list(values)}`;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "must be a valid Date" : null;
  if (typeof value === "string" || typeof value === "boolean" || typeof value === "bigint") return null;
  if (typeof value === "number") return Number.isFinite(value) ? null : "must be a finite number";
  return "must be a string, number, bigint, boolean, Date or sql`...` expression";
}
