/**
 * The `PostgresSchema` custom resource: the desired schema of one database, which the
 * operator keeps converged (plan, apply allowed changes, re-check for drift periodically).
 */
import { z } from "zod";
import { HAZARD_CODES } from "../schema/hazards";
import { baseStatusShape, duration, exactlyOneOf, localObjectName, withRules } from "./common";

const secretRefSchema = z
  .object({
    name: localObjectName.describe("Secret in the same namespace."),
    key: z.string().min(1).default("uri").describe("Key holding a postgres:// connection URI."),
  })
  .describe("Connect with a URI read from a Secret.");

const clusterRefSchema = z
  .object({
    name: localObjectName.describe("PostgresCluster in the same namespace."),
    database: z.string().min(1).optional().describe("Database to manage; the cluster's bootstrap database when omitted."),
  })
  .describe("Connect to a PostgresCluster as its application owner.");

const connectionSchema = withRules(
  z.object({
    secretRef: secretRefSchema.optional(),
    clusterRef: clusterRefSchema.optional(),
  }),
  [exactlyOneOf("secretRef", "clusterRef")],
).describe("Which database to manage: exactly one of secretRef or clusterRef.");

const configMapRefSchema = z
  .object({
    name: localObjectName.describe("ConfigMap in the same namespace."),
    key: z.string().min(1).default("schema.sql").describe("Key holding the SQL."),
  })
  .describe("Read the desired SQL from a ConfigMap.");

const desiredSchema = withRules(
  z.object({
    sql: z.string().min(1).max(1_000_000).optional().describe("Desired schema as SQL DDL."),
    configMapRef: configMapRefSchema.optional(),
  }),
  [exactlyOneOf("sql", "configMapRef")],
).describe("The desired schema: exactly one of sql or configMapRef.");

/** Accepted entries of `allowHazards`: every hazard code, or `all`. */
export const ALLOW_HAZARD_VALUES = [...HAZARD_CODES, "all"] as const;

const renameSchema = withRules(
  z.object({
    kind: z.enum(["table", "column"]),
    schema: z.string().min(1).default("public"),
    table: z.string().min(1).optional().describe("Table of a renamed column (kind column only)."),
    from: z.string().min(1),
    to: z.string().min(1),
  }),
  [
    {
      cel: "self.kind == 'table' ? !has(self.table) : has(self.table)",
      message: "table is required when kind is column and not allowed when kind is table",
      field: "table",
      check: (r) => (r.kind === "table" ? r.table === undefined : r.table !== undefined),
    },
  ],
);

/** Zod schema of `PostgresSchema.spec`. */
export const postgresSchemaSpecSchema = withRules(
  z.object({
    connection: connectionSchema,
    desired: desiredSchema,
    allowHazards: z
      .array(z.enum(ALLOW_HAZARD_VALUES))
      .max(ALLOW_HAZARD_VALUES.length)
      .default([])
      .describe("Hazard codes the operator may apply unattended, or [all]."),
    online: z.boolean().default(true).describe("Build indexes concurrently and validate constraints separately."),
    driftCheckInterval: duration.default("5m").describe("How often to re-inspect the database for drift."),
    renames: z.array(renameSchema).max(1000).default([]).describe("Declared renames; the engine never guesses them."),
    schemas: z.array(z.string().min(1).max(63)).max(1000).optional().describe("Schemas to manage (default: those the desired schema contains)."),
    allSchemas: z
      .boolean()
      .default(false)
      .describe("Manage every schema of the database; one the desired schema lacks is dropped when DATA_LOSS_DROP_SCHEMA is allowed."),
  }),
  [
    {
      cel: "!(has(self.allSchemas) && self.allSchemas && has(self.schemas))",
      message: "schemas and allSchemas cannot be combined: list the schemas, or manage them all",
      field: "allSchemas",
      check: (s) => !(s.allSchemas && s.schemas !== undefined),
    },
    {
      cel: "!has(self.allowHazards) || !('all' in self.allowHazards) || size(self.allowHazards) == 1",
      message: "allowHazards: [all] cannot be combined with individual hazard codes",
      field: "allowHazards",
      check: (s) => !s.allowHazards.includes("all") || s.allowHazards.length === 1,
    },
  ],
);

/** `PostgresSchema.spec` as written by a user. */
export type PostgresSchemaSpecInput = z.input<typeof postgresSchemaSpecSchema>;
/** `PostgresSchema.spec` with every default applied. */
export type PostgresSchemaSpec = z.output<typeof postgresSchemaSpecSchema>;

/** Zod schema of `PostgresSchema.status`. */
export const postgresSchemaStatusSchema = z.object({
  ...baseStatusShape,
  lastAppliedFingerprint: z.string().optional().describe("Fingerprint of the desired schema last applied."),
  pendingStatements: z.array(z.string()).max(1000).optional().describe("Statements waiting for an allowed hazard."),
  drift: z.boolean().optional().describe("The live schema differs from the desired one."),
  lastCheckTime: z.iso.datetime().optional().describe("When the database was last inspected."),
});

/** `PostgresSchema.status`. */
export type PostgresSchemaStatus = z.output<typeof postgresSchemaStatusSchema>;
