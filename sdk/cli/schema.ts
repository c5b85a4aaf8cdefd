import { writeFile } from "node:fs/promises";
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
import { planHash } from "../schema/approvals";
import { applyPlanFile, loadPlanFile, toPlanFile, type PlanFile } from "../schema/plan-file";
import { loadSchemaPath } from "../schema/source";
import type { CliIO } from "./main";

const COMMON = {
  url: { type: "string" },
  schema: { type: "string" },
  "dev-url": { type: "string" },
  "allow-hazards": { type: "string" },
  format: { type: "string" },
  schemas: { type: "string" },
  offline: { type: "boolean" },
  rename: { type: "string", multiple: true },
  "lock-timeout": { type: "string" },
  yes: { type: "boolean", short: "y" },
  out: { type: "string" },
} as const;

/** Runs `setpoint schema <plan|apply|inspect>`; resolves to the exit code. */
export async function schemaCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseFlags(rest);
  if (positionals.length > (sub === "apply" ? 1 : 0)) {
    throw new InputError(`unexpected argument "${positionals.at(-1)}"; only \`schema apply\` takes one (a plan file saved by \`schema plan --out\`)`, { propertyPath: "arguments" });
  }
  switch (sub) {
    case "plan":
      return planCommand(values, io);
    case "apply":
      return positionals.length ? applyFileCommand(positionals[0]!, values, io) : applyCommand(values, io);
    case "inspect":
      return inspectCommand(values, io);
    default:
      throw new InputError(`unknown schema command "${sub ?? ""}"; use one of plan, apply, inspect`, { propertyPath: "command" });
  }
}

type Flags = ReturnType<typeof parseFlags>["values"];

function parseFlags(args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: COMMON, allowPositionals: true, strict: true });
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
    ...(values.schemas ? { schemas: values.schemas.split(",").map((s) => s.trim()) } : {}),
    ...(lock !== undefined ? { lockTimeoutMs: Number(lock) } : {}),
  };
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
  const url = required(values, "url");
  const planned = await planSchema(url, desired, options);
  const refused = refusedHazards(planned.plan, options.allowHazards ?? []);
  if (fmt === "json") io.stdout(JSON.stringify(planJson(planned.plan, planned.fingerprint, refused.length), null, 2) + "\n");
  else if (fmt === "sql") io.stdout(planSql(planned.plan));
  else io.stdout(planText(planned.plan, options.allowHazards ?? []));
  if (values.out) {
    const file = toPlanFile(planned, url, desired, { online: options.online });
    try {
      await writeFile(values.out, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
    } catch (cause) {
      throw new InputError(`cannot write --out ${values.out}: ${(cause as Error).message}`, { propertyPath: "out", file: values.out }, { cause });
    }
    io.stderr(`setpoint: saved the plan to ${values.out} (${file.planHash}); run it with: setpoint schema apply ${values.out} --url ...\n`);
  }
  return refused.length ? 2 : 0;
}

/**
 * The hazards to accept for this one plan: those allowed by flags, plus, on a terminal, those the
 * person at it accepts when asked. Resolves to `null` when refused.
 */
async function confirmHazards(p: Plan, allowed: AllowedHazards, io: CliIO, what: string): Promise<AllowedHazards | null> {
  const refused = refusedHazards(p, allowed);
  if (refused.length === 0 && !io.interactive) return allowed;
  if (!io.interactive || !io.prompt) return null;
  const lines = [""];
  if (refused.length) {
    lines.push(`This plan has ${refused.length} hazard(s) not allowed by --allow-hazards:`);
    for (const h of refused) lines.push(`  - step ${h.step + 1}: ${h.code}: ${h.message}`);
  }
  lines.push(`${what} (plan ${planHash(p).slice(0, 19)}…)? [y/N] `);
  const answer = (await io.prompt(lines.join("\n"))).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") return null;
  return allowed === "all" ? "all" : [...new Set([...allowed, ...refused.map((h) => h.code)])];
}

async function applyCommand(values: Flags, io: CliIO): Promise<number> {
  const desired = { ...loadSchemaPath(required(values, "schema")), renames: parseRenames(values.rename) };
  const options = engineOptions(values);
  const url = required(values, "url");
  if (!values.yes) {
    // Without --yes, show the plan; on a terminal ask, else stop: applying is an explicit decision.
    const planned = await planSchema(url, desired, options);
    io.stdout(planText(planned.plan, options.allowHazards ?? []));
    if (planned.plan.steps.length === 0) return 0;
    if (io.interactive) {
      const accepted = await confirmHazards(planned.plan, options.allowHazards ?? [], io, `Apply these ${planned.plan.steps.length} step(s)`);
      if (accepted === null) {
        io.stderr("setpoint: not applied\n");
        return refusedHazards(planned.plan, options.allowHazards ?? []).length ? 2 : 1;
      }
      // Exactly the plan shown: refused if the database changed while the question was open.
      return runPlanFile(url, toPlanFile(planned, url, desired, { online: options.online }), { ...options, allowHazards: accepted }, io);
    }
    io.stderr("setpoint: not applied; re-run with --yes to apply this plan\n");
    return refusedHazards(planned.plan, options.allowHazards ?? []).length ? 2 : 1;
  }
  const applied = await applySchema(url, desired, { ...options, onStep: (r) => io.stderr(progressLine(r)) });
  io.stdout(applied.plan.steps.length === 0 ? "No changes: the database already matches the desired schema.\n" : `Applied ${applied.plan.steps.length} step(s); the database now matches the desired schema.\n`);
  return 0;
}

async function applyFileCommand(path: string, values: Flags, io: CliIO): Promise<number> {
  if (values.schema !== undefined || values.rename !== undefined) {
    throw new InputError("a saved plan already holds its desired schema: pass either a plan file or --schema, not both", { propertyPath: "schema" });
  }
  // What shaped the plan is fixed in the file: a flag that would change it is a mistake, not a wish.
  const fixed = (["offline", "schemas", "lock-timeout", "format", "out"] as const).filter((f) => values[f] !== undefined);
  if (fixed.length) {
    throw new InputError(`--${fixed[0]} cannot change a saved plan (the plan file fixes it); make a new plan with it instead`, { propertyPath: fixed[0] });
  }
  const file = await loadPlanFile(path);
  const options = engineOptions(values);
  const url = required(values, "url");
  io.stdout(`Plan ${file.planHash}, made ${file.createdAt} against ${file.target}\n`);
  io.stdout(planText(file.plan, options.allowHazards ?? []));
  if (file.plan.steps.length === 0) return 0;
  // --yes: no question; the hazards must then be allowed by flag.
  const accepted = await confirmHazards(file.plan, options.allowHazards ?? [], values.yes ? { ...io, interactive: false } : io, `Apply these ${file.plan.steps.length} step(s)`);
  if (accepted === null) {
    io.stderr("setpoint: not applied\n");
    return refusedHazards(file.plan, options.allowHazards ?? []).length ? 2 : 1;
  }
  return runPlanFile(url, file, { ...options, allowHazards: accepted }, io);
}

async function runPlanFile(url: string, file: PlanFile, options: SchemaEngineOptions, io: CliIO): Promise<number> {
  const results = await applyPlanFile(url, file, {
    allowHazards: options.allowHazards,
    devUrl: options.devUrl,
    onStep: (r) => io.stderr(progressLine(r)),
  });
  io.stdout(`Applied ${results.length} step(s) of plan ${file.planHash}; the database now matches the desired schema.\n`);
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
    planHash: p.steps.length ? planHash(p) : "",
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
  else lines.push(`Plan: ${p.steps.length} step(s), ${planHash(p)}`);
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
