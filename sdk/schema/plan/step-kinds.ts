import type { Change, ChangeKind } from "../changes";
import { keyOf, type QualifiedName } from "../model";

/**
 * What each kind of change is as a step, in one table read by the plan (transaction mode, long
 * statement timeout) and the review (lock, work): every kind has its row, or the table does not
 * type-check. The SQL of each kind is `render.ts`.
 */

/** PostgreSQL's table-level lock modes, weakest first (see "Explicit Locking" in its documentation). */
export const LOCK_LEVELS = [
  "ACCESS SHARE",
  "ROW SHARE",
  "ROW EXCLUSIVE",
  "SHARE UPDATE EXCLUSIVE",
  "SHARE",
  "SHARE ROW EXCLUSIVE",
  "EXCLUSIVE",
  "ACCESS EXCLUSIVE",
] as const;

/** One of {@link LOCK_LEVELS}. */
export type LockLevel = (typeof LOCK_LEVELS)[number];

/**
 * The lock a step takes on existing tables: `none` when it only creates new objects or changes
 * non-table objects, `null` when the documentation states no level for the statement form.
 */
export interface StepLock {
  readonly level: LockLevel | "none" | null;
  /** `schema.table` keys of the existing tables locked. */
  readonly tables: readonly string[];
  /** What the level means for traffic. */
  readonly blocks: string;
}

/**
 * How a step's running time scales: `catalog` changes only catalog rows (milliseconds once the lock
 * is granted); `scan` reads every row of its tables; `rewrite` writes a new copy of them; `index`
 * sorts them into a new index.
 */
export type StepWork = "catalog" | "scan" | "rewrite" | "index";

/**
 * How a step runs: `group` steps that follow each other share one transaction; an `own` step
 * commits what came before and runs in a transaction of its own (so the locks of earlier steps are
 * released, e.g. before validating a NOT VALID constraint); `none` runs outside any transaction
 * (CONCURRENTLY, ALTER TYPE ... ADD VALUE).
 */
export type TransactionMode = "group" | "own" | "none";

/** A row of {@link STEP_KINDS}; absent fields are `group`, not long, `catalog`. */
interface StepKind<C extends Change> {
  /** The lock, from PostgreSQL's documented lock level of the statement form. */
  readonly lock: (c: C) => StepLock;
  readonly transaction?: (c: C) => TransactionMode;
  /** Runs under the long statement timeout (scans, rewrites, index builds). */
  readonly long?: (c: C) => boolean;
  readonly work?: (c: C) => StepWork;
}

const blocksOf = (level: StepLock["level"]): string => {
  switch (level) {
    case "ACCESS EXCLUSIVE":
      return "blocks reads and writes";
    case "EXCLUSIVE":
    case "SHARE ROW EXCLUSIVE":
    case "SHARE":
      return "blocks writes";
    case "SHARE UPDATE EXCLUSIVE":
      return "blocks other schema changes and VACUUM, not reads or writes";
    case "ROW EXCLUSIVE":
    case "ROW SHARE":
    case "ACCESS SHARE":
      return "blocks only ACCESS EXCLUSIVE (DDL that rewrites or drops)";
    case "none":
      return "no lock on existing tables";
    case null:
      return "lock level not documented for this statement";
  }
};

const lock = (level: StepLock["level"], ...tables: (QualifiedName | string)[]): StepLock => ({
  level,
  tables: [...new Set(tables.map((t) => (typeof t === "string" ? t : keyOf(t))))],
  blocks: blocksOf(level),
});

// Storage parameters PostgreSQL changes under SHARE UPDATE EXCLUSIVE (ALTER TABLE ... SET): the rest take ACCESS EXCLUSIVE.
const LIGHT_TABLE_OPTION = /^(fillfactor|parallel_workers|autovacuum_\w+|toast\.\w+|toast_tuple_target|vacuum_truncate|vacuum_index_cleanup|log_autovacuum_min_duration)\b/;

const NONE = () => lock("none");
const UNDOCUMENTED = () => lock(null);
const EXCLUSIVE = () => lock("ACCESS EXCLUSIVE");
const ON_TABLE = (c: { table: QualifiedName }) => lock("ACCESS EXCLUSIVE", c.table);
const ALONE = (): TransactionMode => "none";
const OWN = (): TransactionMode => "own";
const ALWAYS = () => true;
const REWRITE = (): StepWork => "rewrite";
const SCAN = (): StepWork => "scan";
const COLUMNS = (c: { columns: readonly { table: QualifiedName }[] }) => lock("ACCESS EXCLUSIVE", ...c.columns.map((x) => x.table));
const COLUMNS_WORK = (c: { columns: readonly unknown[] }): StepWork => (c.columns.length > 0 ? "rewrite" : "catalog");

type GenericObject = Extract<Change, { kind: "createObject" }>["object"];

// CREATE TRIGGER: SHARE ROW EXCLUSIVE; DROP TRIGGER is not documented. A materialized view is
// created new; other generic objects lock no table, their drop or replacement is not documented.
function objectLock(object: GenericObject, kind: "createObject" | "dropObject" | "replaceObject"): StepLock {
  switch (object.kind) {
    case "trigger":
      return kind === "dropObject" ? lock(null) : lock("SHARE ROW EXCLUSIVE", { schema: object.schema, name: object.table });
    case "materialized view":
      return kind === "createObject" ? lock("none") : lock("ACCESS EXCLUSIVE", object);
    case "function":
    case "procedure":
    case "aggregate":
    case "domain":
    case "composite type":
    case "range type":
      return kind === "createObject" ? lock("none") : lock(null);
    case "policy":
    case "statistics":
    case "collation":
    case "text search dictionary":
    case "text search configuration":
    case "operator":
      return lock(null);
  }
}

/**
 * Every change kind as a step. Lock levels: `ALTER TABLE` takes ACCESS EXCLUSIVE unless the form is
 * documented otherwise (ADD FOREIGN KEY: SHARE ROW EXCLUSIVE; VALIDATE CONSTRAINT, ATTACH PARTITION
 * (on the parent), some storage parameters: SHARE UPDATE EXCLUSIVE); `CREATE INDEX` SHARE,
 * `CONCURRENTLY` SHARE UPDATE EXCLUSIVE; `DROP TABLE`, `DROP INDEX` and `REFRESH MATERIALIZED VIEW`
 * ACCESS EXCLUSIVE; `CREATE TRIGGER` and `ALTER TABLE ... ENABLE/DISABLE TRIGGER` SHARE ROW EXCLUSIVE.
 */
export const STEP_KINDS: { readonly [K in ChangeKind]: StepKind<Extract<Change, { kind: K }>> } = {
  createSchema: { lock: NONE },
  dropSchema: { lock: EXCLUSIVE },
  createExtension: { lock: NONE },
  dropExtension: { lock: EXCLUSIVE },
  updateExtension: { lock: UNDOCUMENTED },
  setExtensionSchema: { lock: UNDOCUMENTED },
  createEnum: { lock: NONE },
  dropEnum: { lock: UNDOCUMENTED },
  // A value added in a transaction cannot be used until it commits: run it alone.
  addEnumValue: { lock: UNDOCUMENTED, transaction: ALONE },
  recreateEnum: { lock: COLUMNS, long: ALWAYS, work: COLUMNS_WORK },
  createSequence: { lock: NONE },
  dropSequence: { lock: EXCLUSIVE },
  alterSequence: { lock: UNDOCUMENTED },
  syncSequence: { lock: (c) => lock("ACCESS SHARE", c.table), work: SCAN },
  setSequenceOwner: { lock: UNDOCUMENTED },
  renameSequence: { lock: UNDOCUMENTED },
  createTable: { lock: NONE },
  dropTable: { lock: ON_TABLE },
  renameTable: { lock: ON_TABLE },
  setTableLogged: { lock: ON_TABLE, long: ALWAYS, work: REWRITE },
  setTableOptions: { lock: (c) => lock([...c.set, ...c.reset].every((o) => LIGHT_TABLE_OPTION.test(o)) ? "SHARE UPDATE EXCLUSIVE" : "ACCESS EXCLUSIVE", c.table) },
  addColumn: { lock: ON_TABLE, long: (c) => c.volatileDefault, work: (c) => (c.volatileDefault ? "rewrite" : "catalog") },
  dropColumn: { lock: ON_TABLE },
  renameColumn: { lock: ON_TABLE },
  // Online: a validated CHECK (IS NOT NULL) lets PostgreSQL skip the scan.
  setNotNull: { lock: ON_TABLE, transaction: OWN, long: (c) => !c.online, work: (c) => (c.online ? "catalog" : "scan") },
  dropNotNull: { lock: ON_TABLE },
  setDefault: { lock: ON_TABLE },
  dropDefault: { lock: ON_TABLE },
  addIdentity: { lock: ON_TABLE },
  alterIdentity: { lock: ON_TABLE },
  dropIdentity: { lock: ON_TABLE },
  setGeneratedExpression: { lock: ON_TABLE, long: ALWAYS, work: REWRITE },
  dropGeneratedExpression: { lock: ON_TABLE },
  addConstraint: {
    lock: (c) => (c.constraint.kind === "FOREIGN KEY" ? lock("SHARE ROW EXCLUSIVE", c.table, ...(c.constraint.references ? [c.constraint.references] : [])) : lock("ACCESS EXCLUSIVE", c.table)),
    transaction: (c) => (c.notValid ? "own" : "group"),
    long: (c) => !c.notValid,
    work: (c) => (c.notValid ? "catalog" : c.constraint.kind === "PRIMARY KEY" || c.constraint.kind === "UNIQUE" || c.constraint.kind === "EXCLUDE" ? "index" : "scan"),
  },
  validateConstraint: { lock: (c) => lock("SHARE UPDATE EXCLUSIVE", c.table), transaction: OWN, long: ALWAYS, work: SCAN },
  dropConstraint: { lock: ON_TABLE },
  renameConstraint: { lock: ON_TABLE },
  addConstraintUsingIndex: { lock: ON_TABLE },
  createIndex: {
    lock: (c) => lock(c.concurrently ? "SHARE UPDATE EXCLUSIVE" : "SHARE", c.table),
    transaction: (c) => (c.concurrently ? "none" : "group"),
    long: ALWAYS,
    work: () => "index",
  },
  dropIndex: { lock: (c) => lock(c.concurrently ? "SHARE UPDATE EXCLUSIVE" : "ACCESS EXCLUSIVE"), transaction: (c) => (c.concurrently ? "none" : "group") },
  renameIndex: { lock: () => lock("SHARE UPDATE EXCLUSIVE") },
  setIndexOptions: { lock: UNDOCUMENTED },
  createView: { lock: (c) => lock("ACCESS EXCLUSIVE", c.view) },
  dropView: { lock: (c) => lock("ACCESS EXCLUSIVE", c.view) },
  // SHARE UPDATE EXCLUSIVE on the parent; the table attached takes ACCESS EXCLUSIVE.
  attachPartition: { lock: ON_TABLE, work: SCAN },
  detachPartition: { lock: (c) => lock("ACCESS EXCLUSIVE", c.parent, c.table) },
  inherit: { lock: ON_TABLE },
  noInherit: { lock: ON_TABLE },
  setRowSecurity: { lock: ON_TABLE },
  setReplicaIdentity: { lock: ON_TABLE },
  // SET STATISTICS and SET (n_distinct …) take SHARE UPDATE EXCLUSIVE; SET STORAGE and SET COMPRESSION ACCESS EXCLUSIVE (catalog only, no rewrite).
  setColumnAttributes: { lock: (c) => lock(c.storage !== undefined || c.compression !== undefined ? "ACCESS EXCLUSIVE" : "SHARE UPDATE EXCLUSIVE", c.table) },
  setClusterOn: { lock: (c) => lock("SHARE UPDATE EXCLUSIVE", c.table) },
  // Not in the documented table of lock levels: said as unknown rather than guessed.
  attachIndex: { lock: UNDOCUMENTED },
  renamePartitionIndex: { lock: () => lock("SHARE UPDATE EXCLUSIVE") },
  createObject: {
    lock: (c) => objectLock(c.object, c.kind),
    long: (c) => c.object.kind === "materialized view",
    work: (c) => (c.object.kind === "materialized view" ? "rewrite" : "catalog"),
  },
  dropObject: { lock: (c) => objectLock(c.object, c.kind) },
  replaceObject: { lock: (c) => objectLock(c.object, c.kind) },
  setDomainDefault: { lock: UNDOCUMENTED },
  setDomainNotNull: { lock: UNDOCUMENTED, long: ALWAYS },
  addDomainConstraint: { lock: UNDOCUMENTED, transaction: (c) => (c.notValid ? "own" : "group"), long: (c) => !c.notValid },
  validateDomainConstraint: { lock: UNDOCUMENTED, transaction: OWN, long: ALWAYS },
  dropDomainConstraint: { lock: UNDOCUMENTED },
  alterCompositeType: { lock: UNDOCUMENTED },
  setStatisticsTarget: { lock: UNDOCUMENTED },
  setTriggerEnabled: { lock: (c) => lock("SHARE ROW EXCLUSIVE", { schema: c.trigger.schema, name: c.trigger.table }) },
  refreshMaterializedView: { lock: (c) => lock("ACCESS EXCLUSIVE", c.view), long: ALWAYS, work: REWRITE },
  recreateType: { lock: COLUMNS, long: ALWAYS, work: COLUMNS_WORK },
  columnsToText: { lock: COLUMNS, long: ALWAYS, work: COLUMNS_WORK },
  columnsFromText: { lock: COLUMNS, long: ALWAYS, work: COLUMNS_WORK },
  alterColumnType: { lock: ON_TABLE, long: (c) => c.rewrite, work: (c) => (c.rewrite ? "rewrite" : "catalog") },
  comment: { lock: UNDOCUMENTED },
  setOwner: { lock: UNDOCUMENTED },
  grantPrivileges: { lock: UNDOCUMENTED },
  revokePrivileges: { lock: UNDOCUMENTED },
  grantDefaultPrivileges: { lock: NONE },
  revokeDefaultPrivileges: { lock: NONE },
};

// The row of a change's kind, typed for that change (TypeScript cannot relate the two by itself).
const kindOf = <C extends Change>(c: C) => STEP_KINDS[c.kind] as unknown as StepKind<C>;

/** The lock a step takes (see {@link STEP_KINDS}). */
export function stepLock(c: Change): StepLock {
  return kindOf(c).lock(c);
}

/** How a step runs with respect to transactions. */
export function transactionMode(c: Change): TransactionMode {
  return kindOf(c).transaction?.(c) ?? "group";
}

/** Whether a step runs under the long statement timeout. */
export function isLong(c: Change): boolean {
  return kindOf(c).long?.(c) ?? false;
}

/** How a step's running time scales with its tables (see {@link StepWork}). */
export function stepWork(c: Change): StepWork {
  return kindOf(c).work?.(c) ?? "catalog";
}
