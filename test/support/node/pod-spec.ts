// What a pod asks the node harness to run, read the way a kubelet running the official
// `postgres` image would read it: the image tag names the major (`postgres:17`,
// `docker.io/library/postgres:17.5-bookworm`), POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB /
// PGDATA configure the entrypoint's first-start initdb, the container's args are server options
// (`-c name=value`, as the image passes them to `postgres`), the data directory lives on the
// volume mounted at the PGDATA path's mount, and the first containerPort is the listen port.
// ConfigMap volumes are written out per pod and paths under their mount in the settings (e.g.
// `hba_file=/etc/setpoint/pg_hba.conf`) point there, as a kubelet's mount would make them.
// One kind of init container is understood: `pg_basebackup` into PGDATA (see basebackup.ts),
// either as the command itself or behind the guard `sh -c '[ -s "$PGDATA/PG_VERSION" ] && exit
// 0; exec "$0" "$@"' pg_basebackup ...` that skips the clone when the volume already has data,
// or its standby form (STANDBY_IF_INITIALIZED) that then also touches `$PGDATA/standby.signal`.
import type { V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import { isSupportedMajor, type PostgresMajor } from "../../../sdk/postgres/versions";

/** Name of the container the harness runs; other containers of a pod are not supported. */
export const POSTGRES_CONTAINER = "postgres";

/** Image repository names the harness recognizes as PostgreSQL (`postgres`, `<registry>/postgres`, `.../postgresql`). */
const IMAGE = /^(?:[^:@]+\/)?postgres(?:ql)?:(\d+)(?:[.-][^@]*)?(?:@.*)?$/;

/** Everything the harness needs to start a pod's PostgreSQL, with secrets still unresolved. */
export interface InstanceSpec {
  readonly major: PostgresMajor;
  readonly image: string;
  /** Environment: literal values, or references the harness resolves (as a kubelet does) before start. */
  readonly env: readonly V1EnvVar[];
  /** PVC whose volume holds the data. */
  readonly claimName: string;
  /** Path of PGDATA relative to the volume's root ("" when PGDATA is the mount itself). */
  readonly dataSubPath: string;
  /** Listen port (the first containerPort). @default 5432 */
  readonly port: number;
  /** `name=value` server settings from the container args, in order. */
  readonly settings: readonly string[];
  /** Grace period when the pod is deleted, before SIGKILL. */
  readonly terminationGraceSeconds: number;
  /** The pod's `pg_basebackup` init container, if it has one. */
  readonly clone?: CloneSpec;
  /** ConfigMap volumes mounted into the container: the harness writes their files and maps the paths in `settings`. */
  readonly configMapMounts: readonly ConfigMapMount[];
}

/** A ConfigMap volume mounted into the container. */
export interface ConfigMapMount {
  readonly mountPath: string;
  readonly configMap: string;
}

/** A `pg_basebackup` init container. */
export interface CloneSpec {
  readonly name: string;
  /** pg_basebackup's arguments (after the program name). */
  readonly args: readonly string[];
  readonly env: readonly V1EnvVar[];
  /** The guard form: nothing to do when PGDATA already holds a data directory. */
  readonly skipIfInitialized: boolean;
  /** The standby guard form: existing data is marked a standby (standby.signal) and not cloned. */
  readonly standbyIfInitialized?: boolean;
}

/** The guard script a clone init container may run its command behind. */
export const SKIP_IF_INITIALIZED = '[ -s "$PGDATA/PG_VERSION" ] && exit 0; exec "$0" "$@"';
/** The same guard, which also marks existing data as a standby (`standby.signal`) instead of doing nothing. */
export const STANDBY_IF_INITIALIZED = 'if [ -s "$PGDATA/PG_VERSION" ]; then touch "$PGDATA/standby.signal"; exit 0; fi; exec "$0" "$@"';

/** A pod the harness cannot run, with the reason a kubelet would report. */
export class UnsupportedPodError extends Error {
  constructor(
    readonly reason: "InvalidImageName" | "CreateContainerConfigError",
    message: string,
  ) {
    super(message);
  }
}

/** The major an image names, or undefined when it is not a PostgreSQL image of a supported major. */
export function imageMajor(image: string | undefined): PostgresMajor | undefined {
  const m = IMAGE.exec(image ?? "");
  const major = m ? Number(m[1]) : NaN;
  return isSupportedMajor(major) ? major : undefined;
}

/** The pod's PostgreSQL container, when it has one with a supported image. */
export function postgresContainer(pod: V1Pod): V1Container | undefined {
  const c = pod.spec?.containers.find((x) => x.name === POSTGRES_CONTAINER);
  return c && imageMajor(c.image) !== undefined ? c : undefined;
}

/** Value of a literal env var (undefined when absent or given by reference). */
export function literalEnv(env: readonly V1EnvVar[], name: string): string | undefined {
  return env.find((e) => e.name === name)?.value;
}

/**
 * Reads what to run from a pod.
 * @throws {UnsupportedPodError} when the pod has no supported PostgreSQL container, its args are
 *   not `-c name=value` pairs, or PGDATA is not on a mounted PersistentVolumeClaim.
 */
export function instanceSpec(pod: V1Pod): InstanceSpec {
  const c = pod.spec?.containers.find((x) => x.name === POSTGRES_CONTAINER);
  const major = imageMajor(c?.image);
  if (!c || major === undefined) {
    throw new UnsupportedPodError("InvalidImageName", `container "${POSTGRES_CONTAINER}" with image postgres:<14-18> required`);
  }
  const env = c.env ?? [];
  const pgdata = literalEnv(env, "PGDATA") ?? "/var/lib/postgresql/data";
  const mount = (c.volumeMounts ?? [])
    .filter((m) => pgdata === m.mountPath || pgdata.startsWith(`${m.mountPath.replace(/\/$/, "")}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = mount && pod.spec?.volumes?.find((v) => v.name === mount.name);
  const claimName = volume?.persistentVolumeClaim?.claimName;
  if (!mount || !claimName) {
    throw new UnsupportedPodError("CreateContainerConfigError", `PGDATA ${pgdata} is not on a mounted persistentVolumeClaim volume`);
  }
  const args = [...(c.command ?? []).filter((a) => a !== "postgres" && a !== "docker-entrypoint.sh"), ...(c.args ?? [])];
  const settings: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-c" && args[i + 1]?.includes("=")) settings.push(args[++i]!);
    else if (a.startsWith("--") && a.includes("=")) settings.push(a.slice(2));
    else throw new UnsupportedPodError("CreateContainerConfigError", `unsupported argument ${JSON.stringify(a)}: only -c name=value and --name=value`);
  }
  const configMapMounts: ConfigMapMount[] = [];
  for (const m of c.volumeMounts ?? []) {
    const cm = pod.spec?.volumes?.find((v) => v.name === m.name)?.configMap;
    if (cm?.name) configMapMounts.push({ mountPath: m.mountPath.replace(/\/+$/, ""), configMap: cm.name });
  }
  const inits = pod.spec?.initContainers ?? [];
  if (inits.length > 1) throw new UnsupportedPodError("CreateContainerConfigError", "at most one init container (pg_basebackup) is supported");
  const clone = inits.length === 1 ? cloneSpec(inits[0]!, pgdata) : undefined;
  return {
    major,
    image: c.image!,
    env,
    claimName,
    dataSubPath: pgdata.slice(mount.mountPath.length).replace(/^\/+/, ""),
    port: c.ports?.[0]?.containerPort ?? 5432,
    settings,
    configMapMounts,
    terminationGraceSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
    ...(clone ? { clone } : {}),
  };
}

function cloneSpec(c: V1Container, pgdata: string): CloneSpec {
  if (imageMajor(c.image) === undefined) throw new UnsupportedPodError("InvalidImageName", `init container "${c.name}": image postgres:<14-18> required`);
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  const standby = argv[0] === "sh" && argv[1] === "-c" && argv[2] === STANDBY_IF_INITIALIZED;
  const guarded = standby || (argv[0] === "sh" && argv[1] === "-c" && argv[2] === SKIP_IF_INITIALIZED);
  const program = guarded ? argv.slice(3) : argv;
  if (program[0] !== "pg_basebackup") throw new UnsupportedPodError("CreateContainerConfigError", `init container "${c.name}": only pg_basebackup is supported`);
  const args = program.slice(1);
  const d = args.indexOf("-D");
  if (d < 0 || (args[d + 1] !== pgdata && args[d + 1] !== "$PGDATA")) {
    throw new UnsupportedPodError("CreateContainerConfigError", `init container "${c.name}": pg_basebackup must write to PGDATA (${pgdata})`);
  }
  return { name: c.name, args, env: c.env ?? [], skipIfInitialized: guarded, ...(standby ? { standbyIfInitialized: true } : {}) };
}
