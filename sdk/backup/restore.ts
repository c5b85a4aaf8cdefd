import { createHash } from "node:crypto";
import { appendFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { BackupError, InputError } from "../errors";
import { quoteLiteral } from "../postgres/quote";
import { readCatalog, type Catalog, type CatalogBackup, type SegmentIndex } from "./catalog";
import { parseLsn, segmentName, segnoOf } from "./layout";
import type { BackupManifest } from "./manifest";
import type { ObjectStore } from "./store";
import { extractTar, type Owner } from "../instance/tar";

/** Where recovery stops. */
export type RecoveryTarget =
  /** Replay every archived WAL file. */
  | { kind: "latest" }
  /**
   * Stop after the last commit at or before `time` (before the first commit at or after it when
   * `inclusive` is false). `time` is RFC 3339 with a zone, to any fractional precision: PostgreSQL
   * compares commit times to the microsecond, finer than a `Date` holds (see {@link recoveryTargetTime}).
   */
  | { kind: "time"; time: string; inclusive?: boolean }
  /** Stop after WAL position `lsn` (just before it when `inclusive` is false). */
  | { kind: "lsn"; lsn: string; inclusive?: boolean }
  /** Stop at the restore point created by `pg_create_restore_point(name)`. */
  | { kind: "name"; name: string };

/** A checked restore: which backup, and which archived WAL segments recovery will read. */
export interface RestorePlan {
  target: RecoveryTarget;
  backup: BackupManifest;
  /** First and last segment recovery needs from the archive (all present when planned). */
  firstWal: string;
  lastWal: string;
  segments: number;
}

function where(store: { endpoint: string; bucket: string }): { endpoint: string; bucket: string } {
  return { endpoint: store.endpoint, bucket: store.bucket };
}

/**
 * Chooses the base backup for `target` and proves the archive holds every WAL segment recovery
 * needs, before anything is downloaded: the newest usable backup that ends at or before the target
 * (or `backupId`), then every segment from its start on, none missing: up to the target's for an LSN
 * target, up to the newest archived otherwise (where a time or a restore point lies is not known
 * without reading the WAL).
 * @throws {BackupError} BACKUP_NOT_FOUND, TARGET_BEFORE_OLDEST_BACKUP, TARGET_AFTER_ARCHIVE or
 *   WAL_SEGMENT_MISSING naming the segment; the object store's reasons.
 */
export function planRestore(catalog: Catalog & { index: SegmentIndex }, target: RecoveryTarget, backupId?: string): RestorePlan {
  // A time target read once (and refused first when malformed): every comparison below is in milliseconds.
  const targetMs = target.kind === "time" ? recoveryTargetTime(target.time).ms : undefined;
  const store = { endpoint: catalog.endpoint, bucket: catalog.bucket };
  const bucketText = `s3://${catalog.bucket}${catalog.prefix ? `/${catalog.prefix}` : ""}`;
  const usable = catalog.backups.filter((b): b is CatalogBackup & { manifest: BackupManifest } => b.usable && b.manifest !== undefined);
  let chosen: (CatalogBackup & { manifest: BackupManifest }) | undefined;
  if (backupId !== undefined) {
    const named = catalog.backups.find((b) => b.id === backupId);
    if (named === undefined) throw new BackupError("BACKUP_NOT_FOUND", `no base backup ${backupId} in ${bucketText}`, { ...store, object: backupId });
    if (!named.usable || named.manifest === undefined) throw new BackupError("BACKUP_NOT_FOUND", `base backup ${backupId} in ${bucketText} is not usable: ${named.problem ?? "unknown"}`, { ...store, object: backupId });
    chosen = named as CatalogBackup & { manifest: BackupManifest };
  } else if (usable.length === 0) {
    const broken = catalog.backups.length > 0 ? ` (${catalog.backups.length} unusable: ${catalog.backups.map((b) => `${b.id}: ${b.problem}`).join("; ")})` : "";
    throw new BackupError("BACKUP_NOT_FOUND", `no usable base backup in ${bucketText}${broken}; take a base backup first`, store);
  } else {
    const fits = usable.filter((b) => reaches(b.manifest, target, targetMs));
    chosen = fits[fits.length - 1];
    if (chosen === undefined) {
      const oldest = usable[0]!.manifest;
      throw new BackupError(
        "TARGET_BEFORE_OLDEST_BACKUP",
        `the recovery target ${describeTarget(target)} is before the end of the oldest usable base backup ${oldest.id} (${oldest.endTime}, LSN ${oldest.endLsn}); the earliest point ${bucketText} can restore to is ${oldest.endTime}`,
        { ...store, object: oldest.id },
      );
    }
  }
  if (backupId !== undefined && !reaches(chosen.manifest, target, targetMs)) {
    throw new BackupError("TARGET_BEFORE_OLDEST_BACKUP", `the recovery target ${describeTarget(target)} is before the end of base backup ${chosen.id} (${chosen.manifest.endTime}, LSN ${chosen.manifest.endLsn})`, { ...store, object: chosen.id });
  }
  const m = chosen.manifest;
  const segs = catalog.index.get(m.timeline) ?? new Map();
  const start = segnoOf(m.startLsn, m.segmentBytes);
  const archivedNos = [...segs.keys()].filter((n) => n >= start);
  const newest = archivedNos.reduce((a, b) => (a > b ? a : b), start - 1n);
  let last: bigint;
  if (target.kind === "lsn") {
    last = segnoOf(target.lsn, m.segmentBytes);
    if (last > newest) {
      throw new BackupError("TARGET_AFTER_ARCHIVE", `the recovery target LSN ${target.lsn} is beyond the archived WAL of timeline ${m.timeline} in ${bucketText} (newest segment ${segmentName(m.timeline, newest, m.segmentBytes)})`, store);
    }
  } else {
    // Which segment holds a time or a restore point is not known without reading the WAL (an
    // archive time bounds a segment's content from above only: archiving lags), so every segment
    // archived after the backup must be there. PostgreSQL itself refuses to end recovery short of
    // a time or name target (FATAL), which the restored server's log check turns into RECOVERY_FAILED.
    last = newest;
    if (target.kind === "time") {
      const newestAt = segs.get(newest)?.lastModified;
      if (newestAt === undefined || newestAt.getTime() < targetMs!) {
        throw new BackupError(
          "TARGET_AFTER_ARCHIVE",
          `the recovery target ${describeTarget(target)} is after the newest archived WAL of timeline ${m.timeline} in ${bucketText} (archived ${newestAt?.toISOString() ?? "never"}); WAL written since is not archived yet`,
          store,
        );
      }
    }
  }
  const endNo = segnoOf(m.endLsn, m.segmentBytes);
  if (last < endNo) last = endNo;
  for (let n = start; n <= last; n++) {
    if (!segs.has(n)) {
      const name = segmentName(m.timeline, n, m.segmentBytes);
      throw new BackupError(
        "WAL_SEGMENT_MISSING",
        `WAL segment ${name} is missing from ${bucketText}: recovery from base backup ${m.id} to ${describeTarget(target)} needs every segment from ${m.startWal} to ${segmentName(m.timeline, last, m.segmentBytes)}; restoring would stop short of the target`,
        { ...store, object: name },
      );
    }
  }
  return { target, backup: m, firstWal: m.startWal, lastWal: segmentName(m.timeline, last, m.segmentBytes), segments: Number(last - start + 1n) };
}

/**
 * Bytes of archived WAL (as stored: compressed segments count what they hold, not 16 MiB each) a
 * recovery from `backup` to the archive's end fetches: every segment from the backup's start on,
 * on its timeline and the later ones. Pure.
 */
export function archivedWalBytesAfter(index: SegmentIndex, backup: Pick<BackupManifest, "timeline" | "startLsn" | "segmentBytes">): number {
  const start = segnoOf(backup.startLsn, backup.segmentBytes);
  let bytes = 0;
  for (const [timeline, segments] of index) {
    if (timeline < backup.timeline) continue;
    for (const [segno, object] of segments) if (segno >= start) bytes += object.size;
  }
  return bytes;
}

/** Whether a restore from this backup can reach `target` (the backup is consistent at or before it); `targetMs`: a time target's instant. */
function reaches(m: BackupManifest, target: RecoveryTarget, targetMs: number | undefined): boolean {
  switch (target.kind) {
    case "time":
      return new Date(m.endTime).getTime() <= targetMs!;
    case "lsn":
      return parseLsn(m.endLsn) <= parseLsn(target.lsn);
    default:
      return true;
  }
}

/** The target for messages. */
export function describeTarget(target: RecoveryTarget): string {
  switch (target.kind) {
    case "latest":
      return "the latest archived WAL";
    case "time":
      return `time ${target.time}`;
    case "lsn":
      return `LSN ${target.lsn}`;
    case "name":
      return `restore point "${target.name}"`;
  }
}

/** Extracts a tar stream into a directory; resolves to the bytes read. */
export type TarExtractor = (data: AsyncIterable<Buffer>, dir: string) => Promise<number>;

/** Options of {@link restoreBackup}. */
export interface RestoreOptions {
  target: RecoveryTarget;
  /** A specific base backup. @default the newest that reaches the target */
  backupId?: string;
  /** The new data directory: missing or empty. */
  dataDir: string;
  /** The `restore_command` the restored server runs (e.g. the WAL CLI's `restore %f %p`). */
  restoreCommand: string;
  /** Directory each tablespace is restored into, by OID. @default its location on the source */
  tablespaceDir?: (oid: string, location: string | undefined) => string;
  /** Extra settings for the restored server's postgresql.auto.conf (e.g. its own archive_command). */
  settings?: Readonly<Record<string, string>>;
  /** Owner of every restored file (a root process restoring for the server's user). @default this process's user */
  owner?: Owner;
  /** The tar extractor. @default extractTar (sdk/instance/tar.ts) */
  extract?: TarExtractor;
  /** The bucket's catalog when the caller has just read it (a replica weighing the WAL first). @default read here */
  catalog?: Catalog & { index: SegmentIndex };
}

/** Outcome of {@link restoreBackup}. */
export interface RestoreResult {
  plan: RestorePlan;
  /** Uncompressed bytes extracted. */
  bytes: number;
  seconds: number;
}

/**
 * Prepares a data directory that recovers to `target` when started: plans (see
 * {@link planRestore}; nothing is written when it refuses), downloads and checks each archive of the
 * base backup into `dataDir` (and tablespace directories), then writes the recovery settings
 * (`restore_command`, the target, `recovery_target_action = 'promote'`) and `recovery.signal`.
 * Start the server on `dataDir` next and wait with {@link recoveryFailure} watching its log.
 * @throws {BackupError} DESTINATION_NOT_EMPTY, the planning errors, CHECKSUM_MISMATCH (the
 *   directory is removed again: nothing half-restored is left), the object store's reasons.
 */
export async function restoreBackup(store: ObjectStore, options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  let dataDirExisted = true;
  const existing = await readdir(options.dataDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
    dataDirExisted = false;
    return [];
  });
  if (existing.length > 0) {
    throw new BackupError("DESTINATION_NOT_EMPTY", `the restore destination ${options.dataDir} is not empty (${existing.length} entries); restore into a new, empty directory`, { ...where(store), object: options.dataDir });
  }
  const plan = planRestore(options.catalog ?? (await readCatalog(store)), options.target, options.backupId);
  const extract: TarExtractor = options.extract ?? ((data, dir) => extractTar(data, dir, options.owner));
  const created: string[] = [];
  let bytes = 0;
  try {
    for (const archive of plan.backup.archives) {
      const dir = archive.tablespace === null ? options.dataDir : (options.tablespaceDir?.(archive.tablespace, archive.location) ?? archive.location);
      if (dir === undefined) throw new BackupError("STORE_ERROR", `the manifest of ${plan.backup.id} has no location for tablespace ${archive.tablespace}; pass tablespaceDir`, where(store));
      created.push(dir);
      const object = await store.stream(archive.key);
      if (object === undefined) throw new BackupError("BACKUP_NOT_FOUND", `archive ${archive.key} of base backup ${plan.backup.id} is missing from s3://${store.bucket}`, { ...where(store), object: archive.key });
      const hash = createHash("sha256");
      const tar = archive.compression === "none" ? object.body : gunzipped(object.body);
      const hashed = (async function* () {
        for await (const chunk of tar) {
          hash.update(chunk);
          yield chunk;
        }
      })();
      const n = await extract(hashed, dir);
      const digest = hash.digest("hex");
      if (digest !== archive.sha256) {
        throw new BackupError("CHECKSUM_MISMATCH", `archive ${archive.key} of base backup ${plan.backup.id} is damaged: sha256 ${digest}, the manifest records ${archive.sha256}`, { ...where(store), object: archive.key });
      }
      bytes += n;
    }
    await writeRecoveryConfig(options.dataDir, plan.target, options.restoreCommand, options.settings ?? {});
  } catch (err) {
    // Nothing half-restored stays: what this restore wrote goes, a directory that was there (empty) stays.
    for (const dir of created) {
      if (dir === options.dataDir && existing.length === 0 && dataDirExisted) {
        for (const entry of await readdir(dir).catch(() => [])) await rm(join(dir, entry), { recursive: true, force: true });
      } else {
        await rm(dir, { recursive: true, force: true });
      }
    }
    throw err;
  }
  return { plan, bytes, seconds: (Date.now() - started) / 1000 };
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A time target as PostgreSQL compares it: `text` is timestamptz input in UTC to the microsecond
 * (PostgreSQL's resolution; commit times are whole microseconds), `ms` the same instant for
 * comparisons with millisecond times. Digits beyond the microsecond round down for an inclusive
 * target and up for an exclusive one, so that exactly the commits at or before (before) `time`
 * are kept. Nothing passes through a `Date`, which would drop the microseconds: a target of
 * 10:00:00.123456 taken as 10:00:00.123 would lose a commit at 10:00:00.123400.
 * @throws {InputError} when `time` is not RFC 3339 with a zone (e.g. 2026-01-02T03:04:05.123456Z).
 */
export function recoveryTargetTime(time: string, inclusive = true): { text: string; ms: number } {
  const m = RFC3339.exec(time);
  const wholeMs = m ? Date.parse(`${m[1]}T${m[2]}${m[4]}`) : NaN;
  // Date.parse rolls 2026-02-30 over to March: the date and time must read back as written.
  if (!m || Number.isNaN(wholeMs) || new Date(Date.parse(`${m[1]}T${m[2]}Z`)).toISOString().slice(0, 19) !== `${m[1]}T${m[2]}`) {
    throw new InputError(`the recovery target time ${JSON.stringify(time)} is not an RFC 3339 time with a zone; write e.g. 2026-01-02T03:04:05.123456Z`, { propertyPath: "target.time" });
  }
  const digits = m[3] ?? "";
  const beyond = /[1-9]/.test(digits.slice(6));
  const micros = wholeMs * 1000 + Number(digits.slice(0, 6).padEnd(6, "0")) + (beyond && !inclusive ? 1 : 0);
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  return { text: `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(((micros % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, "0")}+00`, ms };
}

/**
 * Appends the recovery settings to postgresql.auto.conf and creates recovery.signal. A time or LSN
 * target is inclusive unless it says otherwise: a time target keeps the commits at exactly that time.
 *
 * A base backup taken from a standby carries that standby's `standby.signal` and its
 * `primary_conninfo`/`primary_slot_name`: with them the restored server would start in standby
 * mode (which wins over recovery.signal), stream from the source's primary, and — to the latest
 * point — never end recovery. So the signal file goes and both settings are emptied (later lines
 * of postgresql.auto.conf win): the restored server reads WAL from the archive only.
 */
export async function writeRecoveryConfig(dataDir: string, target: RecoveryTarget, restoreCommand: string, settings: Readonly<Record<string, string>>): Promise<void> {
  await rm(join(dataDir, "standby.signal"), { force: true });
  const conf: Record<string, string> = { restore_command: restoreCommand, recovery_target_timeline: "latest", primary_conninfo: "", primary_slot_name: "", ...settings };
  switch (target.kind) {
    case "latest":
      break;
    case "time":
      conf.recovery_target_time = recoveryTargetTime(target.time, target.inclusive ?? true).text;
      break;
    case "lsn":
      conf.recovery_target_lsn = target.lsn;
      break;
    case "name":
      conf.recovery_target_name = target.name;
      break;
  }
  if (target.kind !== "latest") {
    conf.recovery_target_inclusive = target.kind === "name" || (target.inclusive ?? true) ? "on" : "off";
    conf.recovery_target_action = "promote";
  }
  const lines = Object.entries(conf).map(([k, v]) => `${k} = ${quoteLiteral(v)}`);
  await appendFile(join(dataDir, "postgresql.auto.conf"), `\n# Setpoint restore\n${lines.join("\n")}\n`);
  await writeFile(join(dataDir, "recovery.signal"), "");
}

/**
 * The reason in a restored server's log that recovery failed short of its target, or undefined.
 * PostgreSQL stops with FATAL when the archive ends before the target or a restore_command failed.
 */
export function recoveryFailure(log: string): string | undefined {
  const lines = log.split("\n");
  const fatal = lines.find((l) => /FATAL:\s+(recovery ended before configured recovery target was reached|could not locate required checkpoint record|requested timeline|restore_command|could not restore file|WAL ends before end of online backup|archive file .* has wrong size)/.test(l));
  if (fatal !== undefined) return fatal.replace(/^.*FATAL:\s+/, "");
  const failed = lines.find((l) => /FATAL:.*recovery/i.test(l));
  return failed?.replace(/^.*FATAL:\s+/, "");
}

/** The gunzipped content of a stream (every gzip member of it, in order). */
function gunzipped(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const gunzip = createGunzip();
  void (async () => {
    try {
      for await (const chunk of source) if (!gunzip.write(chunk)) await new Promise((r) => gunzip.once("drain", r));
      gunzip.end();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  })();
  return gunzip as AsyncIterable<Buffer>;
}
