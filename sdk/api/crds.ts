/**
 * CustomResourceDefinition manifests generated from the zod schemas: one definition of each
 * resource feeds the TypeScript types, the operator's parsing and the API server's validation.
 */
import type { z } from "zod";
import { GROUP, VERSION } from "./common";
import { toOpenApiSchema, type OpenApiSchema } from "./openapi";
import { postgresBackupSpecSchema, postgresBackupStatusSchema, postgresScheduledBackupSpecSchema, postgresScheduledBackupStatusSchema } from "./postgres-backup";
import { postgresClusterSpecSchema, postgresClusterStatusSchema } from "./postgres-cluster";
import { postgresSchemaSpecSchema, postgresSchemaStatusSchema } from "./postgres-schema";
import { postgresUpgradeSpecSchema, postgresUpgradeStatusSchema } from "./postgres-upgrade";

/** Names of one custom resource kind. */
export interface KindNames {
  /** e.g. `PostgresCluster`. */
  readonly kind: string;
  /** e.g. `postgresclusters`. */
  readonly plural: string;
  /** e.g. `postgrescluster`. */
  readonly singular: string;
  /** kubectl short names, e.g. `pgc`. */
  readonly shortNames: readonly string[];
}

/** Kinds served by the `setpoint.dev` group, with their names. */
export const KINDS = {
  PostgresCluster: { kind: "PostgresCluster", plural: "postgresclusters", singular: "postgrescluster", shortNames: ["pgc"] },
  PostgresSchema: { kind: "PostgresSchema", plural: "postgresschemas", singular: "postgresschema", shortNames: ["pgs"] },
  PostgresUpgrade: { kind: "PostgresUpgrade", plural: "postgresupgrades", singular: "postgresupgrade", shortNames: ["pgu"] },
  PostgresBackup: { kind: "PostgresBackup", plural: "postgresbackups", singular: "postgresbackup", shortNames: ["pgb"] },
  PostgresScheduledBackup: { kind: "PostgresScheduledBackup", plural: "postgresscheduledbackups", singular: "postgresscheduledbackup", shortNames: ["pgsb"] },
} as const satisfies Record<string, KindNames>;

/** One of the kinds in {@link KINDS}. */
export type SetpointKind = keyof typeof KINDS;

/** A CustomResourceDefinition, as plain wire-format JSON. */
export interface CustomResourceDefinitionManifest {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: "Namespaced";
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: Array<{ name: string; type: string; jsonPath: string; description?: string }>;
      schema: { openAPIV3Schema: OpenApiSchema };
    }>;
  };
}

const PRINTER_COLUMNS = [
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "Status of the Ready condition.",
  },
  {
    name: "Reason",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description: "Reason of the Ready condition.",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** The root schema of one kind: the usual object envelope around spec and status. */
export function rootSchema(spec: z.ZodType, status: z.ZodType): OpenApiSchema {
  return {
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: toOpenApiSchema(spec),
      status: toOpenApiSchema(status),
    },
  };
}

/**
 * Name of the CRD of a kind: `<plural>.<group>`, e.g. `postgresclusters.setpoint.dev`.
 * @param kind one of {@link KINDS}.
 */
export function crdName(kind: SetpointKind): string {
  return `${KINDS[kind].plural}.${GROUP}`;
}

function crd(kind: SetpointKind, spec: z.ZodType, status: z.ZodType): CustomResourceDefinitionManifest {
  const names = KINDS[kind];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(kind), labels: { "app.kubernetes.io/part-of": "setpoint" } },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        shortNames: [...names.shortNames],
        categories: ["setpoint"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: rootSchema(spec, status) },
        },
      ],
    },
  };
}

/**
 * The CustomResourceDefinitions of every Setpoint kind (apiextensions.k8s.io/v1), freshly built
 * on each call so callers may modify them.
 */
export function crdManifests(): CustomResourceDefinitionManifest[] {
  return [
    crd("PostgresCluster", postgresClusterSpecSchema, postgresClusterStatusSchema),
    crd("PostgresSchema", postgresSchemaSpecSchema, postgresSchemaStatusSchema),
    crd("PostgresUpgrade", postgresUpgradeSpecSchema, postgresUpgradeStatusSchema),
    crd("PostgresBackup", postgresBackupSpecSchema, postgresBackupStatusSchema),
    crd("PostgresScheduledBackup", postgresScheduledBackupSpecSchema, postgresScheduledBackupStatusSchema),
  ];
}

/**
 * {@link crdManifests} wrapped in a `v1` `List`, the shape `kubectl apply -f` accepts as one
 * JSON document.
 */
export function crdManifestList(): { apiVersion: "v1"; kind: "List"; items: CustomResourceDefinitionManifest[] } {
  return { apiVersion: "v1", kind: "List", items: crdManifests() };
}
