import type { Change, CommentTarget, RowFacts } from "../changes";
import type { SchemaModel } from "../model";
import { dependenciesOf } from "./dependencies";
import { K, commentNeeds } from "./dependency-keys";
import { diffDependents } from "./dependents";
import { diffImplied } from "./implied";
import { partitionIndexChanges } from "./table-properties";
import type { Rename } from "../source/rename";
import { diffPrivileges } from "../kinds/privileges";
import type { Ctx } from "./context";
import { applyRenames, renameOwnedSequences } from "./renames";
import { diffSchemas, diffExtensions, diffEnums, diffSequences, syncNewSequences } from "./sequences-enums";
import { diffTables } from "./tables";

/** Options that shape the diff. */
export interface DiffOptions {
  /**
   * Online mode: build and drop indexes CONCURRENTLY, add constraints NOT VALID then validate,
   * set NOT NULL through a validated CHECK. Turn off for empty or offline databases.
   * @default true
   */
  online?: boolean;
  /** Declared renames, applied before matching objects by name. @default [] */
  renames?: readonly Rename[];
  /** Server major version of the target; some changes have cheaper forms on newer servers. @default 17 */
  serverMajor?: number;
  /** What is known about the data in tables and columns that would be dropped (see `facts.ts`). */
  facts?: ReadonlyMap<string, RowFacts>;
  /**
   * The role the plan is applied as (the target connection's `current_user`): it owns what the
   * plan creates, so an object desired with another owner gets an `ALTER ... OWNER TO`.
   * @default each new object's desired owner
   */
  role?: string;
}

/**
 * Computes the changes that turn `live` into `desired`, in emission order (roughly creation
 * order; `plan` reorders them by their dependency graph). Pure: no I/O.
 */
export function diff(live: SchemaModel, desired: SchemaModel, options: DiffOptions = {}): Change[] {
  const ctx: Ctx = {
    online: options.online ?? true,
    major: options.serverMajor ?? 17,
    facts: options.facts ?? new Map(),
    out: [],
    live,
    desired,
  };
  const renamedLive = renameOwnedSequences(applyRenames(live, options.renames ?? [], ctx), desired, ctx);
  ctx.live = renamedLive;
  diffSchemas(renamedLive, desired, ctx);
  diffExtensions(renamedLive, desired, ctx);
  diffEnums(renamedLive, desired, ctx);
  diffSequences(renamedLive, desired, ctx);
  diffTables(renamedLive, desired, ctx);
  partitionIndexChanges(renamedLive, desired, ctx);
  syncNewSequences(renamedLive, desired, ctx);
  diffDependents(renamedLive, desired, ctx);
  diffImplied(renamedLive, desired, ctx);
  commentsOfRecreated(desired, ctx);
  const recreated = new Set<string>();
  for (const c of ctx.out) if (RECREATING.has(c.kind)) for (const k of dependenciesOf(c, live, desired).drops) recreated.add(k);
  ctx.out.push(...diffPrivileges(live, desired, ctx.out, { major: ctx.major, role: options.role, recreated }));
  return ctx.out;
}

// Change kinds after which an object they drop has lost its owner and privileges (a rename or a
// column's type change keeps them).
const RECREATING: ReadonlySet<Change["kind"]> = new Set<Change["kind"]>([
  "dropSchema", "dropEnum", "recreateEnum", "dropSequence", "dropTable", "dropColumn", "dropView", "dropObject", "recreateType",
]);
/**
 * A comment goes with what it describes: columns, constraints and indexes that the plan drops and
 * creates again (a generated column re-added, a CHECK or index rebuilt around a re-created routine)
 * get their desired comment again, which the table's own comparison (live and desired alike) did
 * not emit.
 */
function commentsOfRecreated(desired: SchemaModel, ctx: Ctx): void {
  const dropped = new Set<string>();
  for (const c of ctx.out) {
    if (c.kind === "dropColumn") dropped.add(K.column(c.table, c.column.name));
    else if (c.kind === "dropConstraint") dropped.add(K.constraint(c.table, c.constraint.name));
    else if (c.kind === "dropIndex") dropped.add(K.index(c.schema, c.index.name));
  }
  if (dropped.size === 0) return;
  const commented = new Set(ctx.out.flatMap((c) => (c.kind === "comment" ? [commentNeeds(c.target)] : [])));
  const add = (target: CommentTarget, comment: string | null) => {
    const key = commentNeeds(target);
    if (comment !== null && dropped.has(key) && !commented.has(key)) ctx.out.push({ kind: "comment", target, comment });
  };
  for (const t of desired.tables) {
    if (!t.columns.some((c) => c.comment !== null) && !t.constraints.some((c) => c.comment !== null) && !t.indexes.some((i) => i.comment !== null)) continue;
    for (const c of t.columns) add({ type: "COLUMN", schema: t.schema, table: t.name, column: c.name }, c.comment);
    for (const c of t.constraints) add({ type: "CONSTRAINT", schema: t.schema, table: t.name, constraint: c.name }, c.comment);
    for (const i of t.indexes) add({ type: "INDEX", schema: t.schema, name: i.name }, i.comment);
  }
}
