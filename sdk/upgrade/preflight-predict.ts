/**
 * Preflight before green exists (ADR 0037): the checkers of {@link PREFLIGHT_CHECKERS} whose rules
 * need only blue and the new major's packages run over blue alone, so that a `pulumi preview` (and
 * the operator, before it creates anything) can refuse what the engine would refuse later. The
 * rules are the engine's own checkers, not a copy; the checkers that need a live green (privileges,
 * capacity, roles, emptiness) still run in the engine's preflight phase.
 */
import type { ClientBase } from "pg";
import { installedExtensions, replicatedTables, serverFacts, unreplicatedDataObjects, type ReplicatedTable, type ServerFacts } from "./catalog";
import { PREFLIGHT_CHECKERS, type PreflightFinding, type PreflightObservation } from "./preflight";

/** Names of the checkers that can run before green exists, in report order. */
export const BLUE_ONLY_CHECKERS: readonly string[] = ["versions", "replica identity", "unlogged tables", "large objects", "objects without replicated data", "extensions"];

/** What the blue-only checkers look at: one observation of blue. */
export interface BlueObservation {
  readonly blue: ServerFacts;
  readonly tables: readonly ReplicatedTable[];
  readonly blueExtensions: ReadonlyMap<string, string>;
  readonly unreplicated: readonly { kind: string; qualified: string }[];
}

/** What is known of the new major before green exists. */
export interface PredictedGreen {
  readonly major: number;
  /**
   * Extensions the new major's server would offer (its packages' control files); undefined when
   * not known, and then extensions are not checked here (the engine's preflight still does).
   */
  readonly availableExtensions?: ReadonlySet<string>;
}

/** Observes blue once (a few fixed catalog queries). */
export async function observeBlue(blue: ClientBase): Promise<BlueObservation> {
  return {
    blue: await serverFacts(blue, "setpoint_"),
    tables: await replicatedTables(blue),
    blueExtensions: await installedExtensions(blue),
    unreplicated: await unreplicatedDataObjects(blue),
  };
}

/**
 * Runs the blue-only checkers for an upgrade of blue to `green.major`. Pure.
 * @returns the findings the engine's preflight would report for these rules (errors refuse).
 */
export function predictPreflight(o: BlueObservation, green: PredictedGreen): PreflightFinding[] {
  const observation: PreflightObservation = {
    blue: o.blue,
    // Only `major` of green is read by the blue-only checkers; the rest stands for "a separate server".
    green: { ...o.blue, major: green.major, systemIdentifier: `${o.blue.systemIdentifier}:predicted` },
    tables: o.tables,
    blueExtensions: o.blueExtensions,
    greenAvailableExtensions: green.availableExtensions ?? new Set(o.blueExtensions.keys()),
    unreplicated: o.unreplicated,
    blueUnmanaged: [],
    greenUnmanaged: [],
    greenNonEmpty: [],
    missingRoles: [],
    blueGrants: 0,
    greenTables: 0,
    fresh: false,
  };
  const wanted = new Set(BLUE_ONLY_CHECKERS);
  return PREFLIGHT_CHECKERS.filter((c) => wanted.has(c.name)).flatMap((c) => c.check(observation, {}));
}

/** A recorded prediction for several targets (a cluster's `status.upgradeReadiness`). */
export interface RecordedReadiness {
  /** Major of blue when it was inspected. */
  readonly postgresVersion: number;
  readonly targets: readonly {
    readonly postgresVersion: number;
    /** Findings as recorded (`code` is a {@link PreflightFinding}'s code, read back as a string). */
    readonly findings: readonly { readonly code: string; readonly severity: "error" | "warning"; readonly object?: string; readonly message: string; readonly fix: string }[];
    readonly more?: number;
  }[];
}

/**
 * Pure: the refusal of an upgrade to `to` by a recorded prediction, or undefined when it holds no
 * error for `to` (or says nothing about it). The message lists each error with its fix.
 */
export function readinessRefusal(r: RecordedReadiness | undefined, to: number): string | undefined {
  const target = r?.targets.find((t) => t.postgresVersion === to);
  const errors = target?.findings.filter((f) => f.severity === "error") ?? [];
  if (r === undefined || target === undefined || errors.length === 0) return undefined;
  const list = errors.map((f) => `${f.code}${f.object ? ` ${f.object}` : ""}: ${f.message}; fix: ${f.fix}`).join(" | ");
  const more = target.more ? ` (and ${target.more} more finding(s))` : "";
  return `upgrading ${r.postgresVersion} -> ${to} would be refused by the upgrade's preflight, so nothing was created: ${list}${more}. Fix these on the running cluster, or set postgresVersion back to ${r.postgresVersion}`;
}
