import * as pulumi from "@pulumi/pulumi";
import type { Rename } from "../sdk/schema/source/rename";
import type { PlanApproval } from "../sdk/schema/plan/approvals";
import { HAZARD_CODES, type HazardCode } from "../sdk/schema/hazards";
import type { ReviewedStep } from "../sdk/schema/plan/review";
import { loadSchemaPath, type DesiredSchema, type SqlFile } from "../sdk/schema/source/desired";
import { readSecretData } from "../sdk/reconcile/kubeconfig";
import { schemaProvider } from "./schema-provider";

/** Connection fields, as an alternative to a URL. */
export interface SchemaConnectionFields {
  host: pulumi.Input<string>;
  /** @default 5432 */
  port?: pulumi.Input<number>;
  user: pulumi.Input<string>;
  /** Kept secret in state whether or not it was passed as a secret. */
  password?: pulumi.Input<string>;
  database: pulumi.Input<string>;
  /**
   * The authority (PEM) to verify the server against, verify-full (e.g. a cluster's app Secret
   * `ca.crt`, ADR 0035). Kept secret in state. @default no TLS (the system's authorities with `verify-full` in a URL)
   */
  ca?: pulumi.Input<string>;
  /**
   * With `ca`: the name the server's certificate must carry when `host` is an address (libpq's
   * `host` beside `hostaddr`), e.g. a cluster's `readWriteHost` reached at its ClusterIP. @default host
   */
  servername?: pulumi.Input<string>;
}

/** A connection URL kept in a Kubernetes Secret (e.g. the application secret of a PostgresCluster). */
export interface SchemaSecretRef {
  secretRef: {
    name: pulumi.Input<string>;
    /** @default "default" */
    namespace?: pulumi.Input<string>;
    /** Key holding a postgres:// URL. @default "uri" */
    key?: string;
    /**
     * Key holding the authority (PEM) to verify the server against, verify-full, when the Secret has
     * it (a PostgresCluster's app Secret does: TLS only, ADR 0035). Absent from the Secret: the URL
     * alone, as before. @default "ca.crt"
     */
    caKey?: string;
  };
  /** Kubeconfig content or path used to read the secret. @default the default kubeconfig */
  kubeconfig?: pulumi.Input<string>;
}

/** Arguments of {@link Schema}. At least one of `sql`, `sqlPath` and `definition` is required. */
export interface SchemaArgs {
  /** The target: a postgres:// URL, fields, or a Kubernetes Secret holding the URL. Stored as a secret. */
  connection: pulumi.Input<string> | SchemaConnectionFields | SchemaSecretRef;
  /** Desired state as SQL DDL text, applied after `definition` and `sqlPath`. */
  sql?: pulumi.Input<string | string[]>;
  /** A `.sql` file or a directory of `.sql` files (applied in name order), read when the program runs. */
  sqlPath?: string;
  /** Desired state from the typed builders (`defineSchema(...)` from `setpoint/schema`). */
  definition?: DesiredSchema;
  /** Declared renames, in addition to the builders' `renamedFrom`. @default [] */
  renames?: Rename[];
  /** Hazards to accept in every plan; any other hazard fails the preview before anything runs. @default [] */
  allowHazards?: HazardCode[] | "all";
  /**
   * Hazards approved for one plan only, by the plan hash the preview shows (`planHash`): when the
   * plan changes, its hash changes and the approval no longer applies. Often read from stack
   * config: `approvals: config.getObject("approvals")`. @default []
   */
  approvals?: pulumi.Input<PlanApproval[]>;
  /** Online-safe forms (CONCURRENTLY, NOT VALID + VALIDATE, ...). @default true */
  online?: boolean;
  /** A server for scratch databases that normalize the desired SQL. @default an embedded server of the target's major */
  devUrl?: pulumi.Input<string>;
  /** `retain` keeps every object when the resource is destroyed; `drop` drops what it manages. @default "retain" */
  deletionPolicy?: "retain" | "drop";
  /**
   * Schemas to manage, or `"all"`: every schema of the database, where one the desired state lacks is
   * dropped (only with DATA_LOSS_DROP_SCHEMA allowed). @default the schemas the desired state contains
   */
  schemas?: string[] | "all";
  /**
   * Plan during `pulumi preview` (needs the database reachable from where Pulumi runs). When false,
   * `up` applies only when arguments change, and drift shows after `pulumi refresh`. @default true
   */
  planAtPreview?: boolean;
  /**
   * Compare the database's catalogs with the desired SQL's when the plan is empty (ADR 0014): a
   * property the engine does not model that differs is listed by the preview (`unmodelled`) and
   * fails `up`, instead of both reporting no changes. False turns the check off. @default true
   */
  verifyCatalogs?: boolean;
}

/**
 * Validates the arguments that are known when the program runs (the rest is checked by the
 * provider once inputs resolve).
 * @throws {pulumi.ResourceError} naming the argument and the allowed values.
 */
export function validateSchemaArgs(args: SchemaArgs, resource?: pulumi.Resource): void {
  const fail = (msg: string) => {
    throw new pulumi.ResourceError(`Schema: ${msg}`, resource);
  };
  if (args.sql === undefined && args.sqlPath === undefined && args.definition === undefined) fail("one of sql, sqlPath or definition is required");
  if (args.allowHazards !== undefined && args.allowHazards !== "all") {
    const bad = args.allowHazards.filter((h) => !(HAZARD_CODES as readonly string[]).includes(h));
    if (bad.length) fail(`allowHazards has unknown code(s) ${bad.join(", ")}; allowed: "all" or ${HAZARD_CODES.join(", ")}`);
  }
  if (args.approvals !== undefined && !pulumi.Output.isInstance(args.approvals) && !(args.approvals instanceof Promise)) {
    if (!Array.isArray(args.approvals)) fail("approvals must be a list of { planHash, hazards }");
    for (const [i, a] of (args.approvals as PlanApproval[]).entries()) {
      if (typeof a?.planHash !== "string" || !/^(sha256:)?[0-9a-f]{12,64}$/.test(a.planHash)) fail(`approvals[${i}].planHash must be the plan hash the preview shows ("sha256:" and at least 12 hex digits)`);
      const hz = a.hazards;
      if (hz !== "all" && (!Array.isArray(hz) || hz.some((h) => !(HAZARD_CODES as readonly string[]).includes(h)))) {
        fail(`approvals[${i}].hazards must be "all" or a list of ${HAZARD_CODES.join(", ")}`);
      }
    }
  }
  if (args.deletionPolicy !== undefined && args.deletionPolicy !== "retain" && args.deletionPolicy !== "drop") {
    fail(`deletionPolicy must be "retain" or "drop", got "${String(args.deletionPolicy)}"`);
  }
  if (args.schemas !== undefined && args.schemas !== "all" && (!Array.isArray(args.schemas) || args.schemas.some((s) => typeof s !== "string" || s.length === 0))) {
    fail('schemas must be "all" or a list of non-empty schema names');
  }
}

/** Pulumi's marker for a value not known during preview; the provider then skips planning. */
const UNKNOWN_DURING_PREVIEW = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A resolved connection: its URL and, when TLS is verified against a given authority, that authority (PEM). */
export interface ResolvedConnection {
  readonly url: string;
  readonly ca?: string;
}

/**
 * Resolves a connection argument (URL, fields or Kubernetes Secret reference) to its URL and
 * authority: a Secret's `ca.crt` (a PostgresCluster's app Secret) or the fields' `ca`. During
 * preview, a secret that does not exist yet resolves to Pulumi's unknown marker.
 * @param where names the argument in errors, e.g. `Schema: connection`.
 * @throws {pulumi.ResourceError} (from the returned Output) when the secret cannot be read during an update.
 */
export function resolveTarget(c: SchemaArgs["connection"], where = "Schema: connection"): pulumi.Output<ResolvedConnection> {
  if (typeof c === "string" || pulumi.Output.isInstance(c) || c instanceof Promise) return pulumi.output(c as pulumi.Input<string>).apply((url) => ({ url }));
  if ("secretRef" in c) {
    const ref = c.secretRef;
    return pulumi.all([ref.name, ref.namespace ?? "default", c.kubeconfig ?? ""]).apply(async ([name, namespace, kubeconfig]): Promise<ResolvedConnection> => {
      try {
        const data = await readSecretData({ name, namespace, ...(kubeconfig ? { kubeconfig } : {}) });
        const key = ref.key ?? "uri";
        const url = data[key];
        if (url === undefined) throw new Error(`secret ${namespace}/${name} has no key "${key}"; keys: ${Object.keys(data).join(", ") || "(none)"}`);
        const ca = data[ref.caKey ?? "ca.crt"];
        return ca === undefined || ca === "" ? { url } : { url, ca };
      } catch (err) {
        // A secret created by the same program (e.g. by the operator for a new cluster) does not
        // exist yet during preview: plan once it does.
        if (pulumi.runtime.isDryRun()) return { url: UNKNOWN_DURING_PREVIEW, ca: UNKNOWN_DURING_PREVIEW };
        throw new pulumi.ResourceError(`${where}.secretRef: ${(err as Error).message}`, undefined);
      }
    });
  }
  return pulumi.output(c as SchemaConnectionFields).apply((f): ResolvedConnection => {
    if (f.servername !== undefined && f.ca === undefined) throw new pulumi.ResourceError(`${where}.servername needs ca (the authority whose certificate names it)`, undefined);
    if (f.ca === undefined) return { url: connectionUrl(f) };
    const verified = f.servername === undefined || f.servername === f.host ? { ...f, sslmode: "verify-full" as const } : { ...f, host: f.servername, hostaddr: f.host, sslmode: "verify-full" as const };
    return { url: connectionUrl(verified), ca: f.ca };
  });
}

/**
 * Resolves a connection argument to its URL alone (see {@link resolveTarget}, which also gives the
 * authority to verify the server against).
 */
export function resolveConnection(c: SchemaArgs["connection"], where = "Schema: connection"): pulumi.Output<string> {
  return resolveTarget(c, where).apply((t) => t.url);
}

/**
 * Builds the URL form of a connection (the password URL-encoded; `hostaddr` and `sslmode` as
 * query parameters, libpq's spelling).
 */
export function connectionUrl(c: { host: string; port?: number; user: string; password?: string; database: string; hostaddr?: string; sslmode?: "verify-full" }): string {
  const auth = c.password === undefined ? encodeURIComponent(c.user) : `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}`;
  const query = new URLSearchParams({ ...(c.hostaddr !== undefined ? { hostaddr: c.hostaddr } : {}), ...(c.sslmode !== undefined ? { sslmode: c.sslmode } : {}) }).toString();
  return `postgres://${auth}@${c.host}:${c.port ?? 5432}/${encodeURIComponent(c.database)}${query ? `?${query}` : ""}`;
}

/**
 * Collects the desired state from the arguments, in order: definition, sqlPath, sql.
 * Pure apart from reading `sqlPath`.
 */
export function desiredFiles(args: Pick<SchemaArgs, "definition" | "sqlPath" | "renames">, sql: string | string[] | undefined): { files: SqlFile[]; renames: Rename[] } {
  const files: SqlFile[] = [];
  const renames: Rename[] = [...(args.definition?.renames ?? []), ...(args.renames ?? [])];
  if (args.definition) files.push(...args.definition.files);
  if (args.sqlPath) files.push(...loadSchemaPath(args.sqlPath).files);
  const texts = sql === undefined ? [] : typeof sql === "string" ? [sql] : sql;
  texts.forEach((text, i) => files.push({ name: texts.length === 1 ? "sql" : `sql[${i}]`, sql: text }));
  return { files, renames };
}

// The dynamic resource doing the work; its type token is Pulumi's pulumi-nodejs:dynamic:Resource.
class SchemaResource extends pulumi.dynamic.Resource {
  declare readonly plan: pulumi.Output<ReviewedStep[]>;
  declare readonly planHash: pulumi.Output<string>;
  declare readonly refused: pulumi.Output<string[]>;
  declare readonly unmodelled: pulumi.Output<string[]>;
  declare readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, props: Record<string, unknown>, opts: pulumi.CustomResourceOptions) {
    super(schemaProvider, name, props, opts);
  }
}

/**
 * A declarative PostgreSQL schema. `pulumi preview --diff` shows the plan step by step (`plan`:
 * SQL, hazards, lock, expected duration) and its hash; `pulumi up` applies it safely and proves
 * convergence; `pulumi refresh` reports drift. A plan with a hazard neither allowed nor approved
 * fails the preview, which still shows the whole plan. Destroying it keeps the data unless
 * `deletionPolicy` is `drop`.
 */
export class Schema extends pulumi.ComponentResource {
  /** The SQL of each step the next update will run (empty when converged, and after `up`). */
  readonly plannedStatements: pulumi.Output<string[]>;
  /** The steps the next update will run, as the preview shows them (empty when converged, and after `up`). */
  readonly plan: pulumi.Output<ReviewedStep[]>;
  /** Hash of the plan, for `approvals` (empty when converged). */
  readonly planHash: pulumi.Output<string>;
  /** Hash of the desired state and the server major. */
  readonly fingerprint: pulumi.Output<string>;
  /**
   * Properties the engine does not model that differ from the desired SQL, found by the
   * catalog-level check of an empty plan (`UNMODELLED_DIFFERENCE <catalog>.<column> <object>: ...`);
   * empty when converged. The preview lists them and `up` fails on them (ADR 0014).
   */
  readonly unmodelled: pulumi.Output<string[]>;

  /**
   * @throws {pulumi.ResourceError} when an argument is invalid, naming it and the allowed values, or
   *   when `sqlPath` cannot be read.
   */
  constructor(name: string, args: SchemaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("setpoint:index:Schema", name, {}, opts);
    validateSchemaArgs(args, this);
    const target = resolveTarget(args.connection);
    const connection = pulumi.secret(target.apply((t) => t.url));
    // The authority is no secret, but it comes with the credentials: kept out of plaintext state alike.
    // Absent (a plain URL): no input at all, so stacks without an authority keep their inputs.
    // The target is secret when its URL is: without unsecret an absent authority would still be a
    // (secret) null input, shown as `ca: [secret]` in every preview of a plain-URL stack.
    const ca = pulumi.unsecret(target).apply((t) => (t.ca === undefined ? undefined : pulumi.secret(t.ca)));
    // Read sqlPath now: a bad path is then this resource's error, not an unhandled rejection in an apply.
    let fixed: { files: SqlFile[]; renames: Rename[] };
    try {
      fixed = desiredFiles(args, undefined);
    } catch (err) {
      const error = new pulumi.ResourceError(`Schema: sqlPath: ${(err as Error).message}`, this);
      error.cause = err;
      throw error;
    }
    // Only the connection and the dev URL are secret; the desired SQL and the plan stay readable in previews.
    const desired = pulumi.output(args.sql).apply((sql) => ({ files: [...fixed.files, ...desiredFiles({}, sql as string | string[] | undefined).files], renames: fixed.renames }));
    const resource = new SchemaResource(
      name,
      {
        connection,
        ca,
        desired,
        allowHazards: args.allowHazards ?? [],
        online: args.online ?? true,
        devUrl: args.devUrl === undefined ? undefined : pulumi.secret(args.devUrl),
        deletionPolicy: args.deletionPolicy ?? "retain",
        schemas: args.schemas,
        planAtPreview: args.planAtPreview ?? true,
        // Only when set: the default stays out of the inputs (and of every existing stack's diff).
        verifyCatalogs: args.verifyCatalogs,
        approvals: args.approvals ?? [],
        // Tells the provider's check whether to show the plan (preview) or keep it out of the state (up).
        preview: pulumi.runtime.isDryRun(),
        plan: undefined,
        planHash: undefined,
        refused: undefined,
        unmanaged: undefined,
        unmodelled: undefined,
        fingerprint: undefined,
      },
      { parent: this, additionalSecretOutputs: ["connection", "ca", "devUrl"] },
    );
    this.plan = resource.plan;
    this.planHash = resource.planHash;
    this.plannedStatements = resource.plan.apply((steps) => (steps ?? []).map((s) => (s.sql ?? []).join("\n")));
    this.fingerprint = resource.fingerprint;
    this.unmodelled = resource.unmodelled.apply((lines) => lines ?? []);
    // An empty plan with unmodelled differences is not "no changes": say so next to the resource.
    void this.unmodelled.apply((lines) => {
      if (pulumi.runtime.isDryRun() && lines.length) {
        void pulumi.log.warn(
          "the plan is empty, but the database differs from the desired schema in properties Setpoint does not manage (up fails on them):\n" +
            lines.map((l) => `  ${l}`).join("\n") +
            "\nChange them on the database (or in the desired SQL) to match, or set verifyCatalogs: false to skip this check.",
          this,
        );
      }
    });
    // A preview with refused hazards shows the whole plan, then fails here: the reason as an error
    // on this resource, then an error thrown in an apply (which fails the program; its own stack
    // would only point here, so it carries none).
    void pulumi.all([resource.refused, resource.planHash, resource.plan]).apply(([refused, hash, steps]) => {
      if (pulumi.runtime.isDryRun() && refused && refused.length) {
        const codes = refused.map((c) => `"${c}"`).join(", ");
        // Each refused hazard names its object, as the engine's own refusal does.
        const which = (steps ?? []).flatMap((s) => (s.hazards ?? []).filter((h) => h.endsWith("(NOT ALLOWED)")).map((h) => `step ${s.step} ${h.replace(/ \(NOT ALLOWED\)$/, "")}`));
        void pulumi.log.error(
          `the plan was refused before anything ran: hazard(s) ${refused.join(", ")} not allowed (see the plan above): ${which.join("; ")}. ` +
            `To allow them in every plan: allowHazards: [${codes}]; to approve this plan only: approvals: [{ planHash: "${hash}", hazards: [${codes}] }]; or change the desired schema.`,
          this,
        );
        const failed = new pulumi.RunError(`Schema ${name}: the preview failed because the plan was refused (see the error above)`);
        failed.stack = failed.message;
        throw failed;
      }
    });
    this.registerOutputs({
      plannedStatements: this.plannedStatements,
      plan: this.plan,
      planHash: this.planHash,
      fingerprint: this.fingerprint,
      unmodelled: this.unmodelled,
    });
  }
}
