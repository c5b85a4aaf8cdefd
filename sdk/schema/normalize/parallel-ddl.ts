// Parallel execution of the desired DDL on the scratch database (issue 20, ADR 0034).
//
// PostgreSQL executing the desired SQL is most of a cold plan. Runs of statements that create
// independent tables and indexes can run on several connections at once and leave the catalogs the
// serial run leaves, provided nothing in one lane can see or race with another lane's work. This
// module decides that from the SQL's tokens, conservatively: when in doubt a statement runs in
// order on the main connection, and a desired schema with anything that changes session state or
// depends on transaction boundaries is not split at all.

import { quoteIdent } from "../../postgres/quote";

/** One statement of a desired SQL file: its text (without the `;`) and where it starts in the file. */
export interface Statement {
  readonly text: string;
  readonly offset: number;
  /** Identifier and keyword tokens, unquoted ones lower-cased, quoted ones as written. */
  readonly words: readonly Word[];
}

/** A token that names something or is a keyword; `depth` is the parenthesis depth at it. */
export interface Word {
  readonly text: string;
  readonly quoted: boolean;
  readonly depth: number;
}

/** How a file's statements run: in order on the main connection, or split into lanes run at once. */
export type Segment =
  | { readonly kind: "serial"; readonly statements: readonly Statement[] }
  | {
      readonly kind: "parallel";
      readonly lanes: readonly (readonly Statement[])[];
      /** Each statement in a transaction of its own (foreign keys: no lane holds a table's lock past its statement). */
      readonly eachCommitted: boolean;
    };

/**
 * Splits SQL into statements at top-level semicolons, skipping quoted strings (`'…'`, `E'…'` with
 * backslash escapes), quoted identifiers, dollar-quoted bodies and comments (nested block comments
 * included). Statements holding only whitespace and comments are dropped.
 */
export function splitStatements(sql: string): Statement[] {
  // A scan over UTF-16 code units (no regular expression or slice per character: the desired SQL
  // of 10,000 tables is ~5 MB and this runs before its DDL can start).
  const out: Statement[] = [];
  let start = 0;
  let words: Word[] = [];
  let depth = 0;
  let i = 0;
  const n = sql.length;
  const flush = (end: number) => {
    if (words.length > 0 || /\S/.test(stripComments(sql.slice(start, end)))) out.push({ text: sql.slice(start, end), offset: start, words });
    words = [];
    depth = 0;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        const d = sql.charCodeAt(i);
        if (d === SLASH && sql.charCodeAt(i + 1) === STAR) {
          level++;
          i += 2;
        } else if (d === STAR && sql.charCodeAt(i + 1) === SLASH) {
          level--;
          i += 2;
        } else i++;
      }
    } else if (c === QUOTE) {
      const before = i > 0 ? sql.charCodeAt(i - 1) : 0;
      const escapes = (before === 0x45 || before === 0x65) && (i < 2 || !isWordOrDollar(sql.charCodeAt(i - 2)));
      i++;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if (escapes && d === BACKSLASH) i += 2;
        else if (d === QUOTE && sql.charCodeAt(i + 1) === QUOTE) i += 2;
        else if (d === QUOTE) break;
        else i++;
      }
      i++;
    } else if (c === DQUOTE) {
      let j = i + 1;
      let text = "";
      let from = j;
      while (j < n) {
        if (sql.charCodeAt(j) === DQUOTE) {
          text += sql.slice(from, j);
          if (sql.charCodeAt(j + 1) !== DQUOTE) break;
          text += '"';
          j += 2;
          from = j;
        } else j++;
      }
      if (j >= n) text += sql.slice(from, n);
      words.push({ text, quoted: true, depth });
      i = j + 1;
    } else if (c === DOLLAR && isDollarTagStart(sql.charCodeAt(i + 1)) && !(i > 0 && isWordOrDollar(sql.charCodeAt(i - 1)))) {
      const m = /^\$([A-Za-z_][\w]*)?\$/.exec(sql.slice(i, i + 70));
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        i = close < 0 ? n : close + m[0].length;
      } else i++;
    } else if (isIdentifierStart(c)) {
      let j = i + 1;
      while (j < n && isIdentifierPart(sql.charCodeAt(j))) j++;
      // The letter before a quote is a string prefix (E'', U&'', B'', X''), not a word.
      const after = sql.charCodeAt(j);
      if (!((after === QUOTE || (after === AMPERSAND && sql.charCodeAt(j + 1) === QUOTE)) && j - i <= 2)) words.push({ text: sql.slice(i, j).toLowerCase(), quoted: false, depth });
      i = j;
    } else if (c === LPAREN) {
      depth++;
      i++;
    } else if (c === RPAREN) {
      depth--;
      i++;
    } else if (c === SEMICOLON) {
      flush(i);
      i++;
      start = i;
    } else i++;
  }
  flush(n);
  return out;
}

const [DASH, SLASH, STAR, QUOTE, DQUOTE, DOLLAR, BACKSLASH, AMPERSAND, LPAREN, RPAREN, SEMICOLON] = [..."-/*'\"$\\&();"].map((ch) => ch.charCodeAt(0)) as [
  number, number, number, number, number, number, number, number, number, number, number,
];
const isAsciiLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** `[A-Za-z_\u0080-\uffff]`: a character an unquoted identifier starts with. */
const isIdentifierStart = (c: number) => isAsciiLetter(c) || c === 0x5f || c >= 0x80;
/** `[\w$\u0080-\uffff]`: a character of an unquoted identifier. */
const isIdentifierPart = (c: number) => isIdentifierStart(c) || isDigit(c) || c === DOLLAR;
/** `[\w$]`. */
const isWordOrDollar = (c: number) => isAsciiLetter(c) || isDigit(c) || c === 0x5f || c === DOLLAR;
/** `[A-Za-z_$]`: what may follow the `$` that opens a dollar quote. */
const isDollarTagStart = (c: number) => isAsciiLetter(c) || c === 0x5f || c === DOLLAR;

function stripComments(text: string): string {
  return text.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
}

const kw = (w: Word | undefined, ...texts: string[]) => w !== undefined && !w.quoted && texts.includes(w.text);

/** First words a statement of a schema that may be split can start with. */
const ALLOWED_FIRST = new Set(["create", "alter", "comment", "grant", "revoke", "drop", "security"]);
/** After ALTER: what changes session state or other sessions' defaults. */
const ALTER_SESSION_STATE = new Set(["role", "user", "group", "database", "system"]);
/** Words that make a schema depend on its transaction boundaries or on session state. */
const NOT_SPLIT_WORDS = new Set(["concurrently", "set_config", "temp", "temporary"]);

/**
 * Whether a desired schema's statements may run in segments of their own transactions, on other
 * sessions: only DDL (CREATE, ALTER of objects, COMMENT, GRANT, REVOKE, DROP, SECURITY LABEL), none
 * that acts differently outside one transaction (`CONCURRENTLY`, `ALTER TYPE … ADD VALUE` then used),
 * changes session state (SET, set_config, ALTER ROLE/DATABASE … SET) or makes session-local objects.
 */
export function splittable(statements: readonly Statement[]): boolean {
  for (const s of statements) {
    const [first, second] = s.words;
    if (!first || first.quoted || !ALLOWED_FIRST.has(first.text)) return false;
    if (first.text === "alter" && (second === undefined || ALTER_SESSION_STATE.has(second.text) || kw(second, "type"))) return false;
    if (first.text === "create" && kw(second, "database", "role", "user", "group", "tablespace", "subscription", "publication")) return false;
    for (const w of s.words) if (!w.quoted && NOT_SPLIT_WORDS.has(w.text)) return false;
    // Routine bodies are strings: a body that sets configuration runs when called (a default, a CHECK).
    if (/set_config/i.test(s.text)) return false;
  }
  return true;
}

/** What a statement of a parallel run creates and on which relation it works, or null when it must run in order. */
interface Independent {
  /** Statements of one class only make up a run: creations, or foreign keys between existing tables. */
  readonly class: "create" | "foreignKey";
  /** The relation the statement creates or indexes (last name part): statements on it share a lane. */
  readonly relation: string;
  /** Names the statement gives relations (the table, or the index). */
  readonly creates: readonly string[];
  /** A foreign key's two tables, as quoted (qualified) names: locked in one order before it runs. */
  readonly locks?: readonly string[];
}

/** Words that tie a CREATE TABLE to other relations or to an order: it runs in order. */
const TABLE_TIES = new Set(["references", "inherits", "like", "partition", "of", "as", "foreign", "exists"]);

/**
 * A statement that may run in a lane: `CREATE [UNLOGGED] TABLE name (…)` with no reference to
 * another table (no REFERENCES, INHERITS, LIKE, PARTITION OF, OF type, AS query, IF NOT EXISTS),
 * or `CREATE [UNIQUE] INDEX name ON [ONLY] table …` with an explicit name.
 */
export function independent(s: Statement): Independent | null {
  const w = s.words;
  if (kw(w[0], "alter")) return foreignKey(w);
  if (!kw(w[0], "create")) return null;
  let i = 1;
  if (kw(w[i], "unlogged")) i++;
  if (kw(w[i], "table")) {
    if (kw(w[i + 1], "if")) return null;
    const name = qualifiedName(w, i + 1);
    if (!name || w.slice(name.next).some((x) => !x.quoted && TABLE_TIES.has(x.text) && !(x.text === "as" && x.depth > 0))) return null;
    return { class: "create", relation: name.last, creates: [name.last] };
  }
  if (kw(w[i], "unique")) i++;
  if (!kw(w[i], "index")) return null;
  const index = qualifiedName(w, i + 1);
  if (!index || index.parts > 1 || kw(w[i + 1], "on", "concurrently", "if") || !kw(w[index.next], "on")) return null;
  let t = index.next + 1;
  if (kw(w[t], "only")) t++;
  const table = qualifiedName(w, t);
  if (!table) return null;
  return { class: "create", relation: table.last, creates: [index.last] };
}

/** Words a foreign key's options are made of (MATCH, ON DELETE/UPDATE actions, deferrability). */
const FOREIGN_KEY_OPTIONS = new Set(["match", "full", "simple", "partial", "on", "delete", "update", "cascade", "restrict", "set", "null", "default", "no", "action", "deferrable", "not", "initially", "deferred", "immediate"]);

/**
 * `ALTER TABLE [ONLY] child ADD CONSTRAINT name FOREIGN KEY (…) REFERENCES parent [(…)] [options]`,
 * one subcommand with an explicit name, between tables that exist: in a run of its own class, each
 * in its own transaction. (Unnamed ones take a name PostgreSQL picks against what exists: in order.)
 */
function foreignKey(w: readonly Word[]): Independent | null {
  let i = 1;
  if (!kw(w[i], "table")) return null;
  i++;
  if (kw(w[i], "only")) i++;
  if (kw(w[i], "if")) return null;
  const child = qualifiedNameBefore(w, i, "add");
  if (!child || !kw(w[child.next], "add") || !kw(w[child.next + 1], "constraint")) return null;
  const name = w[child.next + 2];
  if (!name || name.depth !== 0 || !kw(w[child.next + 3], "foreign") || !kw(w[child.next + 4], "key")) return null;
  let j = child.next + 5;
  while (j < w.length && w[j]!.depth > 0) j++;
  if (!kw(w[j], "references")) return null;
  const parent = qualifiedNameBefore(w, j + 1, null);
  if (!parent) return null;
  // Nothing else at the top level but the referenced columns and the key's options.
  for (let k = parent.next; k < w.length; k++) if (w[k]!.depth === 0 && (w[k]!.quoted || !FOREIGN_KEY_OPTIONS.has(w[k]!.text))) return null;
  const quoted = (from: number, to: number) => w.slice(from, to).map((x) => quoteIdent(x.text)).join(".");
  return { class: "foreignKey", relation: child.last, creates: [name.text], locks: [quoted(child.start, child.next), quoted(j + 1, parent.next)] };
}

/** A name of one to three parts at depth 0 starting at `at`, ending before the keyword `end` (or the first word of another depth). */
function qualifiedNameBefore(w: readonly Word[], at: number, end: string | null): { last: string; start: number; next: number } | null {
  let next = at;
  while (next < w.length && w[next]!.depth === 0 && next - at < 3 && !(end !== null && kw(w[next], end)) && !FOREIGN_KEY_OPTIONS.has(w[next]!.quoted ? "" : w[next]!.text)) next++;
  return next === at ? null : { last: w[next - 1]!.text, start: at, next };
}

function qualifiedName(w: readonly Word[], at: number): { last: string; parts: number; next: number } | null {
  const first = w[at];
  if (!first || first.depth !== 0) return null;
  // Words carry no dots: a qualified name is two or three words in a row at depth 0; the caller
  // checks the word after it (`ON`, or nothing but the column list for a table).
  let next = at + 1;
  let last = first.text;
  let parts = 1;
  while (next < w.length && w[next]!.depth === 0 && parts < 3 && !kw(w[next], "on", "using", "partition", "inherits", "with", "tablespace", "as", "of", "include", "where", "nulls")) {
    last = w[next]!.text;
    next++;
    parts++;
  }
  return { last, parts, next };
}

const PREFIX_BYTES = 20;

function isAscii(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * Splits a file's statements into segments. Maximal runs of at least `minRun` independent
 * statements become parallel segments of up to `lanes` lanes; everything else runs in order.
 * Within a run, statements that might interact share a lane and keep their order: the statements
 * on one relation, and any statement with a word that names — or could be part of a name
 * PostgreSQL derives from (`<table>_<column>_key`, a truncated prefix, an `_<type>` array name) —
 * a relation another statement of the run creates. Names PostgreSQL picks to avoid a clash then
 * come out as in the serial run, and no name resolves differently.
 */
export function segments(statements: readonly Statement[], lanes: number, minRun = 32): Segment[] {
  const out: Segment[] = [];
  // A foreign key on a partitioned table is cloned onto its partitions under names PostgreSQL picks
  // against what exists (and locks them): with partitions anywhere in the file, foreign keys run in order.
  const foreignKeys = !statements.some((s) => s.words.some((w) => !w.quoted && w.text === "partition"));
  let serial: Statement[] = [];
  let i = 0;
  while (i < statements.length) {
    let j = i;
    const run: { s: Statement; d: Independent }[] = [];
    for (; j < statements.length; j++) {
      const d = independent(statements[j]!);
      if (!d || (d.class === "foreignKey" && !foreignKeys) || (run.length > 0 && d.class !== run[0]!.d.class)) break;
      run.push({ s: statements[j]!, d });
    }
    if (run.length >= minRun && lanes > 1) {
      if (serial.length > 0) out.push({ kind: "serial", statements: serial });
      serial = [];
      out.push({ kind: "parallel", lanes: assignLanes(run, lanes), eachCommitted: run[0]!.d.class === "foreignKey" });
      i = j;
    } else if (run.length > 0) {
      // The statement that ended a short run may start a run of another class.
      serial.push(...run.map((r) => r.s));
      i = j;
    } else {
      serial.push(statements[j]!);
      i = j + 1;
    }
  }
  if (serial.length > 0) out.push({ kind: "serial", statements: serial });
  return out;
}

function assignLanes(run: readonly { s: Statement; d: Independent }[], lanes: number): Statement[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    if (!parent.has(x)) parent.set(x, x);
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  const created = new Set<string>();
  const byPrefix = new Map<string, string>();
  const prefix = (name: string) => {
    // An ASCII name's bytes are its characters: no buffer per word (most names).
    if (isAscii(name)) return name.length >= PREFIX_BYTES ? name.slice(0, PREFIX_BYTES) : null;
    const bytes = Buffer.from(name, "utf8");
    return bytes.length >= PREFIX_BYTES ? bytes.subarray(0, PREFIX_BYTES).toString("latin1") : null;
  };
  for (const { d } of run) {
    find(d.relation);
    for (const name of d.creates) {
      created.add(name);
      union(name, d.relation);
      const p = prefix(name);
      if (p !== null) {
        const other = byPrefix.get(p);
        if (other !== undefined) union(other, name);
        else byPrefix.set(p, name);
      }
    }
  }
  for (const { s, d } of run) {
    for (const w of s.words) {
      const name = w.text.charCodeAt(0) === 0x5f ? w.text.replace(/^_+/, "") : w.text;
      if (created.has(name)) union(name, d.relation);
      for (let k = name.indexOf("_"); k > 0; k = name.indexOf("_", k + 1)) {
        if (created.has(name.slice(0, k))) union(name.slice(0, k), d.relation);
      }
      const p = prefix(name);
      const other = p === null ? undefined : byPrefix.get(p);
      if (other !== undefined) union(other, d.relation);
    }
  }
  // Groups keep the run's order; each goes whole to the lane with the least text so far.
  const groups = new Map<string, Statement[]>();
  for (const { s, d } of run) {
    const g = find(d.relation);
    const list = groups.get(g) ?? [];
    list.push(s);
    groups.set(g, list);
  }
  const out: Statement[][] = Array.from({ length: lanes }, () => []);
  const size = new Array<number>(lanes).fill(0);
  for (const list of groups.values()) {
    const k = size.indexOf(Math.min(...size));
    out[k]!.push(...list);
    size[k]! += list.reduce((a, s) => a + s.text.length, 0);
  }
  // A lane's statements in the run's order (groups were appended whole).
  const order = new Map(run.map(({ s }, i) => [s, i]));
  for (const lane of out) lane.sort((a, b) => order.get(a)! - order.get(b)!);
  return out.filter((l) => l.length > 0);
}

/**
 * The statements as one multi-statement query (a newline before each `;` ends a trailing line
 * comment): one transaction, or with `eachCommitted` one explicit transaction per statement.
 */
export function joined(statements: readonly Statement[], eachCommitted = false): string {
  if (!eachCommitted) return statements.map((s) => s.text).join("\n;\n");
  // A foreign key locks its table, then the referenced one: two keys of a cycle on two connections
  // would deadlock. Each first locks both (the mode ADD FOREIGN KEY takes) in one global order.
  return statements
    .map((s) => {
      const locks = [...new Set(independent(s)?.locks ?? [])].sort();
      const lock = locks.map((t) => `LOCK TABLE ${t} IN SHARE ROW EXCLUSIVE MODE;\n`).join("");
      return `BEGIN;\n${lock}${s.text}\n;\nCOMMIT`;
    })
    .join(";\n");
}
