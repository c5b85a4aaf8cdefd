// PostgreSQL's rules for the names it gives objects it names itself (constraints, indexes, sequences),
// predicted by the diff (to tell a chosen name from a declared one) and written by the renderer.

const NAMEDATALEN = 64;
const bytes = (x: string) => Buffer.byteLength(x, "utf8");

/** Name of the temporary CHECK used to set NOT NULL online (≤ 63 bytes). */
export function notNullCheckName(table: string, column: string): string {
  return `${table}_${column}`.slice(0, 40) + "_setpoint_not_null";
}

/**
 * The name PostgreSQL 18 gives a column's NOT NULL constraint when it is free (`table_column_not_null`,
 * shortened to 63 bytes as `makeObjectName` does).
 */
export function defaultNotNullName(table: string, column: string): string {
  return makeObjectName(table, column, "not_null");
}

/** `name1_name2_label` within 63 bytes, the longer of the names shortened first (PostgreSQL's `makeObjectName`). */
export function makeObjectName(name1: string, name2: string, label: string): string {
  let a = name1;
  let b = name2;
  while (bytes(a) + bytes(b) + label.length + 2 > 63) {
    if (bytes(a) > bytes(b)) a = a.slice(0, -1);
    else b = b.slice(0, -1);
  }
  return `${a}_${b}_${label}`;
}

/**
 * The name PostgreSQL chooses for an index it builds on `table` with the definition's columns when
 * that name is free (`ChooseIndexName`: `table_col1_col2_idx`, an expression counting as `expr`,
 * shortened to 63 bytes as `makeObjectName` does); null for a definition this does not read.
 */
export function chosenIndexName(table: string, definition: string): string | null {
  const m = / USING \S+ \((.*)\)/.exec(definition);
  if (!m) return null;
  // Key columns, then INCLUDE columns; a WHERE clause is not part of the name.
  let body = m[1]!;
  const where = body.indexOf(") WHERE ");
  if (where >= 0) body = body.slice(0, where);
  body = body.replace(/\) INCLUDE \(/, ", ").replace(/\) WITH \(.*$/, "").replace(/\) NULLS NOT DISTINCT$/, "");
  const names: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of `${body},`) {
    if (ch === "," && depth === 0) {
      const item = cur.trim();
      const ident = /^("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(?: |$)/.exec(item);
      names.push(ident ? (ident[1]!.startsWith('"') ? ident[1]!.slice(1, -1).replaceAll('""', '"') : ident[1]!) : "expr");
      cur = "";
      continue;
    }
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    cur += ch;
  }
  let addition = "";
  for (const n of names) {
    addition = addition ? `${addition}_${n}` : n;
    if (bytes(addition) >= NAMEDATALEN - 1) break;
  }
  return makeObjectName(table, addition, "idx");
}

/**
 * The name PostgreSQL gives the sequence of an identity or serial column when it is free
 * (`table_column_seq`, each part shortened to fit 63 bytes as `ChooseRelationName` does).
 */
export function identitySequenceName(table: string, column: string): string {
  let t = table;
  let c = column;
  while (bytes(t) + bytes(c) + "__seq".length > 63) {
    if (bytes(t) > bytes(c)) t = t.slice(0, -1);
    else c = c.slice(0, -1);
  }
  return `${t}_${c}_seq`;
}
