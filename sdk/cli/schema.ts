import { parseArgs } from "node:util";
import { InputError } from "../errors";
import { connect } from "../postgres/connection";
import type { StepResult } from "../schema/apply";
import type { Rename } from "../schema/diff";
import { applySchema, planSchema, type SchemaEngineOptions } from "../schema/engine";
import { HAZARD_CODES, isHazardCode, type HazardCode } from "../schema/hazards";
import { introspect } from "../schema/introspect";
import { emptyModel, type SchemaModel } from "../schema/model";
import { plan as computePlan, refusedHazards, type AllowedHazards, type Plan } from "../schema/plan";
import { loadSchemaPath } from "../schema/source";
import type { CliIO } from "./main";

const COMMON = {
  url: { type: "string" },
  schema: { type: "string" },
  "dev-url": { type: "string" },
  "allow-hazards": { type: "string" },
  format: { type: "string" },
  schemas: { type: "string" },
  "all-schemas": { type: "boolean" },
  offline: { type: "boolean" },
  rename: { type: "string", multiple: true },
  "lock-timeout": { type: "string" },
  yes: { type: "boolean", short: "y" },
} as const;

/** Runs `setpoint schema <plan|apply|inspect>`; resolves to the exit code. */
export async function schemaCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseFlags(rest);
  switch (sub) {
    case "plan":
      return planCommand(values, io);
    case "apply":
      return applyCommand(values, io);
    case "inspect":
      return inspectCommand(values, io);
    default:
      throw new InputError(`unknown schema command "${sub ?? ""}"; use one of plan, apply, inspect`, { propertyPath: "command" });
  }
}

type Flags = ReturnType<typeof parseFlags>["values"];

function parseFlags(args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: COMMON, allowPositionals: false, strict: true });
  } catch (cause) {
    throw new InputError(`${(cause as Error).message}; see setpoint --help`, {}, { cause });
  }
}

function required(values: Flags, name: "url" | "schema"): string {
  const v = values[name];
  if (!v) throw new InputError(`--${name} is required`, { propertyPath: name });
  return v;
}

/** Parses `--allow-hazards` (comma list of codes, or `all`). */
export function parseAllowedHazards(text: string | undefined): AllowedHazards {
  if (!text) return [];
  if (text.trim() === "all") return "all";
  const codes = text.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = codes.filter((c) => !isHazardCode(c));
  if (bad.length) throw new InputError(`--allow-hazards: unknown hazard code(s) ${bad.join(", ")}; allowed: all, ${HAZARD_CODES.join(", ")}`, { propertyPath: "allow-hazards" });
  return codes as HazardCode[];
}

/** Parses `--rename table:SCHEMA.FROM=TO` and `--rename column:SCHEMA.TABLE.FROM=TO`. */
export function parseRenames(items: readonly string[] | undefined): Rename[] {
  return (items ?? []).map((item) => {
    const m = /^(table|column):([^=]+)=(.+)$/.exec(item);
    const path = m?.[2]?.split(".") ?? [];
    if (m?.[1] === "table" && path.length === 2) return { kind: "table", schema: path[0]!, from: path[1]!, to: m[3]! };
    if (m?.[1] === "column" && path.length === 3) return { kind: "column", schema: path[0]!, table: path[1]!, from: path[2]!, to: m[3]! };
    throw new InputError(`--rename "${item}" is not of the form table:SCHEMA.OLD=NEW or column:SCHEMA.TABLE.OLD=NEW`, { propertyPath: "rename" });
  });
}

function engineOptions(values: Flags): SchemaEngineOptions {
  const lock = values["lock-timeout"];
  if (lock !== undefined && !/^\d+$/.test(lock)) throw new InputError(`--lock-timeout must be a whole number of milliseconds, got "${lock}"`, { propertyPath: "lock-timeout" });
  return {
    devUrl: values["dev-url"],
    online: !values.offline,
    allowHazards: parseAllowedHazards(values["allow-hazards"]),
    ...parseSchemaScope(values.schemas, values["all-schemas"]),
    ...(lock !== undefined ? { lockTimeoutMs: Number(lock) } : {}),
  };
}

/**
 * Parses `--schemas LIST` (comma-separated) and `--all-schemas` (every schema of the database).
 * @throws {InputError} when both are given, or the list names an empty schema.
 */
export function parseSchemaScope(list: string | undefined, all: boolean | undefined): Pick<SchemaEngineOptions, "schemas"> {
  if (all && list !== undefined) {
    throw new InputError("--schemas and --all-schemas cannot be combined; pass one: a list of schemas, or every schema of the database", { propertyPath: "schemas" });
  }
  if (all) return { schemas: "all" };
  if (list === undefined) return {};
  const names = list.split(",").map((s) => s.trim());
  if (names.some((n) => n === "")) throw new InputError(`--schemas "${list}" names an empty schema; pass schema names separated by commas`, { propertyPath: "schemas" });
  return { schemas: names };
}

function format(values: Flags, allowed: readonly string[], fallback: string): string {
  const f = values.format ?? fallback;
  if (!allowed.includes(f)) throw new InputError(`--format must be one of ${allowed.join(", ")}, got "${f}"`, { propertyPath: "format" });
  return f;
}

async function planCommand(values: Flags, io: CliIO): Promise<number> {
  const fmt = format(values, ["text", "json", "sql"], "text");
  const desired = { ...loadSchemaPath(required(values, "schema")), renames: parseRenames(values.rename) };
  const options = engineOptions(values);
  const planned = await planSchema(required(values, "url"), desired, options);
  const refused = refusedHazards(planned.plan, options.allowHazards ?? []);
  if (fmt === "json") io.stdout(JSON.stringify(planJson(planned.plan, planned.fingerprint, refused.length), null, 2) + "\n");
  else if (fmt === "sql") io.stdout(planSql(planned.plan));
  else io.stdout(planText(planned.plan, options.allowHazards ?? []));
  return refused.length ? 2 : 0;
}

async function applyCommand(values: Flags, io: CliIO): Promise<number> {
  const desired = { ...loadSchemaPath(required(values, "schema")), renames: parseRenames(values.rename) };
  const options = engineOptions(values);
  const url = required(values, "url");
  if (!values.yes) {
    // Without --yes, show the plan and stop: applying is an explicit decision.
    const planned = await planSchema(url, desired, options);
    io.stdout(planText(planned.plan, options.allowHazards ?? []));
    if (planned.plan.steps.length === 0) return 0;
    io.stderr("setpoint: not applied; re-run with --yes to apply this plan\n");
    return refusedHazards(planned.plan, options.allowHazards ?? []).length ? 2 : 1;
  }
  const applied = await applySchema(url, desired, { ...options, onStep: (r) => io.stderr(progressLine(r)) });
  io.stdout(applied.plan.steps.length === 0 ? "No changes: the database already matches the desired schema.\n" : `Applied ${applied.plan.steps.length} step(s); the database now matches the desired schema.\n`);
  return 0;
}

async function inspectCommand(values: Flags, io: CliIO): Promise<number> {
  const fmt = format(values, ["sql", "json"], "sql");
  const client = await connect(required(values, "url"));
  try {
    const model = await introspect(client, values.schemas ? { schemas: values.schemas.split(",") } : {});
    if (fmt === "json") io.stdout(JSON.stringify(model, null, 2) + "\n");
    else io.stdout(planSql(computePlan(baseline(model), model, { online: false })));
    return 0;
  } finally {
    await client.end();
  }
}

// What a new database already has: the public schema, so inspect does not print CREATE SCHEMA public.
function baseline(model: SchemaModel): SchemaModel {
  return { ...emptyModel(), schemas: model.schemas.filter((s) => s.name === "public") };
}

function progressLine(r: StepResult): string {
  return `  [${r.status}] step ${r.index + 1} ${r.kind} (${r.durationMs} ms${r.attempts > 1 ? `, ${r.attempts} attempts` : ""})\n`;
}

/** The `--format json` document: `statements` is `[]` when converged. */
export function planJson(p: Plan, fingerprint: string, refusedCount: number) {
  return {
    statements: p.steps.flatMap((s) => s.sql.map((sql) => ({ sql, hazards: s.hazards.map((h) => h.code), transactional: s.transactional }))),
    steps: p.steps.map((s, i) => ({
      index: i + 1,
      kind: s.kind,
      sql: s.sql,
      hazards: s.hazards,
      transaction: s.transaction,
      lockTimeoutMs: s.lockTimeoutMs,
      statementTimeoutMs: s.statementTimeoutMs,
      objects: s.objects,
    })),
    unmanaged: p.unmanaged,
    converged: p.steps.length === 0,
    refusedHazards: refusedCount,
    fingerprint,
  };
}

/** The plan as a runnable SQL script (transactional groups are marked, not wrapped). */
export function planSql(p: Plan): string {
  return p.steps.map((s) => s.sql.map((q) => `${q};\n`).join("") + (s.transactional ? "" : "-- (runs outside a transaction)\n")).join("");
}

/** The plan for people: numbered steps, SQL, hazards, and what is not managed. */
export function planText(p: Plan, allowed: AllowedHazards): string {
  const lines: string[] = [];
  if (p.steps.length === 0) lines.push("No changes: the database matches the desired schema.");
  else lines.push(`Plan: ${p.steps.length} step(s)`);
  p.steps.forEach((s, i) => {
    const mode = s.transaction === "none" ? "no transaction" : s.transaction === "own" ? "own transaction" : "transaction";
    lines.push("", `${i + 1}. ${s.kind} (${mode}, lock_timeout ${s.lockTimeoutMs} ms)`);
    for (const q of s.sql) lines.push(...q.split("\n").map((l) => `     ${l}`));
    for (const h of s.hazards) {
      const ok = allowed === "all" || allowed.includes(h.code);
      lines.push(`   ${ok ? "hazard (allowed)" : "HAZARD (not allowed)"}: ${h.code}: ${h.message}`);
    }
  });
  if (p.unmanaged.length) {
    lines.push("", `Unmanaged (left untouched): ${p.unmanaged.length}`);
    for (const u of p.unmanaged) lines.push(`   ${u.kind} ${u.schema}.${u.name} (${u.side === "both" ? "in both" : `only in ${u.side}`})`);
  }
  const refused = refusedHazards(p, allowed);
  if (refused.length) {
    const codes = [...new Set(refused.map((h) => h.code))];
    lines.push("", `Refused: ${refused.length} hazard(s) not allowed. To allow: --allow-hazards ${codes.join(",")}`);
  }
  return lines.join("\n") + "\n";
}
