// Declarative major upgrade benchmark (ADR 0033): `npm run bench:upgrade-cluster -- [--size-mb 200]
// [--writers 4] [--instances 1] [--real-node] [--json FILE]`.
// A real API server and the operator in process; the pods on the node harness (real PostgreSQL 16
// and 17 per pod) and the pooler node (real pgbouncer per pod), or with --real-node on a real node
// (kubelet + containerd, the instance images of 16 and 17 and the pooler image built from their
// recipes, the writers through the pooler Service's ClusterIP by kube-proxy; needs root). A
// PostgresCluster of 16 with --instances instances and a pooler gets a dataset of --size-mb;
// --writers connections write through <cluster>-pooler-rw (one row per transaction, every 10 ms
// each) while spec.postgresVersion is raised to 17 and the operator runs the blue-green upgrade to
// the cutover through the pooler. Then every acknowledged row is looked up on green. Prints a table
// and writes JSON.
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { pgClient } from "../sdk/postgres/client";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresClusterStatus, type PostgresUpgradeStatus } from "../sdk/api/index";
import { startOperator } from "../sdk/operator/main";
import { MetricsRegistry } from "../sdk/reconcile/internal/metrics";
import type { Logger } from "../sdk/reconcile/index";
import { installCrds, startControlPlane, toolchainOrSkip } from "../test/support/control-plane";
import { createCustomObject } from "../test/support/custom-objects";
import { startNodeHarness } from "../test/support/node/harness";
import { startPoolerNode } from "../test/support/node/pooler-node";
import { ensurePgBouncer } from "../test/support/pgbouncer";
import { startServiceProxy } from "../test/support/service-proxy";
import { clusterClientConfig, poolerSsl } from "../test/support/cluster-tls";
import { startWriter, type Writer } from "../test/support/writer";
import { realNodeToolchain } from "../test/support/real-node/gate";
import { importInstanceImage, importPoolerImage } from "../test/support/real-node/operator";
import { startRealNode } from "../test/support/real-node/node";
import { startVolumeProvisioner } from "../test/support/real-node/volumes";
import { textTable } from "./support/stats";

const clusterToolchain = toolchainOrSkip(["etcd", "kube-apiserver", "kube-controller-manager"]);

/** The operator's log, kept in memory (printed when the run fails). */
function recorder(lines: string[]): Logger {
  const make = (base: object): Logger => ({
    debug: () => undefined,
    info: (m, f) => void lines.push(`${new Date().toISOString()} info ${m} ${JSON.stringify({ ...base, ...f })}`),
    error: (m, f) => void lines.push(`${new Date().toISOString()} error ${m} ${JSON.stringify({ ...base, ...f })}`),
    child: (f) => make({ ...base, ...f }),
  });
  return make({});
}

const TARGETS = { lostRows: 0, failedTransactions: 0, maxWritePauseMs: 1000, checksumsEqual: true } as const;

/** Where the pods run: the kubeconfig, how the writers reach the pooler Service, the pooler image to name. */
interface Platform {
  readonly kubeConfig: KubeConfig;
  /** Where the cluster goes (a real node's pods run in `default`). */
  readonly namespace: string;
  readonly poolerImage?: string;
  pooler(core: CoreV1Api): Promise<{ host: string; port: number }>;
}

/** The node harness and the pooler node; the writers reach the pooler Service through a local proxy. */
async function startHarnessPlatform(stops: (() => Promise<unknown>)[]): Promise<Platform> {
  if (clusterToolchain.skip !== undefined) throw new Error(`toolchain missing: ${clusterToolchain.skip}`);
  const pgbouncer = ensurePgBouncer();
  if ("missing" in pgbouncer) throw new Error(pgbouncer.missing);
  const cp = await startControlPlane({ toolchain: clusterToolchain.env!, controllers: ["garbagecollector"] });
  stops.unshift(() => cp.stop());
  await installCrds(cp.kubeConfig, crdManifests());
  const node = await startNodeHarness({ kubeConfig: cp.kubeConfig });
  stops.unshift(() => node.stop());
  const poolerNode = await startPoolerNode({ kubeConfig: cp.kubeConfig, avoidBlock: node.block });
  stops.unshift(() => poolerNode.stop());
  const ns = "bench";
  return {
    kubeConfig: cp.kubeConfig,
    namespace: ns,
    pooler: async () => {
      const proxy = await startServiceProxy({ kubeConfig: cp.kubeConfig, namespace: ns, service: "shop-pooler-rw" });
      stops.unshift(() => proxy.stop());
      return { host: proxy.host, port: proxy.port };
    },
  };
}

/** A real node with the instance images of 16 and 17 and the pooler image; the pooler Service by its ClusterIP (kube-proxy). */
async function startRealPlatform(lines: string[], stops: (() => Promise<unknown>)[]): Promise<Platform> {
  const toolchain = realNodeToolchain();
  if (toolchain.skip !== undefined) throw new Error(`--real-node: ${toolchain.skip}`);
  const ns = "default";
  const node = await startRealNode({ toolchain: toolchain.env! });
  stops.unshift(() => node.stop());
  for (const major of [16, 17] as const) importInstanceImage(node, major);
  const poolerImage = "setpoint-pooler:bench";
  importPoolerImage(node, poolerImage);
  await installCrds(node.controlPlane.kubeConfig, crdManifests());
  const stopVolumes = startVolumeProvisioner(node, ns, (m) => lines.push(m));
  stops.unshift(() => Promise.resolve(stopVolumes()));
  return {
    kubeConfig: node.controlPlane.kubeConfig,
    namespace: ns,
    poolerImage,
    pooler: async (core) => {
      const svc = await core.readNamespacedService({ name: "shop-pooler-rw", namespace: ns });
      return { host: svc.spec!.clusterIP!, port: svc.spec!.ports![0]!.port };
    },
  };
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "size-mb": { type: "string", default: "200" },
      writers: { type: "string", default: "4" },
      instances: { type: "string", default: "1" },
      "real-node": { type: "boolean", default: false },
      json: { type: "string", default: "bench-upgrade-cluster.json" },
    },
  });
  const sizeMb = Number(values["size-mb"]);
  const writerCount = Number(values.writers);
  const instances = Number(values.instances);
  const realNode = values["real-node"];
  const lines: string[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const platform = realNode ? await startRealPlatform(lines, stops) : await startHarnessPlatform(stops);
    const { kubeConfig, namespace: ns } = platform;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const objects = kubeConfig.makeApiClient(CustomObjectsApi);
    if (ns !== "default") await core.createNamespace({ body: { metadata: { name: ns } } });
    const operator = await startOperator({ kubeconfig: kubeConfig, namespace: ns, metricsPort: 0, metricsHost: "127.0.0.1", logger: recorder(lines), metrics: new MetricsRegistry() });
    stops.unshift(() => operator.stop());
    const read = async (name: string) => (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name })) as { status?: PostgresClusterStatus };
    const secret = async (name: string) => Buffer.from((await core.readNamespacedSecret({ name, namespace: ns })).data!.password!, "base64").toString("utf8");
    const podIp = async (name: string) => (await core.readNamespacedPod({ name, namespace: ns })).status!.podIP!;

    await createCustomObject(objects, ns, "PostgresCluster", "shop", {
      postgresVersion: 16,
      instances,
      storage: { size: "20Gi" },
      parameters: { wal_level: "logical" },
      pooler: { instances: 1, ...(platform.poolerImage ? { image: platform.poolerImage } : {}) },
      tls: { superuserPasswordOverNetwork: true },
    });
    await until("shop settled with its pooler", 600_000, async () => {
      const s = (await read("shop")).status;
      const settled = s?.conditions?.some((c) => c.type === "Progressing" && c.status === "False") && s.pooler?.primary === s.currentPrimary && !(s.instances ?? []).some((i) => i.pendingRestart);
      return settled ? s : undefined;
    });
    const blueIp = await podIp((await read("shop")).status!.currentPrimary!);
    const appPassword = await secret("shop-app");
    const generateStarted = performance.now();
    const app = pgClient(await clusterClientConfig(core, ns, "shop", { host: blueIp, user: "app", password: appPassword, database: "app" }));
    await app.connect();
    await app.query("create table acked (id int primary key, note text)");
    await app.query("create table payload (id bigint primary key, body text not null)");
    const rowsPerMb = 1024; // ~1 KiB per row
    for (let mb = 0; mb < sizeMb; mb += 50) {
      const n = Math.min(50, sizeMb - mb) * rowsPerMb;
      await app.query(`insert into payload select g, repeat(md5(g::text), 30) from generate_series(${mb * rowsPerMb + 1}, ${mb * rowsPerMb + n}) g`);
    }
    const datasetBytes = Number((await app.query<{ b: string }>("select pg_database_size('app')::text as b")).rows[0]!.b);
    await app.end();
    const generateSeconds = (performance.now() - generateStarted) / 1000;

    const pooler = await platform.pooler(core);
    const conn = { ...pooler, user: "app", password: appPassword, database: "app", ssl: await poolerSsl(core, ns, "shop") };
    const writers: Writer[] = Array.from({ length: writerCount }, (_, k) => startWriter(conn, "acked", (k + 1) * 10_000_000, 10));
    await until("writers running", 60_000, async () => (writers.every((w) => w.acked.length > 10) ? true : undefined));

    const started = performance.now();
    const phases: { phase: string; atSeconds: number }[] = [];
    await objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "shop", body: { spec: { postgresVersion: 17 } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    let switchedAt = 0;
    await until("the cluster served by 17", 7_200_000, async () => {
      const s = (await read("shop")).status;
      const phase = s?.upgrade?.phase;
      if (phase && phases.at(-1)?.phase !== phase) phases.push({ phase, atSeconds: Math.round((performance.now() - started) / 100) / 10 });
      if (s?.postgresVersion === 17) switchedAt = Date.now();
      return s?.postgresVersion === 17 ? s : undefined;
    });
    await until("writers after the switch", 60_000, async () => (writers.every((w) => (w.acked.at(-1)?.at ?? 0) > switchedAt) ? true : undefined));
    await sleep(500);
    for (const w of writers) await w.stop();
    const totalSeconds = (performance.now() - started) / 1000;

    const acks = writers.flatMap((w) => w.acked).sort((a, b) => a.at - b.at);
    let maxWritePauseMs = 0;
    for (let i = 1; i < acks.length; i++) maxWritePauseMs = Math.max(maxWritePauseMs, acks[i]!.at - acks[i - 1]!.at);
    const greenIp = await podIp((await read("shop-v17")).status!.currentPrimary!);
    // The superuser over verified TLS (instances take TLS only, ADR 0035) with its password: this cluster lets it in that way (spec.tls.superuserPasswordOverNetwork).
    const green = pgClient(await clusterClientConfig(core, ns, "shop-v17", { host: greenIp, password: await secret("shop-v17-superuser"), database: "app" }));
    await green.connect();
    const present = new Set((await green.query<{ id: number }>("select id from acked")).rows.map((r) => r.id));
    await green.end();
    const upgrade = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresUpgrade.plural, name: "shop-to-17" })) as { status?: PostgresUpgradeStatus };
    const result = {
      fromVersion: 16,
      toVersion: 17,
      datasetBytes,
      writers: writerCount,
      upgradeSeconds: Math.round(totalSeconds * 10) / 10,
      maxWritePauseMs,
      engineWritePauseMs: upgrade.status?.writePauseMs ?? null,
      committedTransactions: acks.length,
      failedTransactions: writers.reduce((n, w) => n + w.failures(), 0),
      lostRows: acks.filter((a) => !present.has(a.id)).length,
      checksumsEqual: upgrade.status?.verification?.equal === true,
      detail: { platform: realNode ? "real node (kubelet + containerd)" : "node harness", instances, phases, generateSeconds: Math.round(generateSeconds), machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage1m: loadavg()[0] } },
      targets: TARGETS,
    };
    console.log(
      textTable(
        ["metric", "value", "target"],
        [
          ["dataset", `${(datasetBytes / 2 ** 20).toFixed(0)} MiB`, "≥ 1 GiB (issue)"],
          ["upgrade (bump → served by 17)", `${result.upgradeSeconds} s`, ""],
          ["max write pause (client view)", `${maxWritePauseMs} ms`, `≤ ${TARGETS.maxWritePauseMs} ms`],
          ["engine write pause", `${String(result.engineWritePauseMs)} ms`, ""],
          ["failed transactions", String(result.failedTransactions), "0"],
          ["lost rows", String(result.lostRows), "0"],
          ["checksums equal", String(result.checksumsEqual), "true"],
        ],
      ),
    );
    writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${values.json}`);
  } catch (err) {
    console.error(lines.slice(-40).join("\n"));
    throw err;
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
