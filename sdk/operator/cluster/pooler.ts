/**
 * The managed PgBouncer of a `PostgresCluster` (`spec.pooler`, ADR 0022), as pure functions of the
 * cluster, its spec and what the primary says: `pgbouncer.ini` (a ConfigMap: every connectable
 * database at the current primary's address, the pool settings, the admin console), PgBouncer's
 * `auth_file` (a Secret holding SCRAM verifiers only: the login roles' as PostgreSQL stores them,
 * which PgBouncer also uses to log in to the server by SCRAM pass-through, and the admin console
 * user's), the PgBouncer pods (non-root, read-only root filesystem, no capabilities) and the
 * `<cluster>-pooler-rw` Service. The controller's side is pooler-sync.ts.
 */
import { createHash } from "node:crypto";
import { scramVerifier } from "../../roles/scram";
import type { V1ConfigMap, V1Pod, V1Secret, V1Service } from "@kubernetes/client-node";
import { poolerObjectNames, poolerPodName, POSTGRES_PORT } from "../../api/names";
import type { PostgresClusterSpec } from "../../api/postgres-cluster";
import { setControllerReference } from "../../reconcile/owners";
import { CLUSTER_LABEL, type ClusterObject } from "./objects";
import { clusterTlsNames } from "./tls";

/** The pooler of a spec, with every default applied. */
export type PoolerSpec = NonNullable<PostgresClusterSpec["pooler"]>;

/** Label on PgBouncer pods: the owning cluster's name (instance pods never carry it). */
export const POOLER_LABEL = "setpoint.dev/pooler";
/** Annotation on a PgBouncer pod: the hash of the configuration it should run (a change makes the kubelet refresh its volumes). */
export const POOLER_CONFIG_HASH_ANNOTATION = "setpoint.dev/pooler-config-hash";
/** Annotation on a PgBouncer pod: the hash of its pod spec (a pod with another one is replaced). */
export const POOLER_POD_HASH_ANNOTATION = "setpoint.dev/pooler-pod-hash";
/** Annotation on a PgBouncer pod: {@link poolerSettingsHash} of the files it was last given (not part of its pod hash: its spec is). */
export const POOLER_SETTINGS_HASH_ANNOTATION = "setpoint.dev/pooler-settings-hash";
/** Annotation on a PgBouncer pod while the operator holds its clients (`PAUSE`): since when. */
export const POOLER_PAUSED_ANNOTATION = "setpoint.dev/pooler-paused-at";
/** Annotation on the pooler's ConfigMap and auth Secret: a hash of their data (the caches are metadata-only). */
export const POOLER_DATA_HASH_ANNOTATION = "setpoint.dev/data-hash";

/** Port PgBouncer listens on in its pod (the Service maps 5432 to it). */
export const PGBOUNCER_PORT = 6432;
/** The admin console's user (`admin_users`); its password is in the admin Secret, its verifier in the auth file. */
export const POOLER_ADMIN_USER = "setpoint_pooler_admin";
/** Image of the PgBouncer pods unless `spec.pooler.image` names another (built from images/recipes.ts `POOLER_IMAGE`). */
export const DEFAULT_POOLER_IMAGE = "setpoint-pooler:0.1.0";
/** Where the ConfigMap (`pgbouncer.ini`) and the auth Secret (`userlist.txt`) are mounted, read-only. */
export const POOLER_CONFIG_MOUNT = "/etc/setpoint/pooler";
export const POOLER_AUTH_MOUNT = "/etc/setpoint/pooler-auth";
export const POOLER_INI = "pgbouncer.ini";
/**
 * Where the pooler's certificate Secret (`<cluster>-pooler-tls`, ADR 0044) is mounted: `ca.crt`,
 * the cluster's authority, with which PgBouncer verifies the instances (ADR 0035), and `tls.crt` /
 * `tls.key`, the certificate it serves its clients (the pooler Service's names; never the
 * instances' key).
 */
export const POOLER_CA_MOUNT = "/etc/setpoint/pooler-tls";
export const POOLER_CA_FILE = "ca.crt";
export const POOLER_CERT_FILE = "tls.crt";
export const POOLER_KEY_FILE = "tls.key";
export const POOLER_USERLIST = "userlist.txt";
/** uid/gid of the PgBouncer container (the image's user; fsGroup makes the auth file readable to it). */
const POOLER_UID = 1000;

/**
 * Settings of `pgbouncer.ini` the operator sets unless `spec.pooler.parameters` does:
 * retry a failed server login after 1 s instead of 15 s (a failover's new primary is found
 * quickly), and accept the startup parameter JDBC and pgbench send.
 */
export const POOLER_DEFAULT_SETTINGS: Readonly<Record<string, string>> = { server_login_retry: "1", ignore_startup_parameters: "extra_float_digits" };

/** A login role PgBouncer may authenticate, with its SCRAM verifier as `pg_authid` stores it. */
export interface PoolerRole {
  readonly name: string;
  readonly verifier: string;
}

/** Names PgBouncer's configuration can carry safely (a database key, a role in the auth file). */
const SAFE_NAME = /^[A-Za-z0-9_.$-]{1,63}$/;
const SCRAM_VERIFIER = /^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/;

/** Hash of a set of files (stable across key order). */
export function dataHash(data: Readonly<Record<string, string>>): string {
  return createHash("sha256").update(JSON.stringify(Object.entries(data).sort())).digest("hex").slice(0, 16);
}

/** SCRAM verifiers (PgBouncer's auth file accepts one in place of a password): the roles module's, with PostgreSQL's SASLprep. */
export { scramVerifier };

/** auth_file fields are double-quoted; a double quote inside is doubled. */
function authQuote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/** The contract of a value in `pgbouncer.ini`'s `[databases]` (libpq-style, single-quoted when needed). */
function connstrValue(value: string): string {
  return /^[A-Za-z0-9_.:-]+$/.test(value) ? value : `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * PgBouncer's auth file: the admin console user, then every role in `roles` whose name and
 * verifier PgBouncer can carry (anything else is left out: it cannot log in through the pooler).
 * Verifiers only — no password is ever written. Pure.
 */
export function poolerUserlist(adminVerifier: string, roles: readonly PoolerRole[]): string {
  const lines = [`${authQuote(POOLER_ADMIN_USER)} ${authQuote(adminVerifier)}`];
  for (const r of [...roles].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (r.name === POOLER_ADMIN_USER || !SAFE_NAME.test(r.name) || !SCRAM_VERIFIER.test(r.verifier)) continue;
    lines.push(`${authQuote(r.name)} ${authQuote(r.verifier)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The entries of an auth file written by {@link poolerUserlist}: name -> verifier. Pure. */
export function userlistEntries(userlist: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of userlist.split("\n")) {
    const m = /^"((?:[^"]|"")*)" "((?:[^"]|"")*)"$/.exec(line.trim());
    if (m) entries.set(m[1]!.replace(/""/g, '"'), m[2]!.replace(/""/g, '"'));
  }
  return entries;
}

/**
 * Whether PgBouncer's console can show that it loaded auth file `next` in place of `before`: only
 * when every entry of `before` stays as it is in `next` (roles only added), since `SHOW USERS`
 * lists names, never verifiers (and PgBouncer keeps a removed user until it restarts). Pure.
 */
export function userlistChangeVisible(before: string, next: string): boolean {
  const after = userlistEntries(next);
  return [...userlistEntries(before)].every(([name, verifier]) => after.get(name) === verifier);
}

/**
 * Hash of what `pgbouncer.ini` holds apart from its `[databases]` (which `SHOW DATABASES` shows):
 * the `[pgbouncer]` settings, which the console cannot be asked to compare. Pure.
 */
export function poolerSettingsHash(pooler: PoolerSpec): string {
  return dataHash({ [POOLER_INI]: poolerIni(pooler, undefined, []) });
}

/**
 * `pgbouncer.ini`: the pool settings of `pooler`, the operator's own settings, and one
 * `[databases]` entry per database in `databases` at `primaryHost` (none while no primary is
 * known: clients then get "no such database" instead of a wrong server). Pure.
 */
export function poolerIni(pooler: PoolerSpec, primaryHost: string | undefined, databases: readonly string[]): string {
  const settings = poolerSettings(pooler);
  const dbs = primaryHost === undefined ? [] : [...databases].filter((d) => SAFE_NAME.test(d)).sort();
  return [
    "; Written by the Setpoint operator (ADR 0022); changes here are overwritten.",
    "[databases]",
    ...dbs.map((d) => `${d} = host=${connstrValue(primaryHost!)} port=${POSTGRES_PORT} dbname=${connstrValue(d)}`),
    "",
    "[pgbouncer]",
    ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
    "",
  ].join("\n");
}

/** The settings of the `[pgbouncer]` section that come from the spec (pool settings, parameters over the operator's defaults). Pure. */
export function poolSettings(pooler: PoolerSpec): Record<string, string> {
  return {
    pool_mode: pooler.poolMode,
    default_pool_size: String(pooler.defaultPoolSize),
    max_client_conn: String(pooler.maxClientConn),
    ...POOLER_DEFAULT_SETTINGS,
    ...pooler.parameters,
  };
}

/** The `[pgbouncer]` section of `pgbouncer.ini`: the operator's own settings and {@link poolSettings}. Pure. */
export function poolerSettings(pooler: PoolerSpec): Record<string, string> {
  return {
    listen_addr: "*",
    listen_port: String(PGBOUNCER_PORT),
    // TCP only: the root filesystem is read-only, and nothing in the pod needs a socket.
    unix_socket_dir: "",
    auth_type: "scram-sha-256",
    auth_file: `${POOLER_AUTH_MOUNT}/${POOLER_USERLIST}`,
    admin_users: POOLER_ADMIN_USER,
    ...poolSettings(pooler),
    // To the instances: TLS 1.3 only, the server's certificate must be signed by the cluster's
    // authority (ADR 0035). verify-ca, not verify-full: PgBouncer reaches the primary by its pod
    // address (no DNS, no libpq hostaddr) and no certificate names a pod address. Not overridable.
    server_tls_sslmode: "verify-ca",
    server_tls_ca_file: `${POOLER_CA_MOUNT}/${POOLER_CA_FILE}`,
    server_tls_protocols: "tlsv1.3",
    // From clients: TLS 1.3 required, with the pooler's own certificate (ADR 0044): a plaintext
    // client is refused ("SSL required"), as the instances' hba refuses one. Not overridable.
    client_tls_sslmode: "require",
    client_tls_cert_file: `${POOLER_CA_MOUNT}/${POOLER_CERT_FILE}`,
    client_tls_key_file: `${POOLER_CA_MOUNT}/${POOLER_KEY_FILE}`,
    client_tls_protocols: "tlsv1.3",
    // Named, though no client certificate is required: without it PgBouncer loads the system's
    // authorities for the client side, and the image has none ("TLS setup failed: failed to load CA").
    client_tls_ca_file: `${POOLER_CA_MOUNT}/${POOLER_CA_FILE}`,
  };
}

const TRUE_WORDS = new Set(["1", "yes", "on", "true"]);
const FALSE_WORDS = new Set(["0", "no", "off", "false"]);

/**
 * Pure: whether a setting as `SHOW CONFIG` prints it is the value written in the file. PgBouncer
 * prints what it parsed: a boolean as 1/0 (`yes` → `1`), a number in its plain form (`600.0` →
 * `600`), a list as written (compared item by item, spaces ignored).
 */
export function sameSetting(written: string, shown: string): boolean {
  const a = written.trim().toLowerCase();
  const b = shown.trim().toLowerCase();
  if (a === b) return true;
  if ((TRUE_WORDS.has(a) && TRUE_WORDS.has(b)) || (FALSE_WORDS.has(a) && FALSE_WORDS.has(b))) return true;
  if (/^-?\d+(\.\d+)?$/.test(a) && /^-?\d+(\.\d+)?$/.test(b)) return Number(a) === Number(b);
  const items = (v: string): string => v.split(",").map((x) => x.trim()).filter((x) => x !== "").join(",");
  return a.includes(",") && items(a) === items(b);
}

/**
 * Pure: the spec's settings ({@link poolSettings}) a PgBouncer does not run yet, by its `SHOW
 * CONFIG` — what a `RELOAD` has to load (a changed setting is seen, never reloaded blindly). The
 * operator's own settings (addresses, files, TLS) are left out: they never change with the spec,
 * and a node's runtime may place the files elsewhere. A key the console does not list (another
 * PgBouncer version) is not counted.
 */
export function settingsNotLoaded(pooler: PoolerSpec, config: Readonly<Record<string, string>>): string[] {
  return Object.entries(poolSettings(pooler))
    .filter(([k, v]) => config[k] !== undefined && !sameSetting(v, config[k]!))
    .map(([k]) => k);
}

function meta(cluster: ClusterObject, name: string, extra: Record<string, string> = {}): { name: string; namespace: string; labels: Record<string, string> } {
  return { name, namespace: cluster.metadata.namespace, labels: { [CLUSTER_LABEL]: cluster.metadata.name, ...extra } };
}

/** The pooler's ConfigMap (`pgbouncer.ini`), annotated with its hash. */
export function poolerConfigMap(cluster: ClusterObject, ini: string): V1ConfigMap {
  const data = { [POOLER_INI]: ini };
  return setControllerReference(cluster, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { ...meta(cluster, poolerObjectNames(cluster.metadata.name).configMap), annotations: { [POOLER_DATA_HASH_ANNOTATION]: dataHash(data) } },
    data,
  });
}

/** The pooler's auth Secret (`userlist.txt`, verifiers only), annotated with its hash. */
export function poolerAuthSecret(cluster: ClusterObject, userlist: string): V1Secret {
  const stringData = { [POOLER_USERLIST]: userlist };
  return setControllerReference(cluster, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { ...meta(cluster, poolerObjectNames(cluster.metadata.name).authSecret), annotations: { [POOLER_DATA_HASH_ANNOTATION]: dataHash(stringData) } },
    type: "Opaque",
    stringData,
  });
}

/**
 * The admin console's Secret, read by the operator only (never mounted): `username`, `password`
 * (generated once) and `verifier` (its SCRAM verifier, computed once so the auth file is stable).
 */
export function poolerAdminSecret(cluster: ClusterObject, password: string): V1Secret {
  return setControllerReference(cluster, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(cluster, poolerObjectNames(cluster.metadata.name).adminSecret),
    type: "kubernetes.io/basic-auth",
    stringData: { username: POOLER_ADMIN_USER, password, verifier: scramVerifier(password) },
  });
}

/** Labels of the PgBouncer pods (the Service's selector). */
export function poolerSelector(cluster: ClusterObject): Record<string, string> {
  return { [CLUSTER_LABEL]: cluster.metadata.name, [POOLER_LABEL]: cluster.metadata.name };
}

/** The image of the PgBouncer pods. */
export function poolerImageOf(pooler: PoolerSpec): string {
  return pooler.image ?? DEFAULT_POOLER_IMAGE;
}

/**
 * PgBouncer pod `ordinal`: the pooler image's `pgbouncer` on the mounted `pgbouncer.ini`,
 * non-root with a read-only root filesystem and no capabilities, ready once it accepts TCP.
 * Annotated with the hash of its own spec ({@link POOLER_POD_HASH_ANNOTATION}) and of the
 * configuration it should run ({@link POOLER_CONFIG_HASH_ANNOTATION}) and its settings
 * ({@link POOLER_SETTINGS_HASH_ANNOTATION}).
 */
export function poolerPod(cluster: ClusterObject, pooler: PoolerSpec, ordinal: number, configHash: string): V1Pod {
  const names = poolerObjectNames(cluster.metadata.name);
  const spec: V1Pod["spec"] = {
    terminationGracePeriodSeconds: 10,
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: POOLER_UID, runAsGroup: POOLER_UID, fsGroup: POOLER_UID, seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: "pgbouncer",
        image: poolerImageOf(pooler),
        args: [`${POOLER_CONFIG_MOUNT}/${POOLER_INI}`],
        ports: [{ name: "pgbouncer", containerPort: PGBOUNCER_PORT, protocol: "TCP" }],
        readinessProbe: { tcpSocket: { port: "pgbouncer" }, periodSeconds: 2 },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
        volumeMounts: [
          { name: "config", mountPath: POOLER_CONFIG_MOUNT, readOnly: true },
          { name: "auth", mountPath: POOLER_AUTH_MOUNT, readOnly: true },
          { name: "ca", mountPath: POOLER_CA_MOUNT, readOnly: true },
        ],
        ...(pooler.resources ? { resources: pooler.resources } : {}),
      },
    ],
    volumes: [
      { name: "config", configMap: { name: names.configMap } },
      { name: "auth", secret: { secretName: names.authSecret, defaultMode: 0o440, items: [{ key: POOLER_USERLIST, path: POOLER_USERLIST }] } },
      // The pooler's own certificate and the authority (ADR 0044): never the instances' key. The key
      // readable by the pod's group only (fsGroup).
      {
        name: "ca",
        secret: {
          secretName: clusterTlsNames(cluster.metadata.name).pooler,
          defaultMode: 0o440,
          items: [
            { key: POOLER_CA_FILE, path: POOLER_CA_FILE },
            { key: POOLER_CERT_FILE, path: POOLER_CERT_FILE },
            { key: POOLER_KEY_FILE, path: POOLER_KEY_FILE },
          ],
        },
      },
    ],
  };
  const podHash = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
  return setControllerReference(cluster, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...meta(cluster, poolerPodName(cluster.metadata.name, ordinal), { [POOLER_LABEL]: cluster.metadata.name }),
      annotations: { [POOLER_POD_HASH_ANNOTATION]: podHash, [POOLER_CONFIG_HASH_ANNOTATION]: configHash, [POOLER_SETTINGS_HASH_ANNOTATION]: poolerSettingsHash(pooler) },
    },
    spec,
  });
}

/** `<cluster>-pooler-rw`: port 5432 to the PgBouncer pods. */
export function poolerService(cluster: ClusterObject): V1Service {
  return setControllerReference(cluster, {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(cluster, poolerObjectNames(cluster.metadata.name).service),
    spec: { type: "ClusterIP", selector: poolerSelector(cluster), ports: [{ name: "postgres", port: POSTGRES_PORT, targetPort: "pgbouncer", protocol: "TCP" }] },
  });
}
