// What a pod asks the node harness to run, read the way a kubelet running Setpoint's instance
// image reads it: the container named `postgres` runs the instance manager
// (`node dist/sdk/instance/main.js run [-c name=value ...]`, sdk/instance), configured by its
// environment (PGDATA, SETPOINT_POSTGRES_MAJOR, the Secrets' passwords, ...); the major comes from
// SETPOINT_POSTGRES_MAJOR, else the image tag (`setpoint-postgres:17`), as the image's own
// environment would give it; the data directory lives on the volume mounted at the PGDATA path's
// mount, and the first containerPort is the listen port. ConfigMap volumes are written out per
// pod and paths under their mount in the arguments (e.g. `hba_file=/etc/setpoint/pg_hba.conf`)
// point there, as a kubelet's mount would make them. Secret volumes (the certificates) are written
// the same way, and environment values that are paths under a mount (SETPOINT_HBA_SOURCE,
// SETPOINT_TLS_*_DIR) are mapped too. Init containers are not supported: the
// manager clones a replica itself.
import type { V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import { INSTANCE_MANAGER } from "../../../sdk/operator/cluster/objects";
import { INSTANCE_ENV } from "../../../sdk/instance/settings";
import { isSupportedMajor, type PostgresMajor } from "../../../sdk/postgres/versions";

/** Name of the container the harness runs; other containers of a pod are not supported. */
export const POSTGRES_CONTAINER = "postgres";

/** An image tag naming a major (`setpoint-postgres:17`, `registry.example/setpoint-postgres:17-dev`). */
const IMAGE = /^(?:[^:@]+\/)?[^/:@]+:(\d+)(?:[.-][^@]*)?(?:@.*)?$/;

/** Everything the harness needs to start a pod's instance manager, with secrets still unresolved. */
export interface InstanceSpec {
  readonly major: PostgresMajor;
  readonly image: string;
  /** Environment: literal values, or references the harness resolves (as a kubelet does) before start. */
  readonly env: readonly V1EnvVar[];
  /** PGDATA as the container sees it. */
  readonly pgdata: string;
  /** PVC whose volume holds the data. */
  readonly claimName: string;
  /** Path of PGDATA relative to the volume's root ("" when PGDATA is the mount itself). */
  readonly dataSubPath: string;
  /** Listen port (the first containerPort). @default 5432 */
  readonly port: number;
  /** The manager's arguments after `run` (server arguments), paths as the container sees them. */
  readonly serverArgs: readonly string[];
  /** Grace period when the pod is deleted, before SIGKILL. */
  readonly terminationGraceSeconds: number;
  /** ConfigMap volumes mounted into the container: the harness writes their files and maps the paths in `serverArgs` and the environment. */
  readonly configMapMounts: readonly ConfigMapMount[];
  /** Secret volumes mounted into the container (the certificates, ADR 0035): written like ConfigMaps, files mode `defaultMode` (0644 when unset). */
  readonly secretMounts: readonly SecretMount[];
}

/** A ConfigMap volume mounted into the container. */
export interface ConfigMapMount {
  readonly mountPath: string;
  readonly configMap: string;
}

/** A Secret volume mounted into the container. */
export interface SecretMount {
  readonly mountPath: string;
  readonly secretName: string;
  readonly items?: readonly { readonly key: string; readonly path: string }[];
  readonly defaultMode: number;
}

/** A pod the harness cannot run, with the reason a kubelet would report. */
export class UnsupportedPodError extends Error {
  constructor(
    readonly reason: "InvalidImageName" | "CreateContainerConfigError",
    message: string,
  ) {
    super(message);
  }
}

/** Value of a literal env var (undefined when absent or given by reference). */
export function literalEnv(env: readonly V1EnvVar[], name: string): string | undefined {
  return env.find((e) => e.name === name)?.value;
}

/** The major a container runs: its SETPOINT_POSTGRES_MAJOR, else its image's tag; undefined when neither names a supported one. */
export function containerMajor(c: V1Container | undefined): PostgresMajor | undefined {
  const raw = literalEnv(c?.env ?? [], INSTANCE_ENV.major) ?? IMAGE.exec(c?.image ?? "")?.[1];
  const major = Number(raw);
  return raw !== undefined && isSupportedMajor(major) ? major : undefined;
}

function runsManager(c: V1Container): boolean {
  return JSON.stringify(c.command ?? []) === JSON.stringify(INSTANCE_MANAGER) && c.args?.[0] === "run";
}

/** The pod's instance container, when it runs the instance manager of a supported major. */
export function postgresContainer(pod: V1Pod): V1Container | undefined {
  const c = pod.spec?.containers.find((x) => x.name === POSTGRES_CONTAINER);
  return c && runsManager(c) && containerMajor(c) !== undefined ? c : undefined;
}

/**
 * Reads what to run from a pod.
 * @throws {UnsupportedPodError} when the pod has no instance-manager container of a supported
 *   major, has init containers, its server arguments are not `-c name=value` pairs, or PGDATA is
 *   not on a mounted PersistentVolumeClaim.
 */
export function instanceSpec(pod: V1Pod): InstanceSpec {
  const c = pod.spec?.containers.find((x) => x.name === POSTGRES_CONTAINER);
  const major = containerMajor(c);
  if (!c || !runsManager(c) || major === undefined) {
    throw new UnsupportedPodError("InvalidImageName", `container "${POSTGRES_CONTAINER}" running ${INSTANCE_MANAGER.join(" ")} run, with a major 14-18 (SETPOINT_POSTGRES_MAJOR or the image tag), required`);
  }
  if ((pod.spec?.initContainers ?? []).length > 0) throw new UnsupportedPodError("CreateContainerConfigError", "init containers are not supported (the instance manager clones a replica itself)");
  const env = c.env ?? [];
  const pgdata = literalEnv(env, INSTANCE_ENV.pgdata);
  if (pgdata === undefined) throw new UnsupportedPodError("CreateContainerConfigError", "PGDATA must be a literal environment variable");
  const mount = (c.volumeMounts ?? [])
    .filter((m) => pgdata === m.mountPath || pgdata.startsWith(`${m.mountPath.replace(/\/$/, "")}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = mount && pod.spec?.volumes?.find((v) => v.name === mount.name);
  const claimName = volume?.persistentVolumeClaim?.claimName;
  if (!mount || !claimName) {
    throw new UnsupportedPodError("CreateContainerConfigError", `PGDATA ${pgdata} is not on a mounted persistentVolumeClaim volume`);
  }
  const serverArgs = c.args!.slice(1);
  for (let i = 0; i < serverArgs.length; i++) {
    const a = serverArgs[i]!;
    if (a === "-c" && serverArgs[i + 1]?.includes("=")) i++;
    else throw new UnsupportedPodError("CreateContainerConfigError", `unsupported server argument ${JSON.stringify(a)}: only -c name=value`);
  }
  const configMapMounts: ConfigMapMount[] = [];
  for (const m of c.volumeMounts ?? []) {
    const cm = pod.spec?.volumes?.find((v) => v.name === m.name)?.configMap;
    if (cm?.name) configMapMounts.push({ mountPath: m.mountPath.replace(/\/+$/, ""), configMap: cm.name });
  }
  const secretMounts: SecretMount[] = [];
  for (const m of c.volumeMounts ?? []) {
    const sv = pod.spec?.volumes?.find((v) => v.name === m.name)?.secret;
    if (sv?.secretName) secretMounts.push({ mountPath: m.mountPath.replace(/\/+$/, ""), secretName: sv.secretName, ...(sv.items ? { items: sv.items } : {}), defaultMode: sv.defaultMode ?? 0o644 });
  }
  return {
    major,
    image: c.image!,
    env,
    pgdata,
    claimName,
    dataSubPath: pgdata.slice(mount.mountPath.length).replace(/^\/+/, ""),
    port: c.ports?.[0]?.containerPort ?? 5432,
    serverArgs,
    configMapMounts,
    secretMounts,
    terminationGraceSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
  };
}
