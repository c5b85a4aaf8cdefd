import { InputError } from "../errors";
import { BASE_PREFIX, DEFAULT_SEGMENT_BYTES, isBackupId, manifestKey, parseWalName, WAL_PREFIX, type WalFile } from "./layout";
import { readCatalog, type CatalogBackup } from "./catalog";
import type { ObjectStore, StoredObject } from "./store";

/**
 * Retention (docs/adr/0030-backup-retention-and-operations.md): a pure plan of which base backups
 * and WAL files of a bucket to delete for a period such as `30d`, then its application.
 *
 * The rule: every base backup that ends inside the window (at or after `now - period`) is kept, and
 * so is the newest usable backup that ends before the window starts (it is what a restore to the
 * window's first instant starts from). Every other backup goes. The WAL that goes is what lies
 * entirely before the start segment of the oldest kept backup (segments, `.partial` and `.backup`
 * files of any timeline): recovery from a kept backup reads only WAL at or after its start, so
 * nothing a kept backup needs to reach any point after it is deleted. A timeline's `.history` file
 * goes only when neither that timeline nor a later one keeps anything.
 */

/** A retention period in hours. */
const UNIT_HOURS = { h: 1, d: 24, w: 24 * 7 } as const;

/**
 * Parses a retention period (`12h`, `30d`, `4w`: the shape of `spec.backup.retention`) into milliseconds.
 * @throws {InputError} naming the value's problem and the allowed shape.
 */
export function parseRetention(period: string, source = "retention"): number {
  const m = /^([1-9][0-9]{0,4})([hdw])$/.exec(period);
  if (!m) throw new InputError(`${source}: "${period}" is not a retention period; use a whole number of hours, days or weeks, e.g. 12h, 30d, 4w`, { propertyPath: source });
  return Number(m[1]) * UNIT_HOURS[m[2] as keyof typeof UNIT_HOURS] * 3_600_000;
}

/** The start time of a backup id (`20261205T194501Z`). */
export function backupIdTime(id: string): Date | undefined {
  if (!isBackupId(id)) return undefined;
  const t = Date.parse(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}Z`);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** What retention decided about one base backup. */
export interface RetainedBackup {
  id: string;
  /** Why it stays or goes. */
  why: string;
}

/** The plan: what to delete and what stays, and why. Nothing is deleted by planning. */
export interface RetentionPlan {
  /** Start of the window (ISO): `now - period`. */
  windowStart: string;
  keep: RetainedBackup[];
  remove: RetainedBackup[];
  /** Keys (relative to the prefix) of every object of the removed backups: manifest first. */
  backupObjects: string[];
  /** Keys of the WAL files to delete, oldest first. */
  walObjects: string[];
  /** Bytes stored in all objects to delete. */
  bytes: number;
  /** First segment still kept (the oldest kept backup's start), when a backup is kept. */
  oldestKeptWal?: string;
  /** Why nothing is deleted, when that is the case for a reason other than "all is in the window". */
  note?: string;
}

/** What {@link planRetention} reads: the catalog's backups and every object under base/ and wal/. */
export interface RetentionInput {
  backups: readonly CatalogBackup[];
  /** Every object under `base/`. */
  baseObjects: readonly StoredObject[];
  /** Every object under `wal/`. */
  walObjects: readonly StoredObject[];
  now: Date;
  /** Milliseconds (see {@link parseRetention}). */
  periodMs: number;
}

/**
 * Plans retention (pure: the same input gives the same plan). Never removes the newest usable
 * backup, never removes anything when the bucket has no usable backup (there is nothing to measure
 * "needed" against), and removes a manifest-less (failed or running) backup only when it began
 * before the window.
 */
export function planRetention(input: RetentionInput): RetentionPlan {
  const windowStartMs = input.now.getTime() - input.periodMs;
  const windowStart = new Date(windowStartMs).toISOString();
  const endMs = (b: CatalogBackup): number | undefined => (b.manifest ? Date.parse(b.manifest.endTime) : undefined);
  const usable = input.backups.filter((b) => b.usable && b.manifest !== undefined);
  const empty = (note?: string): RetentionPlan => ({
    windowStart,
    keep: input.backups.map((b) => ({ id: b.id, why: note ?? "in the window" })),
    remove: [],
    backupObjects: [],
    walObjects: [],
    bytes: 0,
    ...(note ? { note } : {}),
  });
  if (usable.length === 0) return empty("no usable base backup in the bucket: retention deletes nothing until one exists");
  const beforeWindow = usable.filter((b) => endMs(b)! < windowStartMs);
  const anchor = beforeWindow.reduce<CatalogBackup | undefined>((a, b) => (a === undefined || endMs(b)! >= endMs(a)! ? b : a), undefined);
  const newestUsable = usable.reduce((a, b) => (endMs(b)! >= endMs(a)! ? b : a));

  const keep: RetainedBackup[] = [];
  const remove: RetainedBackup[] = [];
  for (const b of input.backups) {
    const end = endMs(b);
    if (b === newestUsable) keep.push({ id: b.id, why: end! >= windowStartMs ? "ends in the window" : "the newest usable backup" });
    else if (b === anchor) keep.push({ id: b.id, why: `the newest usable backup before the window: a restore to ${windowStart} starts from it` });
    else if (end !== undefined && end >= windowStartMs) keep.push({ id: b.id, why: "ends in the window" });
    else if (end === undefined) {
      // No manifest (failed, or still running): its start time is in its id.
      const began = backupIdTime(b.id)?.getTime();
      if (began !== undefined && began < windowStartMs) remove.push({ id: b.id, why: `incomplete and begun before the window: ${b.problem ?? "no manifest"}` });
      else keep.push({ id: b.id, why: "incomplete but recent (it may still be running)" });
    } else remove.push({ id: b.id, why: b.usable ? "ended before the window, and a newer backup covers the window's start" : `ended before the window and is not usable: ${b.problem ?? "unknown"}` });
  }

  // The oldest segment any kept backup reads: its start. Segment numbers count bytes of WAL, the
  // same on every timeline, so one cutoff serves them all.
  const keptIds = new Set(keep.map((k) => k.id));
  const kept = input.backups.filter((b) => keptIds.has(b.id));
  const segmentBytes = usable[0]!.manifest!.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const starts = kept.flatMap((b) => (b.manifest ? [parseWalName(b.manifest.startWal, b.manifest.segmentBytes)!] : []));
  const oldest = starts.reduce<WalFile | undefined>((a, f) => (a === undefined || ("segno" in f && "segno" in a && f.segno < a.segno) ? f : a), undefined);
  const cutoff = oldest !== undefined && "segno" in oldest ? oldest.segno : undefined;

  const backupObjects: string[] = [];
  let bytes = 0;
  for (const r of remove) {
    const objects = input.baseObjects.filter((o) => o.key.startsWith(`${BASE_PREFIX}${r.id}/`));
    // The manifest goes first: a backup whose deletion is interrupted is left incomplete (never
    // used by a restore) and the next run, which sees it begun before the window, finishes it.
    objects.sort((a, b) => (a.key === manifestKey(r.id) ? -1 : b.key === manifestKey(r.id) ? 1 : a.key < b.key ? -1 : 1));
    for (const o of objects) {
      backupObjects.push(o.key);
      bytes += o.size;
    }
  }

  const walObjects: string[] = [];
  if (cutoff !== undefined) {
    const parsed = input.walObjects
      .map((o) => ({ o, file: parseWalName(o.key.split("/").pop()!.replace(/\.gz$/, ""), segmentBytes) }))
      .filter((x): x is { o: StoredObject; file: WalFile } => x.file !== undefined && x.o.key.startsWith(WAL_PREFIX));
    const goes = (f: WalFile): boolean => f.kind !== "timeline-history" && f.segno < cutoff;
    // A timeline keeps its history file while it or a later timeline keeps any WAL or backup.
    const keptTimelines = new Set<number>([...parsed.filter((x) => x.file.kind !== "timeline-history" && !goes(x.file)).map((x) => x.file.timeline), ...kept.flatMap((b) => (b.manifest ? [b.manifest.timeline] : []))]);
    const newestKeptTimeline = Math.max(0, ...keptTimelines);
    const doomed = parsed.filter((x) => (x.file.kind === "timeline-history" ? x.file.timeline > newestKeptTimeline : goes(x.file)));
    doomed.sort((a, b) => {
      const sa = "segno" in a.file ? a.file.segno : -1n;
      const sb = "segno" in b.file ? b.file.segno : -1n;
      return sa < sb ? -1 : sa > sb ? 1 : a.o.key < b.o.key ? -1 : a.o.key > b.o.key ? 1 : 0;
    });
    for (const x of doomed) {
      walObjects.push(x.o.key);
      bytes += x.o.size;
    }
  }
  return {
    windowStart,
    keep,
    remove,
    backupObjects,
    walObjects,
    bytes,
    ...(oldest ? { oldestKeptWal: oldest.name } : {}),
  };
}

/** Outcome of {@link applyRetention}. */
export interface RetentionResult {
  plan: RetentionPlan;
  /** Objects deleted by this run. */
  deleted: number;
}

/**
 * Reads the bucket, plans retention for `period` and, unless `dryRun`, deletes what the plan names:
 * the removed backups (each manifest first), then the WAL, oldest first. Deleting an object that is
 * already gone is success, and an interrupted run leaves a state the next run plans to the same
 * end (a removed backup without its manifest is an incomplete one from before the window).
 * @throws {InputError} for a malformed period (nothing is read or deleted).
 * @throws {BackupError} the object store's reasons; what was deleted before the failure stays deleted.
 */
export async function applyRetention(store: ObjectStore, options: { period: string; now?: Date; dryRun?: boolean }): Promise<RetentionResult> {
  const periodMs = parseRetention(options.period);
  const catalog = await readCatalog(store);
  const baseObjects: StoredObject[] = [];
  for await (const o of store.list(BASE_PREFIX)) baseObjects.push(o);
  const walObjects: StoredObject[] = [];
  for await (const o of store.list(WAL_PREFIX)) walObjects.push(o);
  const plan = planRetention({ backups: catalog.backups, baseObjects, walObjects, now: options.now ?? new Date(), periodMs });
  if (options.dryRun) return { plan, deleted: 0 };
  let deleted = 0;
  for (const key of [...plan.backupObjects, ...plan.walObjects]) {
    await store.remove(key);
    deleted++;
  }
  return { plan, deleted };
}
