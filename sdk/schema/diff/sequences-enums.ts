import type { CommentTarget } from "../changes";
import { byKey, keyOf, type SchemaModel } from "../model";
import { sequencesInExpression } from "./dependency-keys";
import { type Ctx, comment, desiredColumn } from "./context";
import { convertedColumns } from "../kinds/objects";

export function diffSchemas(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveByName = new Map(live.schemas.map((s) => [s.name, s]));
  const desiredNames = new Set(desired.schemas.map((s) => s.name));
  for (const s of desired.schemas) {
    const l = liveByName.get(s.name);
    if (!l) {
      ctx.out.push({ kind: "createSchema", schema: s });
      comment(ctx, { type: "SCHEMA", name: s.name }, null, s.comment);
    } else comment(ctx, { type: "SCHEMA", name: s.name }, l.comment, s.comment);
  }
  for (const s of live.schemas) if (!desiredNames.has(s.name)) ctx.out.push({ kind: "dropSchema", schema: s });
}

export function diffExtensions(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveByName = new Map(live.extensions.map((e) => [e.name, e]));
  const desiredNames = new Set(desired.extensions.map((e) => e.name));
  for (const e of desired.extensions) {
    const l = liveByName.get(e.name);
    if (!l) {
      ctx.out.push({ kind: "createExtension", extension: e });
      comment(ctx, { type: "EXTENSION", name: e.name }, null, e.comment);
      continue;
    }
    if (l.schema !== e.schema && !l.relocatable) {
      // PostgreSQL cannot move it: dropped and created again, under DATA_LOSS_DROP_EXTENSION.
      ctx.out.push({ kind: "dropExtension", extension: l }, { kind: "createExtension", extension: e });
      comment(ctx, { type: "EXTENSION", name: e.name }, null, e.comment);
      continue;
    }
    if (l.schema !== e.schema) ctx.out.push({ kind: "setExtensionSchema", extension: e, from: l.schema });
    if (l.version !== e.version) ctx.out.push({ kind: "updateExtension", extension: e, from: l.version });
    comment(ctx, { type: "EXTENSION", name: e.name }, l.comment, e.comment);
  }
  // Every installed extension is read; only those in a managed schema are the plan's to drop.
  const managed = new Set(live.schemas.map((s) => s.name));
  for (const e of live.extensions) if (!desiredNames.has(e.name) && managed.has(e.schema)) ctx.out.push({ kind: "dropExtension", extension: e });
}

export function diffEnums(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveMap = byKey(live.enums);
  const desiredMap = byKey(desired.enums);
  for (const e of desired.enums) {
    const l = liveMap.get(keyOf(e));
    const target: CommentTarget = { type: "TYPE", schema: e.schema, name: e.name };
    if (!l) {
      ctx.out.push({ kind: "createEnum", enum: e });
      comment(ctx, target, null, e.comment);
      continue;
    }
    if (isOrderedSubsequence(l.values, e.values)) {
      // Only additions: ADD VALUE in place, each before the next value that already exists.
      const existing = new Set(l.values);
      e.values.forEach((v, i) => {
        if (existing.has(v)) return;
        const before = e.values.slice(i + 1).find((n) => existing.has(n)) ?? null;
        ctx.out.push({ kind: "addEnumValue", enum: e, value: v, before });
      });
    } else {
      // Columns that keep using the type are converted in place; columns being dropped or changed
      // to another type are handled by their own steps, ordered before this one.
      const columns = convertedColumns(live, desired, e);
      ctx.out.push({ kind: "recreateEnum", enum: e, removedValues: l.values.filter((v) => !e.values.includes(v)), columns });
      // The comment went with the old type.
      comment(ctx, target, null, e.comment);
      continue;
    }
    comment(ctx, target, l.comment, e.comment);
  }
  for (const e of live.enums) if (!desiredMap.has(keyOf(e))) ctx.out.push({ kind: "dropEnum", enum: e });
}

function isOrderedSubsequence(sub: readonly string[], full: readonly string[]): boolean {
  let i = 0;
  for (const v of full) if (v === sub[i]) i++;
  return i === sub.length;
}

export function diffSequences(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveMap = byKey(live.sequences);
  const desiredMap = byKey(desired.sequences);
  for (const s of desired.sequences) {
    const l = liveMap.get(keyOf(s));
    const target: CommentTarget = { type: "SEQUENCE", schema: s.schema, name: s.name };
    if (!l) {
      ctx.out.push({ kind: "createSequence", sequence: s });
      if (s.ownedBy) ctx.out.push({ kind: "setSequenceOwner", sequence: s });
      comment(ctx, target, null, s.comment);
      continue;
    }
    const opts = (x: typeof s) => [x.dataType, x.start, x.increment, x.min, x.max, x.cache, x.cycle].join("|");
    if (opts(l) !== opts(s)) ctx.out.push({ kind: "alterSequence", sequence: s, from: l });
    if (JSON.stringify(l.ownedBy) !== JSON.stringify(s.ownedBy)) ctx.out.push({ kind: "setSequenceOwner", sequence: s });
    comment(ctx, target, l.comment, s.comment);
  }
  for (const s of live.sequences) {
    if (desiredMap.has(keyOf(s))) continue;
    // A sequence OWNED BY a column goes with it when that column or its table is dropped.
    const o = s.ownedBy;
    if (o && !desiredColumn(desired, { schema: o.schema, name: o.table }, o.column)) continue;
    ctx.out.push({ kind: "dropSequence", sequence: s });
  }
}

/**
 * A sequence the plan creates as the default of an existing column (identity → serial, or a plain
 * column given a serial default) starts past the values the column already holds.
 */
export function syncNewSequences(live: SchemaModel, desired: SchemaModel, ctx: Ctx): void {
  const liveSequences = byKey(live.sequences);
  const desiredSequences = byKey(desired.sequences);
  for (const t of desired.tables) {
    const lt = live.tables.find((x) => x.schema === t.schema && x.name === t.name);
    if (!lt) continue;
    for (const c of t.columns) {
      if (!lt.columns.some((x) => x.name === c.name)) continue;
      for (const q of sequencesInExpression(c.default)) {
        const s = desiredSequences.get(keyOf(q));
        if (s && !liveSequences.has(keyOf(q))) ctx.out.push({ kind: "syncSequence", sequence: s, table: { schema: t.schema, name: t.name }, column: c.name });
      }
    }
  }
}
