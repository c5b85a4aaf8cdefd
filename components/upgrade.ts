import * as pulumi from "@pulumi/pulumi";
import type { Rename } from "../sdk/schema/source/rename";
import type { SqlFile } from "../sdk/schema/source/desired";
import type { UpgradeSummary } from "./upgrade-summary";
import { desiredFiles, resolveConnection, type SchemaArgs } from "./schema";
import { optionsConflict } from "../sdk/upgrade/phases";
import { SECRET_INPUTS, TRAFFIC_KINDS } from "./upgrade-args";
import { upgradeProvider } from "./upgrade-provider";

export type { UpgradeSummary, UpgradePhaseResult } from "./upgrade-summary";

/**
 * A connection of the upgrade: a postgres:// URL, fields, or a Kubernetes Secret holding the URL
 * (the forms {@link SchemaArgs.connection} accepts). Blue and green must connect as superusers.
 * Stored as a secret whether or not it was passed as one.
 */
export type UpgradeConnection = SchemaArgs["connection"];

/**
 * The schema definition to create on green, in the forms the `Schema` component accepts, so one
 * definition can feed both: `new Schema(name, { connection, ...def })` and
 * `new Upgrade(name, { blue, green, schema: def })`. At least one of `sql`, `sqlPath` and
 * `definition` is required.
 */
export type UpgradeSchemaArgs = Pick<SchemaArgs, "sql" | "sqlPath" | "definition" | "renames" | "devUrl" | "schemas">;

/** Where one side of a PgBouncer database points: a URL `postgres://[user[:password]@]host[:port]/database` or fields. */
export type UpgradePgBouncerTarget = string | { host: string; port?: number; database: string; user?: string; password?: string };

/** One PgBouncer database (what clients connect to) and where it points on each side. */
export interface UpgradePgBouncerDatabase {
  /** The name clients give PgBouncer: letters, digits and underscores. */
  name: string;
  blue: UpgradePgBouncerTarget;
  green: UpgradePgBouncerTarget;
  /** Further connection-string parameters written into both entries, e.g. `{ pool_size: 20 }`. @default {} */
  settings?: Record<string, string | number>;
}

/**
 * What sends the application's connections to blue or green, described as data (the provider
 * builds the switch on every run). Kept secret in state as a whole (it may hold passwords).
 * - `none`: writes are fenced on blue by revoking CONNECT and ending sessions; after the switch,
 *   repoint the application yourself (e.g. from the `phase` output).
 * - `pgbouncer`: PgBouncer's PAUSE is the write fence (clients wait instead of failing); the switch
 *   rewrites the `[databases]` file PgBouncer `%include`s and reloads it. Pulumi must run where
 *   it can write that file and reach the admin console.
 * - `kubernetes-service`: sets the Service's whole selector to `blue`'s or `green`'s.
 * - `kubernetes-secret`: rewrites the named keys of the application's Secret to `blue`'s or
 *   `green`'s values (applications see it when they re-read the Secret).
 *
 * Neither Kubernetes switch can hold clients: writes are fenced on blue by closing logins.
 */
export type UpgradeTraffic =
  | { kind: "none" }
  | {
      kind: "pgbouncer";
      /** The admin console: a user in `admin_users`, database `pgbouncer`, e.g. `postgres://admin:secret@pgbouncer:6432/pgbouncer`. */
      admin: pulumi.Input<string>;
      /** The file holding these databases' entries, which the switch owns and rewrites whole. */
      databasesFile: pulumi.Input<string>;
      /** The databases to switch, all together. */
      databases: pulumi.Input<UpgradePgBouncerDatabase[]>;
      /** Milliseconds to wait for an admin console connection. @default 10000 */
      connectTimeoutMs?: pulumi.Input<number>;
    }
  | ({ kind: "kubernetes-service" } & UpgradeKubernetesObject)
  | ({ kind: "kubernetes-secret" } & UpgradeKubernetesObject);

/** The Service or Secret a Kubernetes traffic switch writes, and its content for each side. */
export interface UpgradeKubernetesObject {
  namespace: pulumi.Input<string>;
  name: pulumi.Input<string>;
  /** The Service's whole selector, or the Secret's switched keys, when traffic goes to blue. */
  blue: pulumi.Input<Record<string, string>>;
  /** The same for green (a Secret switch needs the same keys as blue). */
  green: pulumi.Input<Record<string, string>>;
  /** Kubeconfig content or path. @default the default kubeconfig: $KUBECONFIG, ~/.kube/config, or in-cluster */
  kubeconfig?: pulumi.Input<string>;
}

/** Arguments of {@link Upgrade}. */
export interface UpgradeArgs {
  /** Blue: the database being upgraded, as a superuser. */
  blue: UpgradeConnection;
  /** Green: the new, empty database on a newer major, as a superuser. */
  green: UpgradeConnection;
  /** How green's server reaches blue for replication, when it differs from how Pulumi does. @default blue */
  blueFromGreen?: UpgradeConnection;
  /** How blue's server reaches green for the rollback path, when it differs from how Pulumi does. @default green */
  greenFromBlue?: UpgradeConnection;
  /** The schema definition to create on green with the schema engine. @default blue's schema, copied by introspection */
  schema?: UpgradeSchemaArgs;
  /** The traffic switch. @default { kind: "none" } */
  traffic?: UpgradeTraffic;
  /** The write fence to traffic switch must finish within this, or the cutover aborts and blue resumes. @default 30000 */
  cutoverDeadlineMs?: pulumi.Input<number>;
  /** How the cutover verifies the data. @default "checksums" */
  verify?: "checksums" | "counts" | "none";
  /** Verify inside the write fence, before switching (the pause lasts as long as the verification). @default false */
  verifyBeforeSwitch?: boolean;
  /**
   * How far `up` goes: `"synchronized"` stages the upgrade (green in sync and kept in sync, traffic
   * on blue); `"switched"` cuts over. While staged, blue keeps a replication slot for green and
   * nothing checks its retained WAL between runs: cut over (or delete the resource) soon.
   * @default "switched"
   */
  until?: "synchronized" | "switched";
  /** Drop the rollback path right after (or once) the upgrade is switched; no rollback afterwards. @default false */
  finalize?: pulumi.Input<boolean>;
  /**
   * Roll back: before the switch, abort (blue serves as before, nothing left behind); after it,
   * return traffic to blue with every write green took. Set on an existing resource and `up`.
   * @default false
   */
  rollback?: pulumi.Input<boolean>;
  /** Green must be this close to blue (bytes of WAL) before writes are fenced. @default 16 MiB */
  maxLagBytes?: pulumi.Input<number>;
  /** Longest wait for green to come within `maxLagBytes`. @default 600000 */
  catchUpTimeoutMs?: pulumi.Input<number>;
  /** Abort when blue retains more WAL than this for the upgrade (green stalled), so blue's disk cannot fill. @default 8 GiB */
  maxRetainedWalBytes?: pulumi.Input<number>;
  /** Longest wait for the initial copy. @default 86400000 (24 h) */
  syncTimeoutMs?: pulumi.Input<number>;
  /** Accept objects on blue Setpoint cannot create on green (you create them on green). @default false */
  allowObjectsNotCopied?: boolean;
  /**
   * Key of the row in `setpoint.upgrades` on blue that holds the engine's state. Fixed when the
   * resource is created (later changes are ignored). @default "<project>/<stack>/<name>"
   */
  stateKey?: string;
}

const NUMBER_ARGS = ["cutoverDeadlineMs", "maxLagBytes", "catchUpTimeoutMs", "maxRetainedWalBytes", "syncTimeoutMs"] as const;

/**
 * Validates the arguments that are known when the program runs (the rest is checked by the
 * provider once inputs resolve).
 * @throws {pulumi.ResourceError} naming the argument and the allowed values.
 */
export function validateUpgradeArgs(args: UpgradeArgs, resource?: pulumi.Resource): void {
  const fail = (msg: string) => {
    throw new pulumi.ResourceError(`Upgrade: ${msg}`, resource);
  };
  if (args.blue === undefined || args.blue === null) fail("blue is required");
  if (args.green === undefined || args.green === null) fail("green is required");
  if (args.verify !== undefined && !["checksums", "counts", "none"].includes(args.verify)) fail(`verify must be "checksums", "counts" or "none", got "${String(args.verify)}"`);
  if (args.until !== undefined && args.until !== "synchronized" && args.until !== "switched") fail(`until must be "synchronized" or "switched", got "${String(args.until)}"`);
  for (const k of NUMBER_ARGS) {
    const v = args[k];
    if (typeof v === "number" && !(Number.isInteger(v) && v > 0)) fail(`${k} must be a positive whole number, got ${v}`);
  }
  const conflict = optionsConflict({ finalize: args.finalize === true, rollback: args.rollback === true, until: args.until === "synchronized" ? "synchronized" : undefined });
  if (conflict) fail(conflict.message);
  if (args.stateKey !== undefined && (typeof args.stateKey !== "string" || args.stateKey.length === 0 || args.stateKey.length > 200)) fail("stateKey must be 1 to 200 characters");
  if (args.schema !== undefined && args.schema.sql === undefined && args.schema.sqlPath === undefined && args.schema.definition === undefined) {
    fail("schema needs one of sql, sqlPath or definition (or leave schema out to copy blue's schema)");
  }
  const traffic = args.traffic;
  if (traffic !== undefined) {
    if (!(TRAFFIC_KINDS as readonly string[]).includes(traffic.kind)) fail(`traffic.kind must be one of ${TRAFFIC_KINDS.map((k) => `"${k}"`).join(", ")}, got "${String(traffic.kind)}"`);
    if (traffic.kind === "pgbouncer") {
      if (traffic.admin === undefined) fail("traffic.admin is required: PgBouncer's admin console URL");
      if (traffic.databasesFile === undefined || traffic.databasesFile === "") fail("traffic.databasesFile is required: the file PgBouncer %includes with the switched databases");
      if (Array.isArray(traffic.databases) && traffic.databases.length === 0) fail("traffic.databases must name at least one PgBouncer database");
    }
    if (traffic.kind === "kubernetes-service" || traffic.kind === "kubernetes-secret") {
      for (const k of ["namespace", "name", "blue", "green"] as const) if (traffic[k] === undefined || traffic[k] === "") fail(`traffic.${k} is required for a ${traffic.kind} switch`);
    }
  }
}

/** The default state key: unique per project, stack and resource name. */
export function defaultStateKey(name: string): string {
  return `${pulumi.getProject()}/${pulumi.getStack()}/${name}`;
}

// The dynamic resource doing the work; its type token is Pulumi's pulumi-nodejs:dynamic:Resource.
class UpgradeResource extends pulumi.dynamic.Resource {
  declare readonly phase: pulumi.Output<string>;
  declare readonly summary: pulumi.Output<UpgradeSummary>;
  declare readonly plannedSteps: pulumi.Output<string[]>;
  declare readonly preflight: pulumi.Output<string[]>;

  constructor(name: string, props: Record<string, unknown>, opts: pulumi.CustomResourceOptions) {
    super(upgradeProvider, name, props, opts);
  }
}

/**
 * A blue-green major-version upgrade of one PostgreSQL database over logical replication (the
 * `setpoint/upgrade` engine). `pulumi preview` shows the preflight findings with their fixes and
 * the steps `up` will run (`--show-full-output` shows lines longer than Pulumi's 150 characters),
 * and fails on a preflight error; `pulumi up` runs them, logging progress,
 * and resumes from the engine's state (kept on blue, in `setpoint.upgrades`) after a failed or
 * interrupted run. `rollback: true` rolls back; `finalize: true` drops the rollback path.
 *
 * Deleting the resource never moves traffic: an upgrade not yet switched is aborted (blue keeps
 * serving; no slot is left retaining WAL on blue), a switched one is finalized (green keeps
 * serving; the rollback path's slot on green is dropped, since it would retain WAL on the serving
 * database once blue is gone). To keep an upgrade as it is, use Pulumi's `retainOnDelete`; to
 * return to blue, set `rollback: true` and `up` before deleting. See docs/adr/0006-upgrade-component.md.
 */
export class Upgrade extends pulumi.ComponentResource {
  /** Where the upgrade stands: `new`, `preflighted`, ..., `synchronized`, `switched`, `finalized`, `aborted`, `rolled-back`. */
  readonly phase: pulumi.Output<string>;
  /** The engine's state without credentials: id, phase, majors, where each side stands, history, verification, write pause. */
  readonly summary: pulumi.Output<UpgradeSummary>;
  /** The steps the next `up` runs, one line each (empty once done). */
  readonly plannedSteps: pulumi.Output<string[]>;
  /** The preflight report seen by the last plan: a summary line, then each finding with its fix. */
  readonly preflight: pulumi.Output<string[]>;

  /**
   * @throws {pulumi.ResourceError} when an argument is invalid, naming it and the allowed values, or
   *   when `schema.sqlPath` cannot be read.
   */
  constructor(name: string, args: UpgradeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("setpoint:index:Upgrade", name, {}, opts);
    validateUpgradeArgs(args, this);
    const secretUrl = (c: UpgradeConnection | undefined, where: string) => (c === undefined ? undefined : pulumi.secret(resolveConnection(c, `Upgrade: ${where}`)));
    let schema: pulumi.Output<{ files: SqlFile[]; renames: Rename[] }> | undefined;
    if (args.schema) {
      const def = args.schema;
      // Read sqlPath now: a bad path is then this resource's error, not an unhandled rejection in an apply.
      let fixed: { files: SqlFile[]; renames: Rename[] };
      try {
        fixed = desiredFiles(def, undefined);
      } catch (err) {
        const error = new pulumi.ResourceError(`Upgrade: schema.sqlPath: ${(err as Error).message}`, this);
        error.cause = err;
        throw error;
      }
      schema = pulumi.output(def.sql).apply((sql) => ({ files: [...fixed.files, ...desiredFiles({}, sql as string | string[] | undefined).files], renames: fixed.renames }));
    }
    const resource = new UpgradeResource(
      name,
      {
        stateKey: args.stateKey ?? defaultStateKey(name),
        blue: secretUrl(args.blue, "blue"),
        green: secretUrl(args.green, "green"),
        blueFromGreen: secretUrl(args.blueFromGreen, "blueFromGreen"),
        greenFromBlue: secretUrl(args.greenFromBlue, "greenFromBlue"),
        schema,
        schemas: args.schema?.schemas,
        devUrl: args.schema?.devUrl === undefined ? undefined : pulumi.secret(args.schema.devUrl),
        // Secret as a whole: PgBouncer targets and the admin URL may hold passwords.
        traffic: pulumi.secret(pulumi.output(args.traffic ?? { kind: "none" as const })),
        cutoverDeadlineMs: args.cutoverDeadlineMs ?? 30_000,
        verify: args.verify ?? "checksums",
        verifyBeforeSwitch: args.verifyBeforeSwitch ?? false,
        until: args.until ?? "switched",
        finalize: args.finalize ?? false,
        rollback: args.rollback ?? false,
        maxLagBytes: args.maxLagBytes,
        catchUpTimeoutMs: args.catchUpTimeoutMs,
        maxRetainedWalBytes: args.maxRetainedWalBytes,
        syncTimeoutMs: args.syncTimeoutMs,
        allowObjectsNotCopied: args.allowObjectsNotCopied ?? false,
        plannedSteps: undefined,
        preflight: undefined,
        trafficSummary: undefined,
        phase: undefined,
        summary: undefined,
      },
      { parent: this, additionalSecretOutputs: [...SECRET_INPUTS] },
    );
    this.phase = resource.phase;
    this.summary = resource.summary;
    this.plannedSteps = resource.plannedSteps;
    this.preflight = resource.preflight;
    this.registerOutputs({ phase: this.phase, summary: this.summary, plannedSteps: this.plannedSteps, preflight: this.preflight });
  }
}
