import { InputError } from "../errors";
import { connectionFields } from "../postgres/connection";
import { loadSchemaPath } from "../schema/source/desired";
import { finalizeUpgrade, followUpgrade, forgetUpgrade, planUpgrade, PreflightRefusedError, rollbackUpgrade, runUpgrade, UpgradeRefusedError, type UpgradeResult } from "../upgrade/engine";
import type { UpgradeOptions } from "../upgrade/context";
import { UpgradeInProgressError } from "../upgrade/lock";
import { RUN_UNTIL, type RunUntil } from "../upgrade/phases";
import type { PreflightReport } from "../upgrade/preflight";
import { pgbouncerSwitch } from "../upgrade/pgbouncer";
import { tableStateStore } from "../upgrade/state";
import type { TrafficSwitch } from "../upgrade/traffic";
import { HELP, parseFlags as parseCommandFlags, SUBCOMMANDS, unknownCommand, wantsHelp } from "./args";
import { EXIT, type CliIO } from "./main";

/** The flags the `upgrade` commands accept (the help of `upgrade run`: `UPGRADE_RUN_FLAGS` in args.ts). */
export const UPGRADE_FLAG_SPEC = {
  blue: { type: "string" },
  green: { type: "string" },
  schema: { type: "string" },
  name: { type: "string" },
  until: { type: "string" },
  finalize: { type: "boolean" },
  rollback: { type: "boolean" },
  deadline: { type: "string" },
  verify: { type: "string" },
  "pgbouncer-admin": { type: "string" },
  "pgbouncer-file": { type: "string" },
  "pgbouncer-db": { type: "string" },
  "pgbouncer-user": { type: "string" },
  "allow-objects-not-copied": { type: "boolean" },
  format: { type: "string" },
} as const;

type Flags = ReturnType<typeof parseFlags>["values"];

function parseFlags(args: readonly string[], sub: string) {
  return parseCommandFlags(args, UPGRADE_FLAG_SPEC, `upgrade ${sub}`);
}

/**
 * Runs `setpoint upgrade <plan|run|rollback|finalize|follow|forget>`; resolves to the exit code. A thin
 * driver: the engine decides the steps (its phase table) and holds the upgrade's lock.
 */
export async function upgradeCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
    (sub === undefined ? io.stderr : io.stdout)(HELP.upgrade!);
    return sub === undefined ? EXIT.error : EXIT.ok;
  }
  if (!SUBCOMMANDS.upgrade!.includes(sub)) throw unknownCommand(sub, SUBCOMMANDS.upgrade!, "upgrade");
  if (wantsHelp(rest)) {
    io.stdout(HELP[`upgrade ${sub}`]!);
    return EXIT.ok;
  }
  const { values } = parseFlags(rest, sub);
  const options = upgradeOptions(values, io);
  const json = values.format === "json";
  if (values.format !== undefined && values.format !== "json" && values.format !== "text") {
    throw new InputError(`--format must be text or json, not "${values.format}"`, { propertyPath: "format" });
  }
  try {
    switch (sub) {
      case "plan": {
        const p = await planUpgrade(options, { until: untilOf(values), finalize: values.finalize ?? false, rollback: values.rollback ?? false });
        const refusal = p.refusal ? `${p.refusal.code}: ${p.refusal.message}` : null;
        if (json) io.stdout(`${JSON.stringify({ phase: p.state?.phase ?? "new", steps: p.steps, preflight: p.preflight, refusal }, null, 2)}\n`);
        else io.stdout(`phase: ${p.state?.phase ?? "new"}\nsteps: ${p.steps.join(" → ") || "(none)"}\n${refusal ? `refused: ${refusal}\n` : ""}${p.preflight ? preflightText(p.preflight) : ""}`);
        return (p.preflight && !p.preflight.ok) || p.refusal ? EXIT.refused : EXIT.ok;
      }
      case "run":
        return print(await runUpgrade(options, { until: untilOf(values), finalize: values.finalize ?? false }), json, io);
      case "rollback":
        return print(await rollbackUpgrade(options), json, io);
      case "finalize":
        return print(await finalizeUpgrade(options), json, io);
      case "forget":
        return print(await forgetUpgrade(options), json, io);
      case "follow": {
        const f = await followUpgrade(options);
        if (json) {
          io.stdout(`${JSON.stringify({ phase: f.phase ?? "new", traffic: f.traffic, rollbackPath: f.rollbackPath, lost: f.lost ?? null }, null, 2)}\n`);
        } else if (f.phase !== "switched" || f.rollbackPath === "none") {
          io.stdout(`phase: ${f.phase ?? "new"}\nnothing to follow: only a switched upgrade, before finalize and with no rollback under way, follows green\n`);
        } else {
          const path = f.rollbackPath === "lost" ? `lost (${f.lost ?? "its slot is gone"}); a rollback is refused (UPGRADE_ROLLBACK_PATH_LOST): finalize when green serves well` : f.rollbackPath;
          io.stdout(`phase: switched\ntraffic: ${f.traffic === "none" ? "no switch given" : f.traffic}\nrollback path: ${path}\n`);
        }
        return EXIT.ok;
      }
      default:
        throw new InputError(`unknown upgrade command "${sub ?? ""}"; use one of plan, run, rollback, finalize, follow, forget`, { propertyPath: "command" });
    }
  } catch (err) {
    if (err instanceof PreflightRefusedError || err instanceof UpgradeRefusedError || err instanceof UpgradeInProgressError) {
      io.stderr(`setpoint: ${err.message}\n`);
      return EXIT.refused;
    }
    throw err;
  } finally {
    await options.traffic?.close();
  }
}

function untilOf(values: Flags): RunUntil | undefined {
  const until = values.until;
  if (until === undefined) return undefined;
  if (!(RUN_UNTIL as readonly string[]).includes(until)) throw new InputError(`--until must be ${RUN_UNTIL.slice(0, -1).join(", ")} or ${RUN_UNTIL.at(-1)}, not "${until}"`, { propertyPath: "until" });
  return until as RunUntil;
}

function upgradeOptions(values: Flags, io: CliIO): UpgradeOptions {
  const blue = values.blue;
  const green = values.green;
  if (!blue) throw new InputError("--blue is required (the database being upgraded, as a superuser)", { propertyPath: "blue" });
  if (!green) throw new InputError("--green is required (the new, empty database, as a superuser)", { propertyPath: "green" });
  const deadline = values.deadline === undefined ? undefined : Number(values.deadline);
  if (deadline !== undefined && !(Number.isInteger(deadline) && deadline > 0)) {
    throw new InputError(`--deadline must be a positive number of milliseconds, not "${values.deadline}"`, { propertyPath: "deadline" });
  }
  const verify = values.verify;
  if (verify !== undefined && verify !== "checksums" && verify !== "counts" && verify !== "none") {
    throw new InputError(`--verify must be checksums, counts or none, not "${verify}"`, { propertyPath: "verify" });
  }
  return {
    blue,
    green,
    schema: values.schema ? loadSchemaPath(values.schema) : undefined,
    store: tableStateStore(blue, values.name ?? "default"),
    traffic: trafficFrom(values, blue, green),
    cutoverDeadlineMs: deadline,
    verify,
    allowObjectsNotCopied: values["allow-objects-not-copied"] ?? false,
    driver: "cli",
    onProgress: (e) => io.stderr(`[${e.phase}] ${e.message}\n`),
  };
}

function trafficFrom(values: Flags, blue: string, green: string): TrafficSwitch | undefined {
  const admin = values["pgbouncer-admin"];
  if (!admin) return undefined;
  const file = values["pgbouncer-file"];
  const db = values["pgbouncer-db"];
  if (!file || !db) throw new InputError("--pgbouncer-admin needs --pgbouncer-file (the %included databases file) and --pgbouncer-db (the database name clients use)", { propertyPath: "pgbouncer-file" });
  // A URL or a libpq connection string: only where the server is, not who logs in.
  const target = (url: string) => {
    const f = connectionFields(url);
    return { host: f.host ?? "localhost", port: f.port ?? 5432, database: f.database ?? "", user: values["pgbouncer-user"] };
  };
  return pgbouncerSwitch({ admin, databasesFile: file, databases: [{ name: db, blue: target(blue), green: target(green) }] });
}

function preflightText(r: PreflightReport): string {
  const lines = [`preflight: ${r.ok ? "ok" : "REFUSED"} (blue PostgreSQL ${r.blue.major}, ${r.blue.tables} table(s), ${r.blue.bytes} bytes; green PostgreSQL ${r.green.major})`];
  for (const f of r.findings) lines.push(`  ${f.severity} [${f.code}] ${f.message}\n    fix: ${f.fix}`);
  return `${lines.join("\n")}\n`;
}

function print(r: UpgradeResult, json: boolean, io: CliIO): number {
  if (json) {
    io.stdout(`${JSON.stringify({ phase: r.state.phase, id: r.state.id, phases: r.phases, verification: r.state.verification ?? null, writePauseMs: r.state.cutover?.writePauseMs ?? null }, null, 2)}\n`);
  } else {
    for (const p of r.phases) io.stdout(`${p.phase}: ${p.status} in ${p.durationMs} ms — ${p.message}\n`);
    io.stdout(`phase: ${r.state.phase}\n`);
  }
  return EXIT.ok;
}
