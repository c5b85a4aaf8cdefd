import { dollarQuote, quoteIdent, quoteLiteral, quoteNullableLiteral, quoteQualified } from "../../postgres/quote";
import type { Change, CommentTarget } from "../changes";
import type { ColumnDef, ConstraintDef, IdentityDef, NotNullConstraintDef, QualifiedName, ReplicaIdentity, SequenceDef, TableDef } from "../model";
import { columnsThroughTextSql, withDefaultsAround, commentTargetSql, createSql, dropSql, recreateTypeSql, replaceSql, statisticsTargetSql, triggerEnableSql } from "../kinds/objects";
import { inCreateTable } from "../diff/context";
import { splitIndexDefinition, withConcurrently } from "../index-definition";
import { defaultNotNullName, notNullCheckName } from "../names";
import { grantDefaultPrivilegesSql, grantPrivilegesSql, ownerSql, revokeDefaultPrivilegesSql, revokePrivilegesSql } from "../kinds/privileges";

/**
 * Renders a change to the SQL statements that perform it. Names and user strings go through
 * `sdk/postgres/quote`; types, expressions and constraint/index definitions are PostgreSQL's own
 * canonical text read from the catalog, embedded as they are.
 */
export function render(change: Change): string[] {
  switch (change.kind) {
    case "createSchema":
      return [`CREATE SCHEMA ${quoteIdent(change.schema.name)}`];
    case "dropSchema":
      return [`DROP SCHEMA ${quoteIdent(change.schema.name)}`];
    case "createExtension":
      return [
        `CREATE EXTENSION ${quoteIdent(change.extension.name)} WITH SCHEMA ${quoteIdent(change.extension.schema)} VERSION ${quoteLiteral(change.extension.version)}`,
      ];
    case "dropExtension":
      return [`DROP EXTENSION ${quoteIdent(change.extension.name)}`];
    case "setExtensionSchema":
      return [`ALTER EXTENSION ${quoteIdent(change.extension.name)} SET SCHEMA ${quoteIdent(change.extension.schema)}`];
    case "updateExtension":
      return [`ALTER EXTENSION ${quoteIdent(change.extension.name)} UPDATE TO ${quoteLiteral(change.extension.version)}`];
    case "createEnum":
      return [`CREATE TYPE ${quoteQualified(change.enum.schema, change.enum.name)} AS ENUM (${change.enum.values.map(quoteLiteral).join(", ")})`];
    case "dropEnum":
      return [`DROP TYPE ${quoteQualified(change.enum.schema, change.enum.name)}`];
    case "addEnumValue":
      return [
        `ALTER TYPE ${quoteQualified(change.enum.schema, change.enum.name)} ADD VALUE ${quoteLiteral(change.value)}` +
          (change.before === null ? "" : ` BEFORE ${quoteLiteral(change.before)}`),
      ];
    case "recreateEnum":
      return renderRecreateEnum(change);
    case "createSequence":
      return [`CREATE SEQUENCE ${quoteQualified(change.sequence.schema, change.sequence.name)} ${sequenceOptions(change.sequence)}`];
    case "alterSequence":
      return renderAlterSequence(change.sequence, change.from);
    case "syncSequence": {
      const s = change.sequence;
      // The last value given out, so the next one is past every row's (min for a descending sequence).
      const agg = s.increment.startsWith("-") ? "min" : "max";
      return [
        `SELECT setval(${quoteLiteral(quoteQualified(s.schema, s.name))}::regclass, v) FROM (SELECT ${agg}(${quoteIdent(change.column)}) AS v FROM ${quoteQualified(change.table.schema, change.table.name)}) x WHERE v ${agg === "max" ? ">=" : "<="} ${s.start}`,
      ];
    }
    case "dropSequence":
      return [`DROP SEQUENCE ${quoteQualified(change.sequence.schema, change.sequence.name)}`];
    case "setSequenceOwner": {
      const o = change.sequence.ownedBy;
      const target = o ? `${quoteQualified(o.schema, o.table)}.${quoteIdent(o.column)}` : "NONE";
      return [`ALTER SEQUENCE ${quoteQualified(change.sequence.schema, change.sequence.name)} OWNED BY ${target}`];
    }
    case "renameSequence":
      return [`ALTER SEQUENCE ${quoteQualified(change.sequence.schema, change.sequence.name)} RENAME TO ${quoteIdent(change.to)}`];
    case "createTable":
      return [renderCreateTable(change.table)];
    case "dropTable":
      return [`DROP TABLE ${quoteQualified(change.table.schema, change.table.name)}`];
    case "renameTable":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} RENAME TO ${quoteIdent(change.to)}`];
    case "setTableLogged":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} SET ${change.unlogged ? "UNLOGGED" : "LOGGED"}`];
    case "setTableOptions": {
      const t = quoteQualified(change.table.schema, change.table.name);
      const out: string[] = [];
      if (change.reset.length) out.push(`ALTER TABLE ${t} RESET (${change.reset.map(quoteIdent).join(", ")})`);
      if (change.set.length) out.push(`ALTER TABLE ${t} SET (${change.set.map(renderOption).join(", ")})`);
      return out;
    }
    case "addColumn":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ADD COLUMN ${renderColumn(change.column, change.table.name)}`];
    case "dropColumn":
      return [`ALTER TABLE ${change.only ? "ONLY " : ""}${quoteQualified(change.table.schema, change.table.name)} DROP COLUMN ${quoteIdent(change.column.name)}`];
    case "renameColumn":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} RENAME COLUMN ${quoteIdent(change.from)} TO ${quoteIdent(change.to)}`];
    case "alterColumnType": {
      const t = quoteQualified(change.table.schema, change.table.name);
      const c = quoteIdent(change.column);
      const collate = change.collation ? ` COLLATE ${change.collation}` : "";
      const out: string[] = [];
      if (change.dropDefault) out.push(`ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`);
      out.push(`ALTER TABLE ${t} ALTER COLUMN ${c} TYPE ${change.to}${collate} USING ${c}::${change.to}`);
      if (change.default !== null) out.push(`ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT ${change.default}`);
      return out;
    }
    case "setNotNull": {
      const t = quoteQualified(change.table.schema, change.table.name);
      const c = quoteIdent(change.column);
      // SET NOT NULL gives the constraint its default name; another name, NO INHERIT or NOT VALID need ADD CONSTRAINT.
      const n = change.constraint;
      const plain = !n || (n.validated && !n.noInherit && n.name === defaultNotNullName(change.table.name, change.column));
      const out = [plain ? `ALTER TABLE ${t} ALTER COLUMN ${c} SET NOT NULL` : `ALTER TABLE ${t} ADD ${notNullClause(n, c)}${n.validated ? "" : " NOT VALID"}`];
      // Online, a validated CHECK (c IS NOT NULL) added by earlier steps lets PostgreSQL skip the
      // scan under ACCESS EXCLUSIVE; it has served its purpose once NOT NULL is set.
      if (change.online) out.push(`ALTER TABLE ${t} DROP CONSTRAINT ${quoteIdent(notNullCheckName(change.table.name, change.column))}`);
      return out;
    }
    case "dropNotNull":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ALTER COLUMN ${quoteIdent(change.column)} DROP NOT NULL`];
    case "setDefault":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ALTER COLUMN ${quoteIdent(change.column)} SET DEFAULT ${change.default}`];
    case "dropDefault":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ALTER COLUMN ${quoteIdent(change.column)} DROP DEFAULT`];
    case "addIdentity": {
      const t = quoteQualified(change.table.schema, change.table.name);
      const c = quoteIdent(change.column);
      // Rows already there (a serial or plain column) keep their values: the identity goes on past them.
      const agg = change.identity.increment.startsWith("-") ? "min" : "max";
      return [
        `ALTER TABLE ${t} ALTER COLUMN ${c} ADD ${identityClause(change.identity)}`,
        `SELECT setval(pg_get_serial_sequence(${quoteLiteral(t)}, ${quoteLiteral(change.column)}), v) FROM (SELECT ${agg}(${c}) AS v FROM ${t}) x WHERE v ${agg === "max" ? ">=" : "<="} ${change.identity.start}`,
      ];
    }
    case "alterIdentity": {
      const i = change.identity;
      return [
        `ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ALTER COLUMN ${quoteIdent(change.column)} ` +
          `SET GENERATED ${i.generation} SET INCREMENT BY ${i.increment} SET MINVALUE ${i.min} SET MAXVALUE ${i.max} ` +
          `SET START WITH ${i.start} SET CACHE ${i.cache} SET ${i.cycle ? "CYCLE" : "NO CYCLE"}`,
      ];
    }
    case "dropIdentity":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ALTER COLUMN ${quoteIdent(change.column)} DROP IDENTITY`];
    case "setGeneratedExpression":
      return [
        `ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ALTER COLUMN ${quoteIdent(change.column.name)} SET EXPRESSION AS (${change.column.generated ?? "NULL"})`,
      ];
    case "dropGeneratedExpression":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ALTER COLUMN ${quoteIdent(change.column)} DROP EXPRESSION`];
    case "addConstraint":
      return [
        `ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} ADD ${constraintClause(change.constraint)}${change.notValid ? " NOT VALID" : ""}`,
      ];
    case "validateConstraint":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} VALIDATE CONSTRAINT ${quoteIdent(change.constraint)}`];
    case "dropConstraint":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} DROP CONSTRAINT ${quoteIdent(change.constraint.name)}`];
    case "renameConstraint":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} RENAME CONSTRAINT ${quoteIdent(change.from)} TO ${quoteIdent(change.to)}`];
    case "addConstraintUsingIndex": {
      const c = change.constraint;
      const deferral = c.deferrable ? ` DEFERRABLE INITIALLY ${c.initiallyDeferred ? "DEFERRED" : "IMMEDIATE"}` : "";
      const table = quoteQualified(change.table.schema, change.table.name);
      return [
        ...(change.replaces ? [`ALTER TABLE ${table} DROP CONSTRAINT ${quoteIdent(change.replaces.name)}`] : []),
        `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.kind === "PRIMARY KEY" ? "PRIMARY KEY" : "UNIQUE"} USING INDEX ${quoteIdent(change.index)}${deferral}`,
      ];
    }
    case "createIndex": {
      // pg_get_indexdef prints a partitioned table's index as ON ONLY (the parent alone); built
      // without ONLY, PostgreSQL creates and attaches the partitions' indexes too.
      const { head, name, rest } = splitIndexDefinition(change.index.definition);
      const def = rest.startsWith(" ON ONLY ") ? `${head}${quoteIdent(name)} ON ${rest.slice(" ON ONLY ".length)}` : change.index.definition;
      return [change.concurrently ? withConcurrently(def) : def];
    }
    case "dropIndex":
      return [`DROP INDEX ${change.concurrently ? "CONCURRENTLY " : ""}${quoteQualified(change.schema, change.index.name)}`];
    case "renameIndex":
      return [`ALTER INDEX ${quoteQualified(change.schema, change.from)} RENAME TO ${quoteIdent(change.to)}`];
    case "createView": {
      const v = change.view;
      const options = v.options.length ? ` WITH (${v.options.map(renderOption).join(", ")})` : "";
      return [`CREATE VIEW ${quoteQualified(v.schema, v.name)}${options} AS\n${v.definition}`];
    }
    case "dropView":
      return [`DROP VIEW ${quoteQualified(change.view.schema, change.view.name)}`];
    case "attachPartition":
      return [
        `ALTER TABLE ${quoteQualified(change.parent.schema, change.parent.name)} ATTACH PARTITION ${quoteQualified(change.table.schema, change.table.name)} ${change.bound}`,
      ];
    case "detachPartition":
      return [`ALTER TABLE ${quoteQualified(change.parent.schema, change.parent.name)} DETACH PARTITION ${quoteQualified(change.table.schema, change.table.name)}`];
    case "inherit":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} INHERIT ${quoteQualified(change.parent.schema, change.parent.name)}`];
    case "noInherit":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} NO INHERIT ${quoteQualified(change.parent.schema, change.parent.name)}`];
    case "setRowSecurity": {
      const t = quoteQualified(change.table.schema, change.table.name);
      return [`ALTER TABLE ${t} ${change.enabled ? "ENABLE" : "DISABLE"} ROW LEVEL SECURITY`, `ALTER TABLE ${t} ${change.forced ? "" : "NO "}FORCE ROW LEVEL SECURITY`];
    }
    case "setReplicaIdentity":
      return [`ALTER TABLE ${quoteQualified(change.table.schema, change.table.name)} REPLICA IDENTITY ${replicaIdentityClause(change.identity)}`];
    case "setColumnAttributes": {
      const t = `ALTER TABLE ONLY ${quoteQualified(change.table.schema, change.table.name)}`;
      const col = `ALTER COLUMN ${quoteIdent(change.column)}`;
      const out: string[] = [];
      if (change.statistics !== undefined) out.push(`${t} ${col} SET STATISTICS ${change.statistics ?? -1}`);
      if (change.storage !== undefined) out.push(`${t} ${col} SET STORAGE ${STORAGE_MODES[change.storage] ?? change.storage}`);
      if (change.compression !== undefined) out.push(`${t} ${col} SET COMPRESSION ${change.compression === null ? "DEFAULT" : quoteIdent(change.compression)}`);
      if (change.resetOptions.length) out.push(`${t} ${col} RESET (${change.resetOptions.map(quoteIdent).join(", ")})`);
      if (change.setOptions.length) out.push(`${t} ${col} SET (${change.setOptions.map(renderOption).join(", ")})`);
      return out;
    }
    case "setClusterOn":
      return [`ALTER TABLE ONLY ${quoteQualified(change.table.schema, change.table.name)} ${change.index === null ? "SET WITHOUT CLUSTER" : `CLUSTER ON ${quoteIdent(change.index)}`}`];
    case "attachIndex":
      return [`ALTER INDEX ${quoteQualified(change.parent.schema, change.parentIndex)} ATTACH PARTITION ${quoteQualified(change.table.schema, change.index)}`];
    case "renamePartitionIndex":
      return [renamePartitionIndexSql(change.parent, change.parentIndex, change.table, change.to)];
    case "createObject":
      return createSql(change.object);
    case "dropObject":
      return [dropSql(change.object)];
    case "replaceObject":
      return replaceSql(change.object, change.from);
    case "setDomainDefault": {
      const d = quoteQualified(change.domain.schema, change.domain.name);
      return [change.default === null ? `ALTER DOMAIN ${d} DROP DEFAULT` : `ALTER DOMAIN ${d} SET DEFAULT ${change.default}`];
    }
    case "setDomainNotNull":
      return [`ALTER DOMAIN ${quoteQualified(change.domain.schema, change.domain.name)} ${change.notNull ? "SET" : "DROP"} NOT NULL`];
    case "addDomainConstraint":
      return [
        `ALTER DOMAIN ${quoteQualified(change.domain.schema, change.domain.name)} ADD CONSTRAINT ${quoteIdent(change.constraint.name)} ${change.constraint.definition}${change.notValid ? " NOT VALID" : ""}`,
      ];
    case "validateDomainConstraint":
      return [`ALTER DOMAIN ${quoteQualified(change.domain.schema, change.domain.name)} VALIDATE CONSTRAINT ${quoteIdent(change.constraint)}`];
    case "dropDomainConstraint":
      return [`ALTER DOMAIN ${quoteQualified(change.domain.schema, change.domain.name)} DROP CONSTRAINT ${quoteIdent(change.constraint.name)}`];
    case "alterCompositeType":
      return [`ALTER TYPE ${quoteQualified(change.type.schema, change.type.name)} ${change.actions.join(", ")}`];
    case "setStatisticsTarget":
      return [statisticsTargetSql(change.statistics, change.statistics.target)];
    case "setTriggerEnabled":
      return [triggerEnableSql(change.trigger.schema, change.trigger.table, change.trigger.name, change.trigger.enabled)];
    case "setIndexOptions": {
      const i = quoteQualified(change.table.schema, change.index);
      const out: string[] = [];
      if (change.reset.length) out.push(`ALTER INDEX ${i} RESET (${change.reset.map(quoteIdent).join(", ")})`);
      if (change.set.length) out.push(`ALTER INDEX ${i} SET (${change.set.map(renderOption).join(", ")})`);
      return out;
    }
    case "refreshMaterializedView":
      return [`REFRESH MATERIALIZED VIEW ${quoteQualified(change.view.schema, change.view.name)}`];
    case "recreateType":
      return recreateTypeSql(change);
    case "columnsToText":
    case "columnsFromText":
      return columnsThroughTextSql(change);
    case "comment":
      return [`COMMENT ON ${commentTarget(change.target)} IS ${quoteNullableLiteral(change.comment)}`];
    case "setOwner":
      return [ownerSql(change.target, change.owner)];
    case "grantPrivileges":
      return [grantPrivilegesSql(change.target, change.grantee, change.privileges, change.withGrantOption)];
    case "revokePrivileges":
      return [revokePrivilegesSql(change.target, change.grantee, change.privileges, change.grantOptionOnly)];
    case "grantDefaultPrivileges":
      return [grantDefaultPrivilegesSql(change.target, change.grantee, change.privileges, change.withGrantOption)];
    case "revokeDefaultPrivileges":
      return [revokeDefaultPrivilegesSql(change.target, change.grantee, change.privileges, change.grantOptionOnly)];
    default:
      return assertNever(change);
  }
}

/** Exhaustiveness guard for switches over discriminated unions. */
export function assertNever(x: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(x)}`);
}

/** `CREATE TABLE` with columns and the constraints {@link inCreateTable} allows. */
export function renderCreateTable(table: TableDef): string {
  const constraints = table.constraints.filter(inCreateTable).map((c) => `  ${constraintClause(c)}`);
  const options = table.options.length ? ` WITH (${table.options.map(renderOption).join(", ")})` : "";
  const partitionBy = table.partitionBy ? ` PARTITION BY ${table.partitionBy}` : "";
  const name = quoteQualified(table.schema, table.name);
  if (table.partitionOf) {
    // A partition's columns come from its parent; only its own constraints are listed.
    const parent = quoteQualified(table.partitionOf.schema, table.partitionOf.name);
    const own = constraints.length ? ` (\n${constraints.join(",\n")}\n)` : "";
    return `CREATE ${table.unlogged ? "UNLOGGED " : ""}TABLE ${name} PARTITION OF ${parent}${own} ${table.partitionOf.bound}${partitionBy}${options}`;
  }
  // A child lists its own columns (also those merged with a parent's); the rest come from its parents.
  const parts = [...table.columns.filter((c) => c.local || table.inherits.length === 0).map((c) => `  ${renderColumn(c, table.name)}`), ...constraints];
  const inherits = table.inherits.length ? ` INHERITS (${table.inherits.map((p) => quoteQualified(p.schema, p.name)).join(", ")})` : "";
  const body = parts.length ? `(\n${parts.join(",\n")}\n)` : "()";
  return `CREATE ${table.unlogged ? "UNLOGGED " : ""}TABLE ${name} ${body}${inherits}${partitionBy}${options}`;
}

/**
 * A column definition as in `CREATE TABLE` / `ADD COLUMN` of `table`. A NOT NULL constraint
 * (PostgreSQL 18) under the name PostgreSQL gives it anyway (`<table>_<column>_not_null`) is
 * written plainly, as users write it.
 */
export function renderColumn(c: ColumnDef, table: string): string {
  let sql = `${quoteIdent(c.name)} ${c.type}`;
  if (c.collation) sql += ` COLLATE ${c.collation}`;
  if (c.generated !== null) sql += ` GENERATED ALWAYS AS (${c.generated}) ${c.generatedKind === "VIRTUAL" ? "VIRTUAL" : "STORED"}`;
  if (c.identity) sql += ` ${identityClause(c.identity)}`;
  if (c.default !== null) sql += ` DEFAULT ${c.default}`;
  // A NOT NULL NOT VALID cannot be declared in CREATE TABLE: the diff adds it afterwards.
  const named = c.notNullConstraint && (c.notNullConstraint.noInherit || c.notNullConstraint.name !== defaultNotNullName(table, c.name));
  if (c.notNull && c.notNullConstraint && named) sql += c.notNullConstraint.validated ? ` ${notNullClause(c.notNullConstraint, "")}` : "";
  else if (c.notNull) sql += " NOT NULL";
  return sql;
}

/** `CONSTRAINT name NOT NULL [column] [NO INHERIT]` (PostgreSQL 18): the column is named in ALTER TABLE ADD, not in a column definition. */
function notNullClause(n: NotNullConstraintDef, quotedColumn: string): string {
  return `CONSTRAINT ${quoteIdent(n.name)} NOT NULL${quotedColumn ? ` ${quotedColumn}` : ""}${n.noInherit ? " NO INHERIT" : ""}`;
}

function replicaIdentityClause(r: ReplicaIdentity): string {
  return r.kind === "INDEX" ? `USING INDEX ${quoteIdent(r.index)}` : r.kind;
}

// The partition's index attached to the parent's index is found by the attachment, not by name:
// PostgreSQL chose the name when it built it.
function renamePartitionIndexSql(parent: QualifiedName, parentIndex: string, table: QualifiedName, to: string): string {
  const body = `DECLARE n name;
BEGIN
  SELECT c.relname INTO n FROM pg_inherits h JOIN pg_index i ON i.indexrelid = h.inhrelid JOIN pg_class c ON c.oid = h.inhrelid
   WHERE h.inhparent = ${quoteLiteral(quoteQualified(parent.schema, parentIndex))}::regclass AND i.indrelid = ${quoteLiteral(quoteQualified(table.schema, table.name))}::regclass;
  IF n IS DISTINCT FROM ${quoteLiteral(to)} THEN
    EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', ${quoteLiteral(table.schema)}, n, ${quoteLiteral(to)});
  END IF;
END`;
  return `DO ${dollarQuote(body)}`;
}

/** `CONSTRAINT name <definition>` with deferral as PostgreSQL prints it inside the definition. */
export function constraintClause(c: ConstraintDef): string {
  return `CONSTRAINT ${quoteIdent(c.name)} ${c.definition.replace(/ NOT VALID$/, "")}`;
}

function identityClause(i: IdentityDef): string {
  return (
    `GENERATED ${i.generation} AS IDENTITY (START WITH ${i.start} INCREMENT BY ${i.increment} ` +
    `MINVALUE ${i.min} MAXVALUE ${i.max} CACHE ${i.cache}${i.cycle ? " CYCLE" : ""})`
  );
}

const TYPE_WIDTH: Record<string, number> = { smallint: 1, integer: 2, bigint: 3 };

/**
 * ALTER SEQUENCE to new options. PostgreSQL refuses bounds that exclude the current value; when
 * the bounds change, the sequence first takes both ranges (and the wider type), a current value
 * outside the new range restarts at the new START, then the new options are set. All in the
 * step's transaction (the setval goes to the sequence's new storage, so it rolls back with it).
 */
function renderAlterSequence(s: SequenceDef, from: SequenceDef): string[] {
  const seq = quoteQualified(s.schema, s.name);
  const last = `ALTER SEQUENCE ${seq} ${sequenceOptions(s)}`;
  if (s.min === from.min && s.max === from.max && s.dataType === from.dataType) return [last];
  const big = (x: string) => BigInt(x);
  const min = big(s.min) < big(from.min) ? s.min : from.min;
  const max = big(s.max) > big(from.max) ? s.max : from.max;
  const type = (TYPE_WIDTH[s.dataType] ?? 3) >= (TYPE_WIDTH[from.dataType] ?? 3) ? s.dataType : from.dataType;
  return [
    `ALTER SEQUENCE ${seq} AS ${type} MINVALUE ${min} MAXVALUE ${max}`,
    `SELECT setval(${quoteLiteral(seq)}::regclass, ${s.start}, false) FROM ${seq} WHERE last_value < ${s.min} OR last_value > ${s.max}`,
    last,
  ];
}

function sequenceOptions(s: SequenceDef): string {
  return (
    `AS ${s.dataType} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} ` +
    `START WITH ${s.start} CACHE ${s.cache} ${s.cycle ? "CYCLE" : "NO CYCLE"}`
  );
}

// Storage parameters come from pg_class.reloptions as name=value; values are re-quoted as literals.
function renderOption(opt: string): string {
  const eq = opt.indexOf("=");
  return `${quoteIdent(opt.slice(0, eq))} = ${quoteLiteral(opt.slice(eq + 1))}`;
}

function renderRecreateEnum(change: Extract<Change, { kind: "recreateEnum" }>): string[] {
  const e = change.enum;
  const type = quoteQualified(e.schema, e.name);
  const oldName = `${e.name}`.slice(0, 40) + "_setpoint_old";
  const out = [
    `ALTER TYPE ${type} RENAME TO ${quoteIdent(oldName)}`,
    `CREATE TYPE ${type} AS ENUM (${e.values.map(quoteLiteral).join(", ")})`,
  ];
  for (const col of change.columns) {
    if (col.inherited) continue;
    const c = quoteIdent(col.column);
    const target = col.array ? `${type}[]` : type;
    out.push(`ALTER TABLE ${quoteQualified(col.table.schema, col.table.name)} ALTER COLUMN ${c} TYPE ${target} USING ${c}::text${col.array ? "[]" : ""}::${target}`);
  }
  out.push(`DROP TYPE ${quoteQualified(e.schema, oldName)}`);
  return withDefaultsAround(change.columns, out);
}

function commentTarget(t: CommentTarget): string {
  switch (t.type) {
    case "SCHEMA":
    case "EXTENSION":
      return `${t.type} ${quoteIdent(t.name)}`;
    case "TYPE":
    case "SEQUENCE":
    case "TABLE":
    case "INDEX":
    case "VIEW":
      return `${t.type} ${quoteQualified(t.schema, t.name)}`;
    case "COLUMN":
      return `COLUMN ${quoteQualified(t.schema, t.table)}.${quoteIdent(t.column)}`;
    case "CONSTRAINT":
      return `CONSTRAINT ${quoteIdent(t.constraint)} ON ${quoteQualified(t.schema, t.table)}`;
    case "DOMAIN CONSTRAINT":
      return `CONSTRAINT ${quoteIdent(t.constraint)} ON DOMAIN ${quoteQualified(t.schema, t.domain)}`;
    case "ATTRIBUTE":
      return `COLUMN ${quoteQualified(t.schema, t.composite)}.${quoteIdent(t.attribute)}`;
    case "OBJECT":
      return commentTargetSql(t.object);
    default:
      return assertNever(t);
  }
}

/** `attstorage` letters as `SET STORAGE` names them. */
const STORAGE_MODES: Readonly<Record<string, string>> = { p: "PLAIN", e: "EXTERNAL", m: "MAIN", x: "EXTENDED" };
