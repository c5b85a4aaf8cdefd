import { BASE_PREFIX, DEFAULT_SEGMENT_BYTES, manifestKey, parseWalName, segmentName, WAL_PREFIX } from "./layout";
import { parseManifest, type BackupManifest } from "./manifest";
import type { ObjectStore, StoredObject } from "./store";

/** One base backup in the bucket, and whether a restore can use it. */
export interface CatalogBackup {
  id: string;
  /** Its manifest, when one is there and valid. */
  manifest?: BackupManifest;
  /** A restore can use it: complete, and the WAL from its start to its end is archived. */
  usable: boolean;
  /** Why it is not usable. */
  problem?: string;
  /** ISO time from which a restore from this backup can reach (its end). */
  recoverableFrom?: string;
  /**
   * ISO time up to which the archived WAL after this backup reaches without a gap: the archive time
   * of the last segment of the unbroken run from its start (WAL written up to then is there).
   */
  recoverableUntil?: string;
  /** Name of the last segment of that run. */
  lastWal?: string;
}

/** The archived WAL of one timeline. */
export interface TimelineWal {
  timeline: number;
  /** Oldest and newest archived segment. */
  firstWal: string;
  lastWal: string;
  /** Number of archived segments. */
  segments: number;
  /** Segments missing between the first and the newest (at most 20 listed). */
  missing: string[];
  /** Total number missing. */
  missingCount: number;
  /** Archive times of the oldest and newest segment (ISO). */
  firstArchivedAt: string;
  lastArchivedAt: string;
  /** Whether the timeline's .history file is archived (every timeline after 1 has one). */
  history: boolean;
  /** Bytes stored for this timeline's WAL. */
  storedBytes: number;
}

/** What a bucket holds: base backups, archived WAL per timeline, and the recoverable window. */
export interface Catalog {
  endpoint: string;
  bucket: string;
  prefix: string;
  /** Oldest first. */
  backups: CatalogBackup[];
  /** By timeline. */
  timelines: TimelineWal[];
  /** The earliest and latest time a restore can reach, over all usable backups; undefined when none. */
  recoverable?: { from: string; until: string };
}

/** Archived segments of one timeline by segment number. */
export type SegmentIndex = Map<number, Map<bigint, StoredObject>>;

/**
 * Reads the bucket's catalog: every manifest (validated; a broken one makes its backup unusable,
 * never the listing fail) and every WAL object's name, size and time.
 * @throws {BackupError} the object store's reasons (missing bucket, refused credentials, unreachable endpoint).
 */
export async function readCatalog(store: ObjectStore): Promise<Catalog & { index: SegmentIndex }> {
  await store.check();
  const baseObjects: StoredObject[] = [];
  for await (const o of store.list(BASE_PREFIX)) baseObjects.push(o);
  const ids = [...new Set(baseObjects.map((o) => o.key.slice(BASE_PREFIX.length).split("/")[0]!).filter((x) => x !== ""))].sort();
  const manifests = new Map<string, { manifest: BackupManifest } | { problem: string }>();
  for (const id of ids) {
    if (!baseObjects.some((o) => o.key === manifestKey(id))) {
      manifests.set(id, { problem: "incomplete: no backup.json (the backup failed or is still running)" });
      continue;
    }
    const got = await store.get(manifestKey(id));
    manifests.set(id, got === undefined ? { problem: "backup.json disappeared while listing" } : parseManifest(got.body.toString("utf8")));
  }
  const segmentBytes = [...manifests.values()].map((m) => ("manifest" in m ? m.manifest.segmentBytes : undefined)).find((x) => x !== undefined) ?? DEFAULT_SEGMENT_BYTES;

  const index: SegmentIndex = new Map();
  const timelines = new Map<number, { history: boolean; storedBytes: number }>();
  for await (const o of store.list(WAL_PREFIX)) {
    const name = o.key.split("/").pop()!.replace(/\.gz$/, "");
    const file = parseWalName(name, segmentBytes);
    if (file === undefined) continue;
    const tl = timelines.get(file.timeline) ?? { history: false, storedBytes: 0 };
    tl.storedBytes += o.size;
    timelines.set(file.timeline, tl);
    if (file.kind === "timeline-history") tl.history = true;
    if (file.kind !== "segment") continue;
    let segs = index.get(file.timeline);
    if (segs === undefined) index.set(file.timeline, (segs = new Map()));
    segs.set(file.segno, o);
  }

  const timelineList: TimelineWal[] = [];
  for (const [timeline, info] of [...timelines].sort((a, b) => a[0] - b[0])) {
    const segs = index.get(timeline);
    if (segs === undefined || segs.size === 0) continue;
    const nos = [...segs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const first = nos[0]!;
    const last = nos[nos.length - 1]!;
    const missing: string[] = [];
    let missingCount = 0;
    for (let n = first; n <= last; n++) {
      if (segs.has(n)) continue;
      missingCount++;
      if (missing.length < 20) missing.push(segmentName(timeline, n, segmentBytes));
    }
    timelineList.push({
      timeline,
      firstWal: segmentName(timeline, first, segmentBytes),
      lastWal: segmentName(timeline, last, segmentBytes),
      segments: segs.size,
      missing,
      missingCount,
      firstArchivedAt: segs.get(first)!.lastModified.toISOString(),
      lastArchivedAt: segs.get(last)!.lastModified.toISOString(),
      history: info.history,
      storedBytes: info.storedBytes,
    });
  }

  const backups: CatalogBackup[] = ids.map((id) => {
    const m = manifests.get(id)!;
    if ("problem" in m) return { id, usable: false, problem: m.problem };
    return assess(m.manifest, index);
  });
  backups.sort((a, b) => (a.manifest?.endTime ?? a.id).localeCompare(b.manifest?.endTime ?? b.id));
  const usable = backups.filter((b) => b.usable);
  const recoverable =
    usable.length === 0
      ? undefined
      : { from: usable[0]!.recoverableFrom!, until: usable.map((b) => b.recoverableUntil!).reduce((a, b) => (a > b ? a : b)) };
  return { endpoint: store.endpoint, bucket: store.bucket, prefix: store.prefix, backups, timelines: timelineList, ...(recoverable ? { recoverable } : {}), index };
}

/** Whether a backup's WAL from start to end is archived, and how far the unbroken WAL after it reaches. */
function assess(manifest: BackupManifest, index: SegmentIndex): CatalogBackup {
  const segs = index.get(manifest.timeline) ?? new Map<bigint, StoredObject>();
  const start = parseWalName(manifest.startWal, manifest.segmentBytes)!;
  const end = parseWalName(manifest.endWal, manifest.segmentBytes)!;
  if (start.kind !== "segment" || end.kind !== "segment") return { id: manifest.id, manifest, usable: false, problem: "manifest names no WAL segments" };
  let n = start.segno;
  while (segs.has(n)) n++;
  const base = { id: manifest.id, manifest, recoverableFrom: manifest.endTime };
  if (n <= end.segno && !manifest.walIncluded) {
    return { ...base, usable: false, problem: `WAL segment ${segmentName(manifest.timeline, n, manifest.segmentBytes)} (needed to make the backup consistent) is not archived` };
  }
  const last = n - 1n;
  const lastObject = segs.get(last);
  return {
    ...base,
    usable: true,
    recoverableUntil: lastObject === undefined || lastObject.lastModified.toISOString() < manifest.endTime ? manifest.endTime : lastObject.lastModified.toISOString(),
    ...(lastObject ? { lastWal: segmentName(manifest.timeline, last, manifest.segmentBytes) } : {}),
  };
}
