import type { CommentTarget } from "../changes";
import type { ColumnDef, ConstraintDef, QualifiedName, SchemaModel, SequenceDef, TableDef, ViewDef } from "../model";
import { childrenOf, partitionsOf } from "../kinds/inheritance";
import { objectKeys } from "../kinds/objects";
import { collationsIn, objectsNamedIn, routinesInExpression } from "../kinds/expressions";

// The graph keys of objects (`table:s.t`, `column:s.t.c`, ...) and what a column, constraint, comment
// or view needs and releases: the vocabulary `dependenciesOf` builds each change's effects from.

export const K = {
  schema: (s: string) => `schema:${s}`,
  extension: (n: string) => `extension:${n}`,
  anyExtension: "extension:*",
  /** What any extension owns (types, functions): released by a column that stops using a user type, dropped by DROP EXTENSION. */
  extensionObjects: "extension-objects:*",
  type: (s: string, n: string) => `type:${s}.${n}`,
  enumValues: (s: string, n: string) => `enumvalues:${s}.${n}`,
  sequence: (s: string, n: string) => `sequence:${s}.${n}`,
  table: (t: QualifiedName) => `table:${t.schema}.${t.name}`,
  column: (t: QualifiedName, c: string) => `column:${t.schema}.${t.name}.${c}`,
  constraint: (t: QualifiedName, c: string) => `constraint:${t.schema}.${t.name}.${c}`,
  index: (s: string, n: string) => `index:${s}.${n}`,
  /** A composite type as columns use it inside other types: released while they are text. */
  typeInUse: (s: string, n: string) => `typeinuse:${s}.${n}`,
  /** The partition bounds of a partitioned table: detached or dropped partitions release theirs before others are attached or created. */
  bounds: (t: QualifiedName) => `bounds:${t.schema}.${t.name}`,
  /** A table's set of columns: settled (added, dropped, retyped) before a child is created or linked to it. */
  shape: (t: QualifiedName) => `shape:${t.schema}.${t.name}`,
  /** A parent's children as they stay: links dropped (NO INHERIT) before the parent's ALTERs, which would reach them. */
  children: (t: QualifiedName) => `children:${t.schema}.${t.name}`,
  /** A column's default set or dropped: a partition's own default comes after its parent's, which reaches it. */
  columnDefault: (t: QualifiedName, c: string) => `default:${t.schema}.${t.name}.${c}`,
  /** A child's links dropped: what it inherited is its own afterwards (droppable, alterable). */
  unlinked: (t: QualifiedName) => `unlinked:${t.schema}.${t.name}`,
  /**
   * A column's NOT NULL as a primary key or an identity holds it (PostgreSQL refuses DROP NOT NULL
   * while they do): their drops release it, DROP NOT NULL drops it.
   */
  notNull: (t: QualifiedName, c: string) => `notnull:${t.schema}.${t.name}.${c}`,
};

// PostgreSQL's ALTER TABLE on a parent reaches its children: a change on a table waits for the
// NO INHERIT of children that leave it, and one that drops or alters what a child inherited waits
// for the child's own NO INHERIT.
export const onParent = (t: QualifiedName) => K.children(t);
export const onInherited = (t: QualifiedName) => [K.children(t), K.unlinked(t)];

/** Table keys of every live partition of `table`, at any depth. */
function partitionTables(live: SchemaModel, table: QualifiedName): string[] {
  return partitionsOf(live, table).flatMap((p) => [K.table(p), ...partitionTables(live, p)]);
}

/**
 * The live sequences OWNED BY `table`'s `column` (any column when undefined) that PostgreSQL drops
 * with it: all but those the plan gives another owner first (whose setSequenceOwner releases the column).
 */
export function sequencesDroppedWith(live: SchemaModel, desired: SchemaModel, table: QualifiedName, column?: string): QualifiedName[] {
  const same = (o: SequenceDef["ownedBy"] | undefined, col: string) => o?.schema === table.schema && o.table === table.name && o.column === col;
  const wanted = sequenceIndex(desired).byName;
  return (sequenceIndex(live).byOwner.get(`${table.schema}.${table.name}`) ?? []).filter((s) => {
    if (column !== undefined && s.ownedBy!.column !== column) return false;
    const d = wanted.get(`${s.schema}.${s.name}`);
    return !d || same(d.ownedBy, s.ownedBy!.column);
  });
}

const sequenceIndexes = new WeakMap<SchemaModel, { byName: Map<string, SequenceDef>; byOwner: Map<string, SequenceDef[]> }>();

// Sequences by name and by owning table, built once per (immutable) model.
export function sequenceIndex(model: SchemaModel): { byName: Map<string, SequenceDef>; byOwner: Map<string, SequenceDef[]> } {
  let index = sequenceIndexes.get(model);
  if (!index) {
    index = { byName: new Map(), byOwner: new Map() };
    for (const s of model.sequences) {
      index.byName.set(`${s.schema}.${s.name}`, s);
      if (!s.ownedBy) continue;
      const key = `${s.ownedBy.schema}.${s.ownedBy.table}`;
      const list = index.byOwner.get(key);
      if (list) list.push(s);
      else index.byOwner.set(key, [s]);
    }
    sequenceIndexes.set(model, index);
  }
  return index;
}

/**
 * Column keys of `column` in every live descendant of `table` that has it: inheritance children
 * and partitions (whose columns are the parent's: PostgreSQL drops or retypes them with it).
 */
export function descendantColumns(live: SchemaModel, table: QualifiedName, column: string, seen = new Set<string>()): string[] {
  const out: string[] = [];
  for (const c of [...childrenOf(live, table), ...partitionsOf(live, table)]) {
    const key = `${c.schema}.${c.name}`;
    if (seen.has(key) || !c.columns.some((x) => x.name === column)) continue;
    seen.add(key);
    out.push(K.column(c, column), ...descendantColumns(live, c, column, seen));
  }
  return out;
}

/** A partition's own default waits for its parent's default change (which PostgreSQL applies to the partitions too). */
export function partitionParentDefault(table: QualifiedName, column: string, desired: SchemaModel): string[] {
  const p = findTable(desired, table)?.partitionOf;
  return p ? [K.columnDefault(p, column)] : [];
}

/** Sequences named in `nextval('...'::regclass)` calls of an expression, resolved against `public`. */
export function sequencesInExpression(expr: string | null): QualifiedName[] {
  if (!expr) return [];
  const out: QualifiedName[] = [];
  for (const m of expr.matchAll(/nextval\('((?:[^']|'')+)'::regclass\)/g)) {
    const parts = splitQualified(m[1]!.replaceAll("''", "'"));
    out.push(parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { schema: "public", name: parts[0]! });
  }
  return out;
}

function splitQualified(text: string): string[] {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ".") {
      parts.push(cur);
      cur = "";
    } else cur += ch.toLowerCase();
  }
  parts.push(cur);
  return parts;
}

export function columnNeeds(table: QualifiedName, c: ColumnDef, desired: SchemaModel): string[] {
  const out = [K.table(table), K.anyExtension];
  if (c.userType) out.push(K.type(c.userType.schema, c.userType.name), K.enumValues(c.userType.schema, c.userType.name));
  for (const s of sequencesInExpression(c.default)) out.push(K.sequence(s.schema, s.name));
  out.push(...routinesInExpression(c.default, desired), ...routinesInExpression(c.generated, desired));
  if (c.collation) out.push(...collationsIn(`COLLATE ${c.collation}`, desired));
  out.push(...objectsNamedIn(c.default, desired), ...objectsNamedIn(c.generated, desired));
  return out;
}

export function columnReleases(c: ColumnDef | undefined, live: SchemaModel): string[] {
  if (!c) return [];
  const out: string[] = [];
  // A default or generated expression may call an extension's function (uuid_generate_v4()).
  if (c.userType || c.default !== null || c.generated !== null) out.push(K.extensionObjects);
  if (c.userType) out.push(K.type(c.userType.schema, c.userType.name));
  for (const s of sequencesInExpression(c.default)) out.push(K.sequence(s.schema, s.name));
  out.push(...routinesInExpression(c.default, live), ...routinesInExpression(c.generated, live));
  if (c.collation) out.push(...collationsIn(`COLLATE ${c.collation}`, live));
  out.push(...objectsNamedIn(c.default, live), ...objectsNamedIn(c.generated, live));
  return out;
}

export function constraintNeeds(table: QualifiedName, c: ConstraintDef, desired: SchemaModel): string[] {
  const out = [K.table(table), ...c.columns.map((col) => K.column(table, col)), ...routinesInExpression(c.kind === "FOREIGN KEY" ? null : c.definition, desired), ...objectsNamedIn(c.definition, desired)];
  if (c.references) {
    out.push(K.table(c.references));
    const ref = findTable(desired, c.references);
    for (const rc of ref?.constraints ?? []) if (rc.kind === "PRIMARY KEY" || rc.kind === "UNIQUE") out.push(K.constraint(c.references, rc.name));
    for (const ri of ref?.indexes ?? []) if (ri.unique) out.push(K.index(c.references.schema, ri.name));
  }
  return out;
}

export function constraintReleases(table: QualifiedName, c: ConstraintDef, live: SchemaModel): string[] {
  const out = [...c.columns.map((col) => K.column(table, col)), ...routinesInExpression(c.kind === "FOREIGN KEY" ? null : c.definition, live), ...objectsNamedIn(c.definition, live)];
  // An exclusion constraint's operator classes, or a check's functions, may be an extension's (btree_gist).
  if (c.kind === "EXCLUDE" || c.kind === "CHECK") out.push(K.extensionObjects);
  // A primary key holds its columns' NOT NULL.
  if (c.kind === "PRIMARY KEY") out.push(...c.columns.map((col) => K.notNull(table, col)));
  if (c.references) {
    // A foreign key to a partitioned table depends on each of its partitions too.
    out.push(K.table(c.references), ...partitionTables(live, c.references));
    const ref = findTable(live, c.references);
    for (const rc of ref?.constraints ?? []) if (rc.kind === "PRIMARY KEY" || rc.kind === "UNIQUE") out.push(K.constraint(c.references, rc.name));
    for (const ri of ref?.indexes ?? []) if (ri.unique) out.push(K.index(c.references.schema, ri.name));
  }
  return out;
}

const tableIndex = new WeakMap<SchemaModel, Map<string, TableDef>>();

// Models are immutable, so each gets one lookup map, built on first use.
export function findTable(model: SchemaModel, t: QualifiedName): TableDef | undefined {
  let index = tableIndex.get(model);
  if (!index) {
    index = new Map(model.tables.map((x) => [`${x.schema}.${x.name}`, x]));
    tableIndex.set(model, index);
  }
  return index.get(`${t.schema}.${t.name}`);
}

const indexOwners = new WeakMap<SchemaModel, Map<string, TableDef>>();

export function ownerOfIndex(model: SchemaModel, schema: string, index: string): TableDef | undefined {
  let owners = indexOwners.get(model);
  if (!owners) {
    owners = new Map(model.tables.flatMap((t) => t.indexes.map((i) => [`${t.schema}.${i.name}`, t] as const)));
    indexOwners.set(model, owners);
  }
  return owners.get(`${schema}.${index}`);
}

export function findColumn(model: SchemaModel, t: QualifiedName, column: string): ColumnDef | undefined {
  return findTable(model, t)?.columns.find((c) => c.name === column);
}

export function commentNeeds(t: CommentTarget): string {
  switch (t.type) {
    case "SCHEMA":
      return K.schema(t.name);
    case "EXTENSION":
      return K.extension(t.name);
    case "TYPE":
      return K.type(t.schema, t.name);
    case "SEQUENCE":
      return K.sequence(t.schema, t.name);
    case "TABLE":
    case "VIEW":
      return K.table(t);
    case "INDEX":
      return K.index(t.schema, t.name);
    case "COLUMN":
      return K.column({ schema: t.schema, name: t.table }, t.column);
    case "CONSTRAINT":
      return K.constraint({ schema: t.schema, name: t.table }, t.constraint);
    case "DOMAIN CONSTRAINT":
      return K.type(t.schema, t.domain);
    case "ATTRIBUTE":
      return K.type(t.schema, t.composite);
    case "OBJECT":
      return objectKeys(t.object)[0]!;
  }
}

export function viewKeys(v: ViewDef): string[] {
  return [K.table(v), ...v.columns.map((c) => K.column(v, c))];
}

export function viewReads(v: ViewDef): string[] {
  return [...v.dependsOn, K.anyExtension, K.extensionObjects];
}

/**
 * Column keys of `table`'s columns named in an index definition's expressions and predicate
 * (`columns` has the plain key columns only): PostgreSQL drops an index with a column its
 * predicate reads, so the index goes first. Matching by name may over-match, which only orders.
 */
export function columnsMentioned(definition: string, table: TableDef | undefined): string[] {
  if (!table) return [];
  const using = definition.indexOf(" USING ");
  const body = using >= 0 ? definition.slice(using) : definition;
  const words = new Set<string>();
  for (const m of body.matchAll(/"((?:[^"]|"")+)"|([A-Za-z_][\w$]*)/g)) words.add(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!);
  return table.columns.filter((c) => words.has(c.name)).map((c) => K.column(table, c.name));
}
