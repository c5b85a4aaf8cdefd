/**
 * Preflight of a `postgresVersion` bump before anything exists (ADR 0037). While a cluster runs,
 * the cluster controller inspects its primary now and then and records in
 * `status.upgradeReadiness`, for each supported major above the running one, the engine's
 * preflight findings that need only blue and the new major's packages (a table without a replica
 * identity, an extension the new major does not ship, ...). `pulumi preview` reads them and
 * refuses a bump with errors, naming the fix; the controller checks again, live, before it creates
 * the upgrade, and refuses (`UpgradePreflightRefused`) with nothing created.
 */
import type { PostgresClusterStatus } from "../../api/postgres-cluster";
import { shippedExtensions } from "../../postgres/extensions";
import { SUPPORTED_MAJORS, type PostgresMajor } from "../../postgres/versions";
import { observeBlue, predictPreflight, readinessRefusal } from "../../upgrade/preflight-predict";
import type { MajorDecision } from "./major-upgrade";
import { withClient, type InstanceTarget } from "./instance-sql";

export { readinessRefusal } from "../../upgrade/preflight-predict";

/** `status.upgradeReadiness`. */
export type UpgradeReadiness = NonNullable<PostgresClusterStatus["upgradeReadiness"]>;

/** How old a readiness may get before a steady cluster's primary is inspected again. */
export const READINESS_REFRESH_MS = 60_000;
/** Findings kept per target in status (the count of the others is `more`). */
const MAX_FINDINGS = 20;

/** Where the primary is, as the controller connects to it: its application database. */
export type ReadinessTarget = InstanceTarget & { readonly database: string };

/** Pure: whether a steady cluster running `running` needs a new inspection at `now`. */
export function readinessDue(status: PostgresClusterStatus | undefined, running: number, now: Date): boolean {
  const r = status?.upgradeReadiness;
  if (r === undefined || r.postgresVersion !== running) return true;
  const at = Date.parse(r.checkedAt);
  return !Number.isFinite(at) || now.getTime() - at >= READINESS_REFRESH_MS;
}

/**
 * Inspects the primary's application database and predicts the preflight of every supported major
 * above `running` (or only `only`, for the live check before an upgrade is created).
 * @param extensionsOf the extensions a major's image ships @default {@link shippedExtensions}
 * @throws when the primary cannot be reached or queried (the caller keeps the last readiness).
 */
export async function inspectReadiness(
  at: ReadinessTarget,
  running: number,
  now: Date,
  options: { only?: number; extensionsOf?: (major: PostgresMajor) => ReadonlySet<string> | undefined } = {},
): Promise<UpgradeReadiness> {
  return withClient({ ...at, applicationName: "setpoint-operator-readiness" }, async (client) => {
    const blue = await observeBlue(client);
    const extensionsOf = options.extensionsOf ?? ((m: PostgresMajor) => shippedExtensions(m));
    const majors = SUPPORTED_MAJORS.filter((m) => m > running && (options.only === undefined || m === options.only));
    return {
      postgresVersion: running,
      checkedAt: now.toISOString().replace(/\.\d+Z$/, "Z"),
      targets: majors.map((m) => {
        const available = extensionsOf(m);
        const all = predictPreflight(blue, { major: m, ...(available ? { availableExtensions: available } : {}) });
        const findings = all.slice(0, MAX_FINDINGS).map((f) => ({ code: f.code, severity: f.severity, ...(f.object ? { object: f.object } : {}), message: f.message, fix: f.fix }));
        return { postgresVersion: m, findings, ...(all.length > MAX_FINDINGS ? { more: all.length - MAX_FINDINGS } : {}) };
      }),
    };
  });
}

/** What {@link readinessStep} decided. */
export interface ReadinessOutcome {
  /** The readiness for status (the last one when nothing was inspected). */
  readonly readiness?: UpgradeReadiness;
  /** The major decision, turned into a refusal when the live check before creating the upgrade found errors. */
  readonly decision: MajorDecision;
  /** Why the primary could not be inspected (logged; the last readiness stays). */
  readonly error?: string;
}

/**
 * The cluster controller's readiness step: before it creates a cluster's PostgresUpgrade, checks
 * the target live and refuses with nothing created when the engine's preflight would; while the
 * cluster is steady, refreshes `status.upgradeReadiness` every {@link READINESS_REFRESH_MS}.
 * @param primary the primary's address when it answers as a primary, else undefined.
 */
export async function readinessStep(o: {
  readonly status: PostgresClusterStatus | undefined;
  readonly decision: MajorDecision;
  readonly primary: (() => Promise<ReadinessTarget>) | undefined;
  readonly now: Date;
  readonly inspect?: typeof inspectReadiness;
}): Promise<ReadinessOutcome> {
  const last = o.status?.upgradeReadiness;
  const d = o.decision;
  const inspect = o.inspect ?? inspectReadiness;
  if (o.primary === undefined || o.status?.upgrade !== undefined) return { ...(last ? { readiness: last } : {}), decision: d };
  try {
    if (d.kind === "upgrade") {
      const live = await inspect(await o.primary(), d.from, o.now, { only: d.to });
      const readiness: UpgradeReadiness = last?.postgresVersion === d.from ? { ...live, targets: [...last.targets.filter((t) => t.postgresVersion !== d.to), ...live.targets].sort((a, b) => a.postgresVersion - b.postgresVersion) } : live;
      const refusal = readinessRefusal(readiness, d.to);
      return { readiness, decision: refusal ? { kind: "refuse", running: d.from, reason: "UpgradePreflightRefused", message: refusal } : d };
    }
    if (d.kind === "same" && d.running !== undefined && readinessDue(o.status, d.running, o.now)) return { readiness: await inspect(await o.primary(), d.running, o.now), decision: d };
  } catch (err) {
    return { ...(last ? { readiness: last } : {}), decision: d, error: (err as Error).message };
  }
  return { ...(last ? { readiness: last } : {}), decision: d };
}
