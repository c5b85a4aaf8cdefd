/**
 * The `PostgresUpgrade` custom resource: a blue-green major upgrade from one cluster (blue) to
 * another (green), run by the operator's upgrade controller through the upgrade engine (ADR 0027).
 * `until` is a supervised gate (stop before the cutover); `action` says what the controller does
 * with the upgrade: run it, roll it back, finalize it, or abort it before the switch.
 */
import { z } from "zod";
import { SUPPORTED_MAJORS } from "../postgres/versions";
import { baseStatusShape, intRange, localObjectName, withRules } from "./common";

const lowestMajor = SUPPORTED_MAJORS[0];
const highestMajor = SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1]!;

/** Where a run of a `PostgresUpgrade` may stop (the engine's `RUN_UNTIL`). */
export const UPGRADE_GATES = ["schema-ready", "synchronized", "switched"] as const;
/** What the controller does with a `PostgresUpgrade`. */
export const UPGRADE_ACTIONS = ["run", "rollback", "finalize", "abort"] as const;

const sideSchema = z.object({
  clusterRef: z.object({ name: localObjectName.describe("PostgresCluster in the same namespace.") }),
  postgresVersion: intRange(lowestMajor, highestMajor).describe("Major version that cluster runs."),
});

/** Zod schema of `PostgresUpgrade.spec`. */
export const postgresUpgradeSpecSchema = withRules(
  z.object({
    from: sideSchema.describe("The cluster being upgraded (blue)."),
    to: sideSchema.describe("The new cluster (green); created from blue's spec with the new major when it does not exist."),
    until: z
      .enum(UPGRADE_GATES)
      .optional()
      .describe("Where a run stops: schema-ready, synchronized (green kept in sync; a supervised gate before the cutover) or switched (the default)."),
    action: z
      .enum(UPGRADE_ACTIONS)
      .optional()
      .describe(
        "run (the default): move forward to until. rollback: before the switch drop every upgrade object, after it return traffic to blue with every write green took. finalize: drop the rollback path of a switched upgrade. abort: end the upgrade before the switch (refused after it: use rollback).",
      ),
  }),
  [
    {
      cel: "self.to.postgresVersion > self.from.postgresVersion",
      message: "to.postgresVersion must be greater than from.postgresVersion",
      field: "to",
      check: (s) => s.to.postgresVersion > s.from.postgresVersion,
    },
    {
      cel: "self.to.clusterRef.name != self.from.clusterRef.name",
      message: "to.clusterRef.name must differ from from.clusterRef.name",
      field: "to",
      check: (s) => s.to.clusterRef.name !== s.from.clusterRef.name,
    },
  ],
);

/** `PostgresUpgrade.spec` as written by a user. */
export type PostgresUpgradeSpecInput = z.input<typeof postgresUpgradeSpecSchema>;
/** `PostgresUpgrade.spec` after validation. */
export type PostgresUpgradeSpec = z.output<typeof postgresUpgradeSpecSchema>;

/** Zod schema of `PostgresUpgrade.status`. */
export const postgresUpgradeStatusSchema = z.object({
  ...baseStatusShape,
  phase: z.string().optional().describe("Current phase of the upgrade state machine."),
  upgradeId: z.string().optional().describe("The engine's id of this upgrade (names its publication, slots and subscriptions)."),
  greenCreated: z.boolean().optional().describe("The controller created the green cluster (it is owned by this PostgresUpgrade)."),
  writePauseMs: z.int().min(0).optional().describe("How long writes were held at the cutover, in milliseconds."),
  verification: z
    .object({ mode: z.string(), equal: z.boolean().optional().describe("Green's data equals blue's; absent when verification did not run."), tables: z.int().min(0), rows: z.int().min(0), mismatchedTables: z.array(z.string()).max(100), skipped: z.string().optional().describe("Why verification did not run.") })
    .optional()
    .describe("The cutover's verification of green against blue."),
  findings: z.array(z.string()).max(100).optional().describe("Why the upgrade was refused (preflight findings, each with its fix)."),
});

/** `PostgresUpgrade.status`. */
export type PostgresUpgradeStatus = z.output<typeof postgresUpgradeStatusSchema>;
