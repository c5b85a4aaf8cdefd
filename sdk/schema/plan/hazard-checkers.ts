import type { Change, RowFacts } from "../changes";
import { keyOf, type QualifiedName } from "../model";
import type { Hazard } from "../hazards";
import { describeTarget } from "../kinds/privileges";
import { probeKeyOf } from "../probes/data-probes";

/** Facts about the change's surroundings that hazard checkers may use. */
export interface HazardContext {
  /** Keys (`schema.name`) of tables created by the same plan: they are empty, so nothing on them is hazardous. */
  readonly newTables: ReadonlySet<string>;
  /** Findings of the data probes by probe key (see `data-probes.ts`). */
  readonly data?: ReadonlyMap<string, readonly Hazard[]>;
}

type Checker = (change: Change, ctx: HazardContext) => Hazard | null;

const q = (t: QualifiedName) => keyOf(t);

function rowsNote(rows: RowFacts, what: "table" | "column"): string {
  if (rows.empty === true) return what === "table" ? " (the table is empty)" : " (the column holds no values)";
  if (rows.empty === false) return rows.estimatedRows > 0 ? ` (about ${rows.estimatedRows} rows)` : " (it holds data)";
  return rows.estimatedRows > 0 ? ` (about ${rows.estimatedRows} rows; not checked for emptiness)` : "";
}

function onExisting(change: Change & { table: QualifiedName }, ctx: HazardContext): boolean {
  return !ctx.newTables.has(q(change.table));
}

/**
 * Hazard checkers in the order their findings are reported. Each looks at one change and says
 * whether it is hazardous and why; the reason reaches the plan output, errors and status.
 */
export const HAZARD_CHECKERS: readonly { readonly name: string; readonly check: Checker }[] = [
  {
    name: "data loss",
    check: (c) => {
      switch (c.kind) {
        case "dropTable":
          return { code: "DATA_LOSS_DROP_TABLE", message: `drops table ${q(c.table)}${rowsNote(c.rows, "table")}` };
        case "dropColumn":
          return { code: "DATA_LOSS_DROP_COLUMN", message: `drops column ${q(c.table)}.${c.column.name}${rowsNote(c.rows, "column")}` };
        case "dropSchema":
          return { code: "DATA_LOSS_DROP_SCHEMA", message: `drops schema ${c.schema.name}` };
        case "dropSequence":
          return { code: "DATA_LOSS_DROP_SEQUENCE", message: `drops sequence ${q(c.sequence)} and its current value` };
        case "dropExtension":
          return { code: "DATA_LOSS_DROP_EXTENSION", message: `drops extension ${c.extension.name} and any objects it owns` };
        case "recreateEnum":
          return c.removedValues.length > 0
            ? { code: "ENUM_VALUE_REMOVAL", message: `removes value(s) ${c.removedValues.map((v) => `'${v}'`).join(", ")} from enum ${q(c.enum)}; rows holding them make the step fail` }
            : null;
        default:
          return null;
      }
    },
  },
  {
    name: "table rewrite",
    check: (c, ctx) => {
      if (c.kind === "alterColumnType" && c.rewrite && onExisting(c, ctx)) {
        return { code: "TABLE_REWRITE", message: `changing ${q(c.table)}.${c.column} from ${c.from} to ${c.to} rewrites the table under an ACCESS EXCLUSIVE lock` };
      }
      if (c.kind === "addColumn" && c.volatileDefault && onExisting(c, ctx)) {
        return { code: "TABLE_REWRITE", message: `adding ${q(c.table)}.${c.column.name} with a per-row value rewrites the table under an ACCESS EXCLUSIVE lock` };
      }
      if (c.kind === "setTableLogged" && onExisting(c, ctx)) {
        return { code: "TABLE_REWRITE", message: `SET ${c.unlogged ? "UNLOGGED" : "LOGGED"} rewrites ${q(c.table)}` };
      }
      if (c.kind === "setGeneratedExpression" && onExisting(c, ctx)) {
        return { code: "TABLE_REWRITE", message: `changing the expression of ${q(c.table)}.${c.column.name} rewrites the table` };
      }
      if (c.kind === "recreateEnum" && c.columns.length > 0) {
        return { code: "TABLE_REWRITE", message: `recreating enum ${q(c.enum)} rewrites ${c.columns.map((x) => `${q(x.table)}.${x.column}`).join(", ")}` };
      }
      if ((c.kind === "columnsToText" || c.kind === "columnsFromText") && c.columns.length > 0) {
        return { code: "TABLE_REWRITE", message: `re-creating ${c.inner ? "nested " : ""}type ${q(c.type)} converts and rewrites ${c.columns.map((x) => `${q(x.table)}.${x.column}`).join(", ")} ${c.kind === "columnsToText" ? "to text" : "back from text"}` };
      }
      if (c.kind === "recreateType" && c.columns.length > 0) {
        return { code: "TABLE_REWRITE", message: `recreating type ${q(c.type)} converts and rewrites ${c.columns.map((x) => `${q(x.table)}.${x.column}`).join(", ")}` };
      }
      return null;
    },
  },
  {
    name: "blocking lock",
    check: (c, ctx) => {
      if (c.kind === "alterColumnType" && !c.rewrite && onExisting(c, ctx)) {
        return { code: "ACCESS_EXCLUSIVE_LOCK", message: `changing the type of ${q(c.table)}.${c.column} takes an ACCESS EXCLUSIVE lock and may scan or rebuild indexes` };
      }
      if (c.kind === "setNotNull" && !c.online && c.constraint?.validated !== false && onExisting(c, ctx)) {
        return { code: "ACCESS_EXCLUSIVE_LOCK", message: `SET NOT NULL on ${q(c.table)}.${c.column} scans the table under an ACCESS EXCLUSIVE lock` };
      }
      // A NOT ENFORCED constraint is never checked: adding it only takes the lock for a moment.
      if (c.kind === "addConstraint" && !c.constraint.enforced) return null;
      if (c.kind === "addConstraint" && !c.notValid && onExisting(c, ctx) && c.constraint.kind !== "FOREIGN KEY") {
        return { code: "ACCESS_EXCLUSIVE_LOCK", message: `adding ${c.constraint.kind} ${c.constraint.name} on ${q(c.table)} checks every row under an ACCESS EXCLUSIVE lock` };
      }
      if (c.kind === "addConstraint" && !c.notValid && onExisting(c, ctx) && c.constraint.kind === "FOREIGN KEY") {
        return { code: "ACCESS_EXCLUSIVE_LOCK", message: `adding foreign key ${c.constraint.name} on ${q(c.table)} checks every row while blocking writes` };
      }
      if (c.kind === "addIdentity" && onExisting(c, ctx)) {
        return { code: "ACCESS_EXCLUSIVE_LOCK", message: `adding identity to ${q(c.table)}.${c.column} takes an ACCESS EXCLUSIVE lock` };
      }
      if (c.kind === "dropIndex" && !c.concurrently) {
        return { code: "ACCESS_EXCLUSIVE_LOCK", message: `DROP INDEX ${c.index.name} without CONCURRENTLY blocks reads and writes on its table` };
      }
      return null;
    },
  },
  {
    name: "index build",
    check: (c, ctx) => {
      if (c.kind === "createIndex" && onExisting(c, ctx)) {
        return {
          code: "INDEX_BUILD",
          message: `builds index ${c.index.name} on ${q(c.table)}${c.concurrently ? " CONCURRENTLY (no write lock, extra load)" : " while blocking writes"}`,
        };
      }
      if (c.kind === "addConstraint" && c.constraint.kind === "EXCLUDE" && onExisting(c, ctx)) {
        return { code: "INDEX_BUILD", message: `builds the index of exclusion constraint ${c.constraint.name} on ${q(c.table)}` };
      }
      return null;
    },
  },
  {
    name: "index dropped",
    check: (c) => (c.kind === "dropIndex" ? { code: "INDEX_DROPPED", message: `drops index ${c.schema}.${c.index.name}; queries that use it get slower` } : null),
  },
  {
    name: "validation scan",
    check: (c) => {
      switch (c.kind) {
        case "validateConstraint":
          return { code: "VALIDATION_SCAN", message: `validates ${c.constraint} on ${q(c.table)} by scanning it (writes continue)` };
        case "attachPartition":
          return { code: "VALIDATION_SCAN", message: `attaching ${q(c.table)} to ${q(c.parent)} scans it to check its bound ${c.bound}` };
        case "validateDomainConstraint":
          return { code: "VALIDATION_SCAN", message: `validates ${c.constraint} of domain ${q(c.domain)} by scanning every column that uses it (writes continue)` };
        case "addDomainConstraint":
          return c.notValid ? null : { code: "VALIDATION_SCAN", message: `adding ${c.constraint.name} to domain ${q(c.domain)} checks every column that uses it while blocking writes` };
        case "setDomainNotNull":
          return c.notNull ? { code: "VALIDATION_SCAN", message: `SET NOT NULL on domain ${q(c.domain)} checks every column that uses it while blocking writes` } : null;
        default:
          return null;
      }
    },
  },
  {
    name: "access taken away",
    check: (c) => {
      const who = (g: string | null) => (g === null ? "PUBLIC" : `role ${g}`);
      if (c.kind === "revokePrivileges" && c.existing) {
        return {
          code: "PRIVILEGES_REVOKED",
          message: `revokes ${c.grantOptionOnly ? "the grant option of " : ""}${c.privileges.join(", ")} on ${describeTarget(c.target)} from ${who(c.grantee)}; sessions relying on it get permission errors`,
        };
      }
      if (c.kind === "setOwner" && c.existing) {
        return { code: "OWNER_CHANGED", message: `gives ${describeTarget(c.target)} to role ${c.owner} (owned by ${c.from}); ${c.from} loses the owner's rights (ALTER, DROP, GRANT)` };
      }
      return null;
    },
  },
];

/** Every hazard of a change, in checker order. */
export function hazardsOf(change: Change, ctx: HazardContext): Hazard[] {
  const out: Hazard[] = [];
  for (const { check } of HAZARD_CHECKERS) {
    const h = check(change, ctx);
    if (h) out.push(h);
  }
  const key = ctx.data?.size ? probeKeyOf(change) : null;
  if (key !== null) out.push(...(ctx.data?.get(key) ?? []));
  return out;
}
