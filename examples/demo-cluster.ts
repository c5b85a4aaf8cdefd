// `npm run demo:cluster`: the PostgresCluster operator end to end, with real PostgreSQL servers.
// On real pods when the machine can run a real node (root, the toolchain's node group, containerd,
// runc, debootstrap: examples/support/cluster-platform.ts): the node (kubelet + containerd +
// kube-proxy + CoreDNS), Setpoint's instance image built and imported, and the operator deployed
// in its pod by `pulumi up` of the Operator component. Otherwise on the node harness that plays the
// kubelet (each pod's PostgreSQL a local process on its own 127.B.x.y address) with the operator
// as a local process. The first line of the output says which. Then it `pulumi up`s
// examples/cluster (a 3-instance cluster with synchronous replication, and a Schema on it); runs
// a writer that commits numbered rows through the rw Service; kills the primary (its container on
// real pods, its server for good on the harness) and prints the failover time and the
// acknowledged rows missing afterwards; then raises max_connections with a second `pulumi up` and
// prints the rolling restart as the cluster's pods and status show it. Everything it started is
// stopped and its files removed at the end, also when a step fails or the demo is interrupted
// (Ctrl-C); on real pods it prints what the node left behind (nothing).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import type { Client} from "pg";
import { type ClientConfig } from "pg";
import { pgClient } from "../sdk/postgres/client";
import { clusterObjectNames, type PostgresClusterStatus } from "../sdk/api/index";
import { verifiedServerName } from "../sdk/operator/cluster/tls";
import type { PostgresMajor } from "../sdk/postgres/versions";
import { eventually } from "../test/support/eventually";
import { REAL_OPERATOR_TOOLS } from "../test/support/real-node/operator";
import { realPodsUnavailable, startHarness, startRealPods, type ClusterPlatform } from "./support/cluster-platform";
import { watchCluster, type ClusterChange, type ClusterWatch } from "./support/cluster-watch";
import { ensureBuilt, localStack, requireToolchain, runMain, step, stopOnce } from "./support/demo";
import { startWriter, type Ack, type Writer } from "../test/support/writer";

const programDir = join(__dirname, "cluster");
const NAMESPACE = "default";
const NAME = "shop";
const TABLE = "orders";
/** examples/cluster's postgresVersion: the instance image built on real pods. */
const POSTGRES_VERSION: PostgresMajor = 17;
const TOOLS = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager"];
/** The max_connections the demo raises the cluster's to (a change that needs a restart). */
const MAX_CONNECTIONS = "200";
/** Bound of each `pulumi up`: a cluster that never gets Ready fails the demo instead of hanging it. */
const UP_TIMEOUT_MS = 240_000;
const FAILOVER_TIMEOUT_MS = 90_000;
const ROLLOUT_TIMEOUT_MS = 150_000;
/** How long the cluster must stay settled, with no change seen, before the failover counts as over. */
const SETTLED_FOR_MS = 5_000;

/** Ready and nothing in progress, every instance ready. */
function settled(status: PostgresClusterStatus | undefined, instances: number): boolean {
  const ready = status?.conditions?.find((c) => c.type === "Ready");
  const progressing = status?.conditions?.find((c) => c.type === "Progressing");
  return ready?.status === "True" && progressing?.status !== "True" && status?.instances?.length === instances && status.instances.every((i) => i.ready);
}

/** The acknowledged rows of `acked` that `client`'s server does not have. */
async function missingRows(client: Client, acked: readonly Ack[]): Promise<Ack[]> {
  const present = new Set((await client.query<{ id: string }>(`select id from ${TABLE}`)).rows.map((r) => Number(r.id)));
  return acked.filter((a) => !present.has(a.id));
}

/** Runs `fn` on a connection to the server behind `config`. */
async function withClient<T>(config: ClientConfig, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = pgClient({ ...config, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The longest time between two consecutive acknowledgements, in ms. */
function longestPause(acks: readonly Ack[]): number {
  return acks.reduce((max, a, i) => (i === 0 ? 0 : Math.max(max, a.at - acks[i - 1]!.at)), 0);
}

/** max_connections of the server behind `config`. */
async function maxConnectionsOf(config: ClientConfig): Promise<string> {
  return withClient(config, async (c) => (await c.query<{ v: string }>("select current_setting('max_connections') as v")).rows[0]!.v);
}

function printPods(watch: ClusterWatch): void {
  console.log(`${"NAME".padEnd(10)}${"ROLE".padEnd(10)}${"READY".padEnd(8)}IP`);
  for (const p of watch.pods()) {
    const ready = p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? "1/1" : "0/1";
    console.log(`${p.metadata!.name!.padEnd(10)}${(p.metadata?.labels?.["setpoint.dev/role"] ?? "").padEnd(10)}${ready.padEnd(8)}${p.status?.podIP ?? ""}`);
  }
}

/** The rolling restart as observed: restarts and primary changes, in order; `primary` is the primary it began with. */
function rolloutSummary(changes: readonly ClusterChange[], primary: string | undefined): string[] {
  return changes.flatMap((c) => {
    if (c.kind === "restart") return [`restart ${c.pod!} (${c.pod === primary ? "the old primary, now a replica" : (c.role ?? "?")})`];
    if (c.kind === "primary" && c.from !== undefined) return [`switchover ${c.from} -> ${c.to!}`];
    return [];
  });
}

async function main(): Promise<void> {
  step("toolchain");
  const notReal = realPodsUnavailable();
  console.log(notReal === undefined ? "mode: real pods (a real node: kubelet + containerd; the operator in its pod)" : `mode: node harness (plays the kubelet; real pods unavailable: ${notReal})`);
  const tc = requireToolchain(notReal === undefined ? REAL_OPERATOR_TOOLS : TOOLS);
  ensureBuilt();

  const work = mkdtempSync(join(tmpdir(), "setpoint-demo-cluster-"));
  const stack = localStack(tc, programDir, work);
  let platform: ClusterPlatform | undefined;
  let watch: ClusterWatch | undefined;
  let writer: Writer | undefined;
  const stopAll = stopOnce(async () => {
    step("stopping everything");
    await writer?.stop();
    await watch?.stop();
    // Removing the stack without `pulumi destroy`: the control plane and everything in it go next.
    await stack.remove();
    const left = await platform?.stop();
    rmSync(work, { recursive: true, force: true });
    console.log(
      platform?.kind === "real-pods"
        ? "stopped the writer, the real node (pods, containerd, kubelet, control plane) and removed the demo's files"
        : "stopped the writer, the operator, the node's PostgreSQL servers and the control plane, and removed the demo's files",
    );
    if (platform?.kind === "real-pods") console.log(`left behind: ${left?.length ? left.join(", ") : "nothing"}`);
  });

  try {
    platform = notReal === undefined ? await startRealPods(NAMESPACE, NAME, POSTGRES_VERSION) : await startHarness(NAMESPACE, NAME);
    const p = platform;
    const core = p.kubeConfig.makeApiClient(CoreV1Api);
    const names = clusterObjectNames(NAME);

    step(`pulumi up (examples/cluster, stack ${stack.name}, local file backend)`);
    watch = watchCluster({ kubeConfig: p.kubeConfig, namespace: NAMESPACE, name: NAME, print: (l) => console.log(`cluster  | ${l}`) });
    await stack.init();
    // Secrets go in on stdin, never on the command line.
    await stack.run(["config", "set", "--secret", "kubeconfig"], { show: false, input: readFileSync(p.kubeconfigPath, "utf8") });
    await stack.run(["config", "set", "readWriteAddress", p.readWriteAddress], { show: false });
    const startedUp = Date.now();
    await stack.run(["up", "--yes", "--skip-preview", "--suppress-progress"], { timeoutMs: UP_TIMEOUT_MS });
    console.log(`pulumi up: 3 instances Ready and the Schema applied in ${((Date.now() - startedUp) / 1000).toFixed(1)} s`);

    step(`kubectl get pods -l setpoint.dev/cluster=${NAME}`);
    printPods(watch);
    const secret = (await core.readNamespacedSecret({ name: names.appSecret, namespace: NAMESPACE })).data ?? {};
    const field = (k: string): string => Buffer.from(secret[k] ?? "", "base64").toString("utf8");
    const rw = await p.readWriteEndpoint();
    console.log(`the writer reaches ${names.readWriteService} at ${rw.host}:${rw.port}`);
    // The cluster accepts TLS only: verify-full against the app Secret's ca.crt, the certificate
    // checked for the rw Service's name whatever address (ClusterIP, proxy, pod) is connected to.
    const app: ClientConfig = {
      host: rw.host,
      port: rw.port,
      user: field("username"),
      password: field("password"),
      database: field("dbname"),
      ssl: { ca: field("ca.crt"), servername: verifiedServerName(NAME, NAMESPACE), rejectUnauthorized: true, minVersion: "TLSv1.3" },
    };
    const columns = await withClient(app, async (c) =>
      (await c.query<{ c: string }>("select column_name || ' ' || data_type as c from information_schema.columns where table_name = $1 order by ordinal_position", [TABLE])).rows.map((r) => r.c),
    );
    console.log(`table ${TABLE} (from the Schema): ${columns.join(", ")}`);

    step(`a writer commits numbered rows into ${TABLE} through ${names.readWriteService}`);
    writer = startWriter(app, TABLE);
    const w = writer;
    await eventually("the writer's first 50 rows", () => w.acked.length >= 50, 60_000, 50);
    const oldPrimary = watch.status()!.currentPrimary!;
    const oldIp = watch.pods().find((p) => p.metadata?.name === oldPrimary)?.status?.podIP;
    console.log(`${w.acked.length} rows acknowledged so far, all by ${oldPrimary} (${oldIp ?? "?"})`);

    step(`killing the primary's ${p.killWhat} (${oldPrimary})`);
    const failuresBefore = w.failures();
    const killedAt = Date.now();
    console.log(await p.killPrimary(oldPrimary));
    // The kill has taken effect once a write fails; the outage lasts until the next acknowledged one.
    const failedAt = await eventually("a failed write after the kill", () => (w.failures() > failuresBefore ? Date.now() : undefined), FAILOVER_TIMEOUT_MS, 10);
    const firstAck = await eventually("a write acknowledged after the kill", () => w.acked.find((a) => a.at > failedAt), FAILOVER_TIMEOUT_MS, 10).catch((err: unknown) => {
      throw new Error(`failover did not complete: ${(err as Error).message}`);
    });
    const v = watch;
    // The failover is over once the cluster has stayed settled for a while: a container the kubelet
    // restarted in place may answer (and acknowledge writes, replicated synchronously) before the
    // operator, which saw it exit, fences it and promotes a replica (ADR 0038). Whatever answered
    // first, the primary is the one the settled status names.
    step(`waiting for the cluster to settle (the operator may still fence ${oldPrimary})`);
    const healStart = Date.now();
    const newPrimary = await eventually(
      `3 instances ready, with no change seen for ${SETTLED_FOR_MS / 1000} s`,
      () => {
        const s = v.status();
        // Any pod, role, readiness or condition change the watch records restarts the wait.
        const lastChange = v.changes.filter((c) => c.kind !== "event").at(-1)?.at ?? 0;
        return settled(s, 3) && Date.now() - lastChange >= SETTLED_FOR_MS ? s!.currentPrimary : undefined;
      },
      FAILOVER_TIMEOUT_MS + 120_000,
      250,
    );
    console.log(`settled in ${((Date.now() - healStart) / 1000).toFixed(1)} s`);
    const newIp = v.pods().find((p) => p.metadata?.name === newPrimary)?.status?.podIP;
    const inPlace = newPrimary === oldPrimary;
    const answeredFirst = firstAck.server === oldIp;
    // The outage ends with the first write the final primary acknowledged after the kill.
    const recovered = inPlace ? firstAck : (w.acked.find((a) => a.at > failedAt && a.server === newIp) ?? firstAck);
    // Every row acknowledged until now (by whichever server) must be on the final primary.
    const ackedAtFailover = [...w.acked];
    const lost = await withClient(app, (c) => missingRows(c, ackedAtFailover));
    step("failover");
    if (inPlace) {
      console.log(`${oldPrimary} was restarted in place by the kubelet and answered before the operator fenced it, and acknowledged a write again ${((firstAck.at - killedAt) / 1000).toFixed(2)} s after it was killed`);
    } else {
      if (answeredFirst) {
        const lastOld = [...w.acked].reverse().find((a) => a.server === oldIp && a.at > failedAt);
        console.log(
          `${oldPrimary} was restarted in place by the kubelet and acknowledged writes from +${((firstAck.at - killedAt) / 1000).toFixed(2)} s to +${(((lastOld ?? firstAck).at - killedAt) / 1000).toFixed(2)} s ` +
            `(replicated synchronously) until the operator, which had seen its container exit, fenced it`,
        );
      }
      console.log(`${newPrimary} (${newIp ?? "?"}) acknowledged its first write ${((recovered.at - killedAt) / 1000).toFixed(2)} s after ${oldPrimary} was killed`);
    }
    console.log(`primary after the failover: ${newPrimary} (${inPlace ? "restarted in place" : `promoted, was ${oldPrimary}${answeredFirst ? `, which had been restarted in place first` : ""}`})`);
    console.log(`failover completed in ${((recovered.at - killedAt) / 1000).toFixed(1)} s, lost ${lost.length} acknowledged rows (${ackedAtFailover.length} acknowledged, all checked on ${newPrimary})`);
    if (lost.length > 0) console.log(`missing ids: ${lost.slice(0, 20).map((a) => a.id).join(", ")}${lost.length > 20 ? ", ..." : ""}`);
    printPods(watch);
    // Where the failover's seconds went, as this process saw them (the watch polls; Events carry
    // the operator's steps).
    const timeline = [
      { at: failedAt, text: "the writer's first failed attempt" },
      { at: firstAck.at, text: `the first acknowledged write (${firstAck.server})` },
      ...(recovered === firstAck ? [] : [{ at: recovered.at, text: `the first write acknowledged by ${newPrimary} (${recovered.server})` }]),
      ...v.changes.filter((c) => c.at >= killedAt && c.at <= recovered.at + 2000).map((c) => ({ at: c.at, text: `${c.kind}: ${c.text}` })),
    ].sort((a, b) => a.at - b.at);
    console.log(`failover timeline (s after the kill):\n${timeline.map((e) => `  +${((e.at - killedAt) / 1000).toFixed(2).padStart(6)}  ${e.text}`).join("\n")}`);

    const current = await maxConnectionsOf(app);
    step(`raising max_connections ${current} -> ${MAX_CONNECTIONS} (needs a restart): pulumi up`);
    const rolloutFrom = watch.changes.length;
    const rolloutStart = Date.now();
    const primaryBefore = v.status()?.currentPrimary;
    await stack.run(["config", "set", "maxConnections", MAX_CONNECTIONS], { show: false });
    const up = stack.run(["up", "--yes", "--skip-preview", "--suppress-progress"], { timeoutMs: UP_TIMEOUT_MS });
    up.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled
    const settings = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const p of v.pods()) {
        const ip = p.status?.podIP;
        if (!ip) continue;
        out[p.metadata!.name!] = await maxConnectionsOf({ ...app, host: ip, port: 5432 }).catch(() => "?");
      }
      return out;
    };
    const rolled = await eventually(
      "every instance restarted with the new max_connections",
      async () => {
        const now = await settings();
        return settled(v.status(), 3) && Object.keys(now).length === 3 && Object.values(now).every((x) => x === MAX_CONNECTIONS) ? now : undefined;
      },
      ROLLOUT_TIMEOUT_MS,
      1000,
    ).catch(async () => {
      const now = await settings();
      const pending = (v.status()?.instances ?? []).filter((i) => i.pendingRestart).map((i) => i.name);
      throw new Error(
        `rolling restart not observed within ${ROLLOUT_TIMEOUT_MS / 1000} s: max_connections by instance ${JSON.stringify(now)}; ` +
          `pending restart in status: ${pending.length ? pending.join(", ") : "none"}; restarts seen: ${rolloutSummary(v.changes.slice(rolloutFrom), primaryBefore).join(", ") || "none"}`,
      );
    });
    await up;
    step("rolling restart");
    const order = rolloutSummary(watch.changes.slice(rolloutFrom), primaryBefore);
    console.log(`rolling restart: ${order.join(", ")}`);
    console.log(`max_connections: ${Object.entries(rolled).map(([pod, value]) => `${pod}=${value}`).join(", ")}`);
    const pause = longestPause(w.acked.filter((a) => a.at >= rolloutStart));
    console.log(`the writer's longest wait for an acknowledgement during the rolling restart: ${(pause / 1000).toFixed(1)} s`);

    await sleep(1000);
    await writer.stop();
    const ackedInAll = [...writer.acked];
    const lostInAll = await withClient(app, (c) => missingRows(c, ackedInAll));
    console.log(`writer: ${ackedInAll.length} rows acknowledged in all, ${writer.failures()} attempts failed (not acknowledged); lost ${lostInAll.length} acknowledged rows`);
  } finally {
    await stopAll();
  }
}

runMain(main);
