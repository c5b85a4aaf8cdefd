/**
 * Disk usage of cluster instances, measured in the background and turned into work only when it
 * matters: the {@link DiskCollector} samples each running instance's data volume every interval,
 * keeps the latest sample for the reconciler to read (status, the grow decision), and enqueues a
 * cluster only on an edge: one of its instances crosses the auto-grow threshold upwards, or is
 * measured for the first time (so status shows its usage without waiting for a resync). A level
 * source would reconcile a full volume's cluster every interval.
 *
 * How usage is measured (see ADR 0008): over the instance's own superuser connection, as the
 * size of its databases plus its WAL directory ({@link measureDisk}). That works on any
 * Kubernetes and any storage, with no node access (the operator cannot stat a volume mounted on
 * another node); it misses files outside those (logs, temporary files, filesystem overhead), so
 * thresholds should leave a margin. The measurement is injectable: a statfs-exact source (the
 * kubelet's stats/summary `volume.usedBytes`, read through the API server's node proxy) can
 * replace it where the operator may read node stats.
 */
import type { Logger, Request } from "../../reconcile/index";
import { withClient, type InstanceTarget, type OperatorTls } from "./instance-sql";
import type { ClusterMetrics } from "./metrics";

const UNITS: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * Bytes in a Kubernetes quantity such as `10Gi`, `500M` or `1.5Gi` (rounded up to a whole byte).
 * @throws {RangeError} when `q` is not a quantity.
 */
export function quantityBytes(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q);
  if (!m) throw new RangeError(`not a quantity: ${JSON.stringify(q)}`);
  return Math.ceil(Number(m[1]) * UNITS[m[2] ?? ""]!);
}

/** A byte count as a quantity, in the largest binary unit that divides it (`5Gi`, `1536Mi`), else plain bytes. */
export function bytesQuantity(bytes: number): string {
  for (const u of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]) if (bytes % UNITS[u]! === 0 && bytes >= UNITS[u]!) return `${bytes / UNITS[u]!}${u}`;
  return String(bytes);
}

/** One measurement of an instance's disk: the bytes PostgreSQL accounts for (every database plus pg_wal), and of them pg_wal's. */
export interface DiskMeasurement {
  readonly usedBytes: number;
  readonly walBytes: number;
}

/** {@link DiskMeasurement} of an instance, in one query. */
export async function measureDisk(t: InstanceTarget): Promise<DiskMeasurement> {
  return withClient(t, async (c) => {
    const r = await c.query<{ db: string; wal: string }>(
      "select (select coalesce(sum(pg_database_size(oid)), 0) from pg_database)::bigint::text as db, (select coalesce(sum(size), 0) from pg_ls_waldir())::bigint::text as wal",
    );
    const wal = Number(r.rows[0]!.wal);
    return { usedBytes: Number(r.rows[0]!.db) + wal, walBytes: wal };
  });
}

/** One instance the collector should sample. */
export interface DiskTarget {
  /** The owning cluster (what to enqueue). */
  readonly cluster: Request;
  /** The instance (pod and claim) name. */
  readonly instance: string;
  readonly host: string;
  /** @default POSTGRES_PORT (every instance pod's) */
  readonly port?: number;
  /** The size its claim asks for, in bytes. */
  readonly requestedBytes: number;
  /** `spec.storage.autoGrow.thresholdPercent`, when auto-grow is on. */
  readonly thresholdPercent?: number;
  /** The superuser password (read when the sample is taken). */
  readonly password: () => Promise<string>;
  /** The operator's TLS identity towards the instance (read when the sample is taken). @default none: plaintext */
  readonly tls?: () => Promise<OperatorTls | undefined>;
}

/** The latest sample of one instance. */
export interface DiskSample {
  readonly usedBytes: number;
  /** Of `usedBytes`, pg_wal's. */
  readonly walBytes: number;
  readonly at: Date;
}

/** Options of {@link DiskCollector}. */
export interface DiskCollectorOptions {
  /** The instances to sample now (called once per round). */
  readonly targets: () => readonly DiskTarget[];
  /** Called with a cluster whose instance crossed its threshold upwards, or was measured for the first time. */
  readonly enqueue: (req: Request) => void;
  /** How one instance is measured. @default {@link measureDisk} */
  readonly measure?: (t: InstanceTarget) => Promise<DiskMeasurement>;
  /** Where each sample is exported (`setpoint_instance_disk_used_bytes`, `…_wal_bytes`, `…_disk_requested_bytes`). */
  readonly metrics?: ClusterMetrics;
  /** Time between rounds. @default 10_000 ms */
  readonly intervalMs?: number;
  /** Timeout of each measurement. @default 3000 ms */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/** See the module documentation. */
export class DiskCollector {
  private readonly samples = new Map<string, DiskSample>();
  private readonly above = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private running = false;

  constructor(private readonly options: DiskCollectorOptions) {}

  /** The latest sample of `namespace/instance`, if any. */
  usage(namespace: string, instance: string): DiskSample | undefined {
    return this.samples.get(`${namespace}/${instance}`);
  }

  /** Starts sampling (first round at once). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      this.round = this.sampleOnce().finally(() => {
        if (this.running) this.timer = setTimeout(loop, this.options.intervalMs ?? 10_000);
      });
    };
    loop();
  }

  /** Stops sampling and waits for a round in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.round?.catch(() => undefined);
  }

  /** One round: samples every target, enqueues clusters whose instance crossed its threshold upwards. */
  async sampleOnce(): Promise<void> {
    const measure = this.options.measure ?? measureDisk;
    const targets = this.options.targets();
    const seen = new Set<string>();
    await Promise.all(
      targets.map(async (t) => {
        const key = `${t.cluster.namespace}/${t.instance}`;
        seen.add(key);
        let m: DiskMeasurement;
        try {
          const tls = await t.tls?.();
          m = await measure({ host: t.host, ...(t.port === undefined ? {} : { port: t.port }), password: await t.password(), timeoutMs: this.options.timeoutMs ?? 3000, ...(tls ? { tls } : {}) });
        } catch (err) {
          this.options.logger?.debug("disk sample failed", { instance: key, error: err instanceof Error ? err.message : String(err) });
          return;
        }
        const first = !this.samples.has(key);
        const used = m.usedBytes;
        this.samples.set(key, { ...m, at: new Date() });
        this.options.metrics?.disk(t.cluster.namespace, t.cluster.name, t.instance, { ...m, requestedBytes: t.requestedBytes });
        const above = t.thresholdPercent !== undefined && used * 100 >= t.thresholdPercent * t.requestedBytes;
        const was = this.above.get(key) ?? false;
        this.above.set(key, above);
        if (above && !was) {
          this.options.logger?.info("disk threshold crossed", { instance: key, usedBytes: used, requestedBytes: t.requestedBytes, thresholdPercent: t.thresholdPercent });
          this.options.enqueue(t.cluster);
        } else if (first) {
          this.options.enqueue(t.cluster);
        }
      }),
    );
    for (const key of [...this.samples.keys()]) {
      if (!seen.has(key)) {
        this.samples.delete(key);
        this.above.delete(key);
        const slash = key.indexOf("/");
        this.options.metrics?.forgetInstance(key.slice(0, slash), key.slice(slash + 1));
      }
    }
  }
}
