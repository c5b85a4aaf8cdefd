import { quoteIdentIfNeeded, quoteLiteral } from "../../postgres/quote";
import { keyOf, type QualifiedName, type SchemaModel, type SequenceDef } from "../model";
import type { Rename } from "../source/rename";
import { type Ctx } from "./context";

// Renames rewrite the live model in memory so the rest of the diff matches by the new names.
export function applyRenames(live: SchemaModel, renames: readonly Rename[], ctx: Ctx): SchemaModel {
  let tables = [...live.tables];
  for (const r of renames) {
    if (r.kind === "table") {
      const idx = tables.findIndex((t) => t.schema === r.schema && t.name === r.from);
      if (idx < 0 || tables.some((t) => t.schema === r.schema && t.name === r.to)) continue; // already renamed, or nothing to rename
      ctx.out.push({ kind: "renameTable", table: { schema: r.schema, name: r.from }, to: r.to });
      tables[idx] = { ...tables[idx]!, name: r.to };
      // Children name their parents: a renamed parent is renamed there too.
      const renamed = (p: QualifiedName) => (p.schema === r.schema && p.name === r.from ? { schema: p.schema, name: r.to } : p);
      tables = tables.map((x) => (x.inherits.some((p) => p.schema === r.schema && p.name === r.from) ? { ...x, inherits: x.inherits.map(renamed) } : x));
    } else {
      const idx = tables.findIndex((t) => t.schema === r.schema && t.name === r.table);
      const t = tables[idx];
      if (!t || !t.columns.some((c) => c.name === r.from) || t.columns.some((c) => c.name === r.to)) continue;
      ctx.out.push({ kind: "renameColumn", table: { schema: r.schema, name: r.table }, from: r.from, to: r.to });
      // PostgreSQL renames the column in every descendant too (inheritance children).
      const renamedIn = new Set([keyOf(t)]);
      for (let grew = true; grew; ) {
        grew = false;
        for (const x of tables) {
          if (renamedIn.has(keyOf(x)) || !x.inherits.some((p) => renamedIn.has(keyOf(p)))) continue;
          renamedIn.add(keyOf(x));
          grew = true;
        }
      }
      tables = tables.map((x) => (renamedIn.has(keyOf(x)) ? { ...x, columns: x.columns.map((c) => (c.name === r.from ? { ...c, name: r.to } : c)) } : x));
    }
  }
  tables = tables.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  // Sequences follow their owning column through renames.
  const owner = (o: NonNullable<SequenceDef["ownedBy"]>) => {
    let { table, column } = o;
    for (const r of renames) {
      if (r.kind === "table" && r.schema === o.schema && r.from === table) table = r.to;
      if (r.kind === "column" && r.schema === o.schema && r.table === table && r.from === column) column = r.to;
    }
    return { schema: o.schema, table, column };
  };
  const sequences = live.sequences.map((s) => (s.ownedBy ? { ...s, ownedBy: owner(s.ownedBy) } : s));
  // Triggers and policies follow their table (their identity names it), and so do their dependency keys.
  let objects = live.objects;
  for (const r of renames) {
    if (r.kind !== "table") continue;
    const from = `${r.schema}.${r.from}`;
    const to = `${r.schema}.${r.to}`;
    const key = (k: string) => (k === `table:${from}` ? `table:${to}` : k.startsWith(`column:${from}.`) ? `column:${to}.${k.slice(`column:${from}.`.length)}` : k);
    objects = objects.map((o) =>
      (o.kind === "trigger" || o.kind === "policy") && o.schema === r.schema && o.table === r.from
        ? { ...o, table: r.to, identity: `${r.to}.${o.name}`, dependsOn: o.dependsOn.map(key) }
        : o,
    );
  }
  return { ...live, tables, sequences, objects };
}

/**
 * A serial column's sequence that only differs by name from the wanted one (e.g. `old_id_seq`
 * after a table rename) is renamed, keeping its current value; re-creating it would restart it.
 */
export function renameOwnedSequences(live: SchemaModel, desired: SchemaModel, ctx: Ctx): SchemaModel {
  const liveKeys = new Set(live.sequences.map(keyOf));
  const desiredKeys = new Set(desired.sequences.map(keyOf));
  const renamed = new Map<string, string>();
  const sequences = live.sequences.map((s) => {
    if (desiredKeys.has(keyOf(s)) || !s.ownedBy) return s;
    const match = desired.sequences.find((d) => !liveKeys.has(keyOf(d)) && d.schema === s.schema && JSON.stringify(d.ownedBy) === JSON.stringify(s.ownedBy));
    if (!match) return s;
    liveKeys.add(keyOf(match));
    ctx.out.push({ kind: "renameSequence", sequence: s, to: match.name });
    renamed.set(nextvalOf(s.schema, s.name), nextvalOf(match.schema, match.name));
    return { ...s, name: match.name };
  });
  if (renamed.size === 0) return live;
  // Defaults refer to the sequence by OID, so after the rename they print the new name.
  const fix = (expr: string | null) => {
    if (expr === null) return expr;
    let out = expr;
    for (const [from, to] of renamed) out = out.replaceAll(from, to);
    return out;
  };
  const tables = live.tables.map((t) => ({ ...t, columns: t.columns.map((c) => ({ ...c, default: fix(c.default) })) }));
  return { ...live, sequences, tables };
}

// How pg_get_expr prints nextval of a sequence under the canonical search_path (public).
function nextvalOf(schema: string, name: string): string {
  const rel = schema === "public" ? quoteIdentIfNeeded(name) : `${quoteIdentIfNeeded(schema)}.${quoteIdentIfNeeded(name)}`;
  return `nextval(${quoteLiteral(rel)}::regclass)`;
}
