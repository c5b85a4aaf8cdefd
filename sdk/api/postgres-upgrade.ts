/**
 * The `PostgresUpgrade` custom resource: a blue-green major upgrade from one cluster to
 * another. A minimal spec for now; the upgrade engine will grow it.
 */
import { z } from "zod";
import { SUPPORTED_MAJORS } from "../postgres/versions";
import { baseStatusShape, intRange, localObjectName, withRules } from "./common";

const lowestMajor = SUPPORTED_MAJORS[0];
const highestMajor = SUPPORTED_MAJORS[SUPPORTED_MAJORS.length - 1]!;

const sideSchema = z.object({
  clusterRef: z.object({ name: localObjectName.describe("PostgresCluster in the same namespace.") }),
  postgresVersion: intRange(lowestMajor, highestMajor).describe("Major version that cluster runs."),
});

/** Zod schema of `PostgresUpgrade.spec`. */
export const postgresUpgradeSpecSchema = withRules(
  z.object({
    from: sideSchema.describe("The cluster being upgraded (blue)."),
    to: sideSchema.describe("The new cluster (green)."),
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
});

/** `PostgresUpgrade.status`. */
export type PostgresUpgradeStatus = z.output<typeof postgresUpgradeStatusSchema>;
