import { InputError } from "../errors";
import { readCatalog, type Catalog, type CatalogBackup } from "../backup/catalog";
import { parseObjectStoreOptions, type ObjectStoreOptions } from "../backup/config";
import { applyRetention, parseRetention, type RetentionResult } from "../backup/retention";
import { openObjectStore } from "../backup/store";
import { HELP, parseFlags, SUBCOMMANDS, unknownCommand, wantsHelp } from "./args";
import { EXIT, type CliIO } from "./main";

const FLAGS = {
  endpoint: { type: "string" },
  bucket: { type: "string" },
  prefix: { type: "string" },
  region: { type: "string" },
  "path-style": { type: "string" },
  backup: { type: "string" },
  format: { type: "string" },
  retention: { type: "string" },
  "dry-run": { type: "boolean" },
  apply: { type: "boolean" },
} as const;

/**
 * Runs `setpoint backup <list|describe>` against a bucket, without Kubernetes; resolves to the exit
 * code. Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never from flags (they
 * would land in shell history and process listings).
 */
export async function backupCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
    (sub === undefined ? io.stderr : io.stdout)(HELP.backup!);
    return sub === undefined ? EXIT.error : EXIT.ok;
  }
  if (!SUBCOMMANDS.backup!.includes(sub)) throw unknownCommand(sub, SUBCOMMANDS.backup!, "backup");
  if (wantsHelp(rest)) {
    io.stdout(HELP[`backup ${sub}`]!);
    return EXIT.ok;
  }
  const { values } = parseFlags(rest, FLAGS, `backup ${sub}`);
  const format = values.format ?? "text";
  if (format !== "text" && format !== "json") throw new InputError(`--format must be text or json, not "${format}"`, { propertyPath: "format" });
  if (sub !== "retention") {
    for (const flag of ["retention", "dry-run", "apply"] as const) {
      if (values[flag] !== undefined) throw new InputError(`--${flag} belongs to "setpoint backup retention"`, { propertyPath: flag });
    }
  } else {
    if (values.backup !== undefined) throw new InputError(`--backup belongs to "setpoint backup describe"; retention decides which backups go`, { propertyPath: "backup" });
    if (values.retention === undefined) throw new InputError("--retention is required, e.g. --retention 30d (see setpoint backup retention --help)", { propertyPath: "retention" });
    parseRetention(values.retention, "--retention");
    if (values["dry-run"] === values.apply) throw new InputError("give exactly one of --dry-run (print the plan) and --apply (delete what it names)", { propertyPath: "apply" });
  }
  if (sub === "list" && values.backup !== undefined) throw new InputError(`--backup belongs to "setpoint backup describe"; "list" shows every backup`, { propertyPath: "backup" });
  for (const required of ["endpoint", "bucket"] as const) {
    if (values[required] === undefined) throw new InputError(`--${required} is required (see setpoint backup ${sub} --help)`, { propertyPath: required });
  }
  const pathStyle = values["path-style"];
  if (pathStyle !== undefined && pathStyle !== "true" && pathStyle !== "false") throw new InputError(`--path-style must be true or false, not "${pathStyle}"`, { propertyPath: "path-style" });
  const options: ObjectStoreOptions = parseObjectStoreOptions(
    {
      endpoint: values.endpoint,
      bucket: values.bucket,
      ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
      ...(values.region === undefined ? {} : { region: values.region }),
      ...(pathStyle === undefined ? {} : { forcePathStyle: pathStyle === "true" }),
      credentials: { kind: "env" },
    },
    "setpoint backup",
  );
  const store = openObjectStore(options);
  try {
    if (sub === "retention") {
      const result = await applyRetention(store, { period: values.retention!, dryRun: values["dry-run"] === true });
      io.stdout(format === "json" ? `${JSON.stringify(result, null, 2)}\n` : retentionText(result, values.retention!, values["dry-run"] === true));
      return EXIT.ok;
    }
    const { index, ...catalog } = await readCatalog(store);
    void index;
    if (sub === "describe" && values.backup !== undefined) {
      const backup = catalog.backups.find((b) => b.id === values.backup);
      if (backup === undefined) {
        throw new InputError(`no backup ${values.backup} in s3://${catalog.bucket}${catalog.prefix ? `/${catalog.prefix}` : ""} (backups: ${catalog.backups.map((b) => b.id).join(", ") || "none"})`, { propertyPath: "backup" });
      }
      io.stdout(format === "json" ? `${JSON.stringify(backup, null, 2)}\n` : describeBackup(backup));
      return EXIT.ok;
    }
    io.stdout(format === "json" ? `${JSON.stringify(catalog, null, 2)}\n` : sub === "list" ? listText(catalog) : describeText(catalog));
    return EXIT.ok;
  } finally {
    store.close();
  }
}

function size(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

function windowText(c: Catalog): string {
  return c.recoverable ? `recoverable from ${c.recoverable.from} to ${c.recoverable.until}` : "nothing recoverable (no usable base backup)";
}

/** One line per backup, then the recoverable window. */
export function listText(c: Catalog): string {
  const lines = [`s3://${c.bucket}${c.prefix ? `/${c.prefix}` : ""} at ${c.endpoint}: ${windowText(c)}`];
  if (c.backups.length === 0) lines.push("no base backups");
  else lines.push("ID                 USABLE  TIMELINE  END TIME                  SIZE        STORED      RECOVERABLE UNTIL");
  for (const b of c.backups) {
    const m = b.manifest;
    lines.push(
      [b.id.padEnd(18), (b.usable ? "yes" : "no").padEnd(7), String(m?.timeline ?? "-").padEnd(9), (m?.endTime ?? "-").padEnd(25), (m ? size(m.bytes) : "-").padEnd(11), (m ? size(m.storedBytes) : "-").padEnd(11), b.recoverableUntil ?? b.problem ?? ""].join(" "),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The list plus each timeline's archived WAL and its gaps. */
export function describeText(c: Catalog): string {
  const lines = [listText(c).trimEnd(), "", "WAL archive:"];
  if (c.timelines.length === 0) lines.push("  no WAL archived");
  for (const t of c.timelines) {
    lines.push(
      `  timeline ${t.timeline}: ${t.segments} segments ${t.firstWal} .. ${t.lastWal}, archived ${t.firstArchivedAt} .. ${t.lastArchivedAt}, ${size(t.storedBytes)} stored${t.timeline > 1 && !t.history ? ", history file MISSING" : ""}`,
    );
    if (t.missingCount > 0) lines.push(`    ${t.missingCount} segment(s) missing: ${t.missing.join(", ")}${t.missingCount > t.missing.length ? ", ..." : ""}`);
  }
  return `${lines.join("\n")}\n`;
}

/** One backup in full. */
export function describeBackup(b: CatalogBackup): string {
  const m = b.manifest;
  const lines = [`backup ${b.id}: ${b.usable ? "usable" : `NOT usable: ${b.problem}`}`];
  if (m) {
    lines.push(
      `  label           ${m.label}`,
      `  server version  ${m.serverVersionNum}`,
      `  timeline        ${m.timeline}`,
      `  begin           ${m.beginTime}  LSN ${m.startLsn}  (WAL ${m.startWal})`,
      `  end             ${m.endTime}  LSN ${m.endLsn}  (WAL ${m.endWal})`,
      `  size            ${size(m.bytes)} (${size(m.storedBytes)} stored)`,
    );
    for (const a of m.archives) lines.push(`  archive         ${a.key}  ${size(a.bytes)}  sha256 ${a.sha256}${a.tablespace ? `  tablespace ${a.tablespace} at ${a.location ?? "?"}` : ""}`);
    if (b.recoverableUntil) lines.push(`  recoverable     ${b.recoverableFrom} .. ${b.recoverableUntil}${b.lastWal ? ` (WAL up to ${b.lastWal})` : ""}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The retention plan (and what was deleted). */
export function retentionText(r: RetentionResult, period: string, dryRun: boolean): string {
  const p = r.plan;
  const lines = [`retention ${period}: window starts ${p.windowStart}${p.note ? ` (${p.note})` : ""}`];
  for (const k of p.keep) lines.push(`  keep    ${k.id}  ${k.why}`);
  for (const d of p.remove) lines.push(`  delete  ${d.id}  ${d.why}`);
  lines.push(`  WAL: ${p.walObjects.length} file(s) to delete${p.walObjects.length ? ` (${p.walObjects[0]!.split("/").pop()} .. ${p.walObjects[p.walObjects.length - 1]!.split("/").pop()})` : ""}${p.oldestKeptWal ? `; kept from ${p.oldestKeptWal}` : ""}`);
  const total = p.backupObjects.length + p.walObjects.length;
  lines.push(dryRun ? `dry run: would delete ${total} object(s), ${size(p.bytes)}; nothing deleted` : `deleted ${r.deleted} object(s), ${size(p.bytes)}`);
  return `${lines.join("\n")}\n`;
}
