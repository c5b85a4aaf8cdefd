import { writeFile } from "node:fs/promises";
import { InputError } from "../errors";
import { connect } from "../postgres/connection";
import type { StepResult } from "../schema/apply/apply";
import type { Rename } from "../schema/source/rename";
import { applySchema, planSchema, verifySchema, type SchemaEngineOptions } from "../schema/engine";
import { HAZARD_CODES, isHazardCode, isUnallowable, type HazardCode } from "../schema/hazards";
import { introspect } from "../schema/introspect/introspect";
import { emptyModel, type SchemaModel } from "../schema/model";
import { plan as computePlan, refusedHazards, type AllowedHazards, type Plan } from "../schema/plan/plan";
import { planHash } from "../schema/plan/approvals";
import { applyPlanFile, loadPlanFile, toPlanFile, type PlanFile } from "../schema/plan-file";
import { loadSchemaPath } from "../schema/source/desired";
import { formatDifference, type CatalogCheck } from "../schema/verify/index";
import { HELP, parseFlags as parseCommandFlags, SUBCOMMANDS, suggest, unknownCommand, wantsHelp } from "./args";
import type { CliIO } from "./main";

/** The flags `schema plan` and `schema apply` accept (their help: `SCHEMA_FLAGS` in args.ts). */
export const SCHEMA_FLAG_SPEC = {
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
  "statement-timeout": { type: "string" },
  "long-statement-timeout": { type: "string" },
  "probe-timeout": { type: "string" },
  "no-sample-keys": { type: "boolean" },
  "no-data-probes": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  "no-verify": { type: "boolean" },
  out: { type: "string" },
} as const;

/** Runs `setpoint schema <plan|apply|verify|inspect>`; resolves to the exit code. */
export async function schemaCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
    (sub === undefined ? io.stderr : io.stdout)(HELP.schema!);
    return sub === undefined ? 1 : 0;
  }
  if (!SUBCOMMANDS.schema!.includes(sub)) throw unknownCommand(sub, SUBCOMMANDS.schema!, "schema");
  if (wantsHelp(rest)) {
    io.stdout(HELP[`schema ${sub}`]!);
    return 0;
  }
  const { values, positionals } = parseFlags(rest, sub);
  switch (sub) {
    case "plan":
      return planCommand(values, io);
    case "apply":
      return positionals.length ? applyFileCommand(positionals[0]!, values, io) : applyCommand(values, io);
    case "verify":
      return verifyCommand(values, io);
    case "inspect":
      return inspectCommand(values, io);
    default:
      throw new InputError(`unknown schema command "${sub ?? ""}"; use one of plan, apply, verify, inspect`, { propertyPath: "command" });
  }
}

type Flags = ReturnType<typeof parseFlags>["values"];

function parseFlags(args: readonly string[], sub: string) {
  return parseCommandFlags(args, SCHEMA_FLAG_SPEC, `schema ${sub}`, sub === "apply" ? 1 : 0);
}

function milliseconds(values: Flags, name: "lock-timeout" | "statement-timeout" | "long-statement-timeout" | "probe-timeout"): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new InputError(`--${name} must be a whole number of milliseconds, got "${v.slice(0, 40)}"`, { propertyPath: name });
  return Number(v);
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
  const allowable = HAZARD_CODES.filter((c) => !isUnallowable(c));
  if (bad.length) {
    const guesses = bad.map((b) => suggest(b, allowable)).filter((g): g is HazardCode => g !== undefined);
    throw new InputError(
      `--allow-hazards: unknown hazard code(s) ${bad.join(", ")}${guesses.length ? ` (did you mean ${guesses.join(", ")}?)` : ""}; allowed: all, ${allowable.join(", ")}`,
      { propertyPath: "allow-hazards" },
    );
  }
  const blocked = (codes as HazardCode[]).filter(isUnallowable);
  if (blocked.length) {
    throw new InputError(
      `--allow-hazards: ${blocked.join(", ")} cannot be allowed: existing rows make the step fail, so applying could only fail; fix those rows (the plan names one) or change the desired schema`,
      { propertyPath: "allow-hazards" },
    );
  }
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
  const lock = milliseconds(values, "lock-timeout");
  const statement = milliseconds(values, "statement-timeout");
  const long = milliseconds(values, "long-statement-timeout");
  const probe = milliseconds(values, "probe-timeout");
  return {
    devUrl: values["dev-url"],
    online: !values.offline,
    allowHazards: parseAllowedHazards(values["allow-hazards"]),
    ...parseSchemaScope(values.schemas, values["all-schemas"]),
    ...(lock !== undefined ? { lockTimeoutMs: lock } : {}),
    ...(statement !== undefined ? { statementTimeoutMs: statement } : {}),
    ...(long !== undefined ? { longStatementTimeoutMs: long } : {}),
    dataProbes: values["no-data-probes"] ? false : { ...(probe !== undefined ? { timeoutMs: probe } : {}), sampleKeys: !values["no-sample-keys"] },
    ...(values["no-verify"] ? { verifyCatalogs: false } : {}),
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
  const url = required(values, "url");
  const planned = await planSchema(url, desired, options);
  const refused = refusedHazards(planned.plan, options.allowHazards ?? []);
  if (fmt === "json") io.stdout(JSON.stringify(planJson(planned.plan, planned.fingerprint, refused.length, planned.catalogCheck), null, 2) + "\n");
  else if (fmt === "sql") io.stdout(planSql(planned.plan));
  else io.stdout(planText(planned.plan, options.allowHazards ?? [], planned.catalogCheck));
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
    io.stdout(planText(planned.plan, options.allowHazards ?? [], planned.catalogCheck));
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

/** `setpoint schema verify`: the catalog-level comparison with the desired state; exit 1 on any unmodelled difference. */
async function verifyCommand(values: Flags, io: CliIO): Promise<number> {
  const fmt = format(values, ["text", "json"], "text");
  const desired = { ...loadSchemaPath(required(values, "schema")), renames: parseRenames(values.rename) };
  const checked = await verifySchema(required(values, "url"), desired, engineOptions(values));
  const check = checked.catalogCheck;
  if (fmt === "json") {
    io.stdout(JSON.stringify({ converged: check.differences.length === 0, planSteps: checked.plan.steps.length, ...check }, null, 2) + "\n");
  } else {
    const lines = [
      check.differences.length === 0
        ? "The database's catalogs match the desired schema."
        : `The database's catalogs differ from the desired schema: ${check.differences.length} difference(s).`,
      ...checkLines(check),
    ];
    if (checked.plan.steps.length) lines.push(`(A plan of ${checked.plan.steps.length} step(s) is pending: see setpoint schema plan.)`);
    io.stdout(lines.join("\n") + "\n");
  }
  return check.differences.length === 0 ? 0 : 1;
}

/** The lines of a catalog check: each unmodelled difference, then each known one. */
function checkLines(check: CatalogCheck): string[] {
  const lines: string[] = [];
  for (const d of check.differences) lines.push(`   ${formatDifference(d)}`);
  if (check.known.length) {
    lines.push("", `Known differences (tolerated, see docs/adr/0014): ${check.known.length}`);
    for (const d of check.known) lines.push(`   ${formatDifference(d)}`);
  }
  return lines;
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

/** The `--format json` document: `statements` is `[]` and `unmanagedDifferences` too when converged. */
export function planJson(p: Plan, fingerprint: string, refusedCount: number, check: CatalogCheck | null = null) {
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
    unmanagedDifferences: check?.differences ?? [],
    knownDifferences: check?.known ?? [],
    converged: p.steps.length === 0 && !check?.differences.length,
    planHash: p.steps.length ? planHash(p) : "",
    refusedHazards: refusedCount,
    fingerprint,
  };
}

/** The plan as a runnable SQL script (transactional groups are marked, not wrapped). */
export function planSql(p: Plan): string {
  return p.steps.map((s) => s.sql.map((q) => `${q};\n`).join("") + (s.transactional ? "" : "-- (runs outside a transaction)\n")).join("");
}

/** The plan for people: numbered steps, SQL, hazards, what is not managed, and the catalog check of an empty plan. */
export function planText(p: Plan, allowed: AllowedHazards, check: CatalogCheck | null = null): string {
  const lines: string[] = [];
  if (p.steps.length === 0 && check?.differences.length) {
    lines.push(
      `No changes the engine can make, but the database differs from the desired schema in ${check.differences.length} unmanaged propert(ies) (apply fails on them):`,
      ...checkLines(check),
    );
  } else if (p.steps.length === 0) {
    lines.push("No changes: the database matches the desired schema.");
    if (check?.known.length) lines.push(...checkLines(check));
  } else lines.push(`Plan: ${p.steps.length} step(s), ${planHash(p)}`);
  p.steps.forEach((s, i) => {
    const mode = s.transaction === "none" ? "no transaction" : s.transaction === "own" ? "own transaction" : "transaction";
    lines.push("", `${i + 1}. ${s.kind} (${mode}, lock_timeout ${s.lockTimeoutMs} ms)`);
    for (const q of s.sql) lines.push(...q.split("\n").map((l) => `     ${l}`));
    for (const h of s.hazards) {
      const ok = !isUnallowable(h.code) && (allowed === "all" || allowed.includes(h.code));
      lines.push(`   ${ok ? "hazard (allowed)" : isUnallowable(h.code) ? "HAZARD (cannot be allowed)" : "HAZARD (not allowed)"}: ${h.code}: ${h.message}`);
    }
  });
  if (p.unmanaged.length) {
    lines.push("", `Unmanaged (left untouched): ${p.unmanaged.length}`);
    for (const u of p.unmanaged) lines.push(`   ${u.kind} ${u.schema}.${u.name} (${u.side === "both" ? "in both" : `only in ${u.side}`})`);
  }
  const refused = refusedHazards(p, allowed);
  if (refused.length) {
    const codes = [...new Set(refused.map((h) => h.code))].filter((c) => !isUnallowable(c));
    const blocked = [...new Set(refused.map((h) => h.code))].filter(isUnallowable);
    lines.push("", `Refused: ${refused.length} hazard(s) not allowed.${codes.length ? ` To allow: --allow-hazards ${codes.join(",")}` : ""}`);
    if (blocked.length) lines.push(`${blocked.join(", ")} cannot be allowed: fix the rows named above (or change the desired schema), then plan again.`);
  }
  return lines.join("\n") + "\n";
}
