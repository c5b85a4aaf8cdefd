// A PostgresCluster on real pods: a real node (kubelet + containerd, test/support/real-node), the
// instance image built from its recipe (images/recipes.ts) and imported without a registry, the
// operator run by this process (out of cluster) reconciling a 3-instance synchronous cluster whose
// pods run Setpoint's instance manager: initdb on the first, clones over the replication protocol
// on the others. A writer commits through the rw Service's ClusterIP (kube-proxy's rules) while
// the primary's container is killed (containerd kills its task: PID 1 and everything in it), and
// then while the primary's pod is deleted, then while the primary is alive but unready (its postmaster
// stopped, its sessions committing: the fence must confirm it stopped before a promotion, ADR 0026); each time the time to
// the first write acknowledged again is printed and no acknowledged row may be lost. Then a parameter that needs a restart
// (replicas restarted, a switchover: the writers' pause printed) and scaling 3 -> 2 -> 3. Times are printed and written to
// docs/real-pods.md by hand; the bound asserted is loose (a loaded CI machine), the target 10 s.
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { clusterClientConfig, clusterSuperuser } from "../support/cluster-tls";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceImageRecipe } from "../../images/recipes";
import { crdManifests, GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { startOperator, type RunningOperator } from "../../sdk/operator/main";
import { MetricsRegistry } from "../../sdk/reconcile/internal/metrics";
import { recorder } from "../support/cluster";
import { installCrds } from "../support/control-plane";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { realNodeToolchain } from "../support/real-node/gate";
import { must } from "../support/real-node/host";
import { recipeConfig, recipeRootfs } from "../support/real-node/images";
import { startRealNode, type RealNode } from "../support/real-node/node";
import { startVolumeProvisioner } from "../support/real-node/volumes";
import { majors } from "../support/postgres";
import { startWriter, type Writer } from "../support/writer";

const toolchain = realNodeToolchain();
const major = majors().includes(17) ? 17 : majors()[0]!;
const ns = "default";
const WAIT_MS = 300_000;

interface Cluster {
  metadata: { generation?: number };
  status?: PostgresClusterStatus;
}

describe.skipIf(toolchain.skip !== undefined)("real node: a PostgresCluster on real pods", () => {
  let node: RealNode | undefined;
  let operator: RunningOperator | undefined;
  let stopProvisioner = (): void => undefined;
  const lines: string[] = [];
  const times: Record<string, number> = {};

  const core = (): CoreV1Api => node!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const objects = (): CustomObjectsApi => node!.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
  const read = async (name: string): Promise<Cluster> =>
    (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name })) as Cluster;
  const secret = async (name: string): Promise<string> => Buffer.from((await core().readNamespacedSecret({ name, namespace: ns })).data!.password!, "base64").toString("utf8");
  const podIp = async (name: string): Promise<string> => (await core().readNamespacedPod({ name, namespace: ns })).status!.podIP!;
  /** Runs `sql` as the superuser on `host`, retrying while the server is not there yet (a restarting container). */
  const queryEventually = <T extends object>(host: () => Promise<string>, sql: string): Promise<T[]> =>
    eventually("a query on the primary", async () => query<T>(await host(), sql), WAIT_MS);
  const query = async <T extends object>(host: string, sql: string): Promise<T[]> => {
    const c = pgClient(await clusterClientConfig(core(), ns, "ledger", { host, password: await secret("ledger-superuser") }));
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  };
  /**
   * A pod's container log, every start of its current pod, read from the kubelet's log directory
   * (the API server's log proxy to this kubelet answers 401: it has no kubelet client credentials).
   */
  const containerLog = (name: string): string => {
    const root = join(node!.dir, "pod-logs");
    const dirs = readdirSync(root).filter((d) => d.startsWith(`${ns}_${name}_`));
    return dirs
      .flatMap((d) => readdirSync(join(root, d, "postgres")).sort().map((f) => readFileSync(join(root, d, "postgres", f), "utf8")))
      .join("");
  };
  /** The pods' container logs and the operator's last lines, for a failing wait. */
  const diagnostics = async (): Promise<string> => {
    const out: string[] = [];
    for (const p of (await core().listNamespacedPod({ namespace: ns })).items) {
      const log = containerLog(p.metadata!.name!).split("\n").slice(-15).join("\n");
      out.push(`--- ${p.metadata!.name} ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.[0]?.state)}\n${log}`);
    }
    return `${out.join("\n")}\n--- operator\n${lines.slice(-25).join("\n")}`;
  };
  const settled = (generation: number): Promise<Cluster> =>
    eventually(`ledger Ready and settled at generation ${generation}`, async () => {
      const c = await read("ledger");
      const ready = c.status?.conditions?.find((x) => x.type === "Ready");
      const progressing = c.status?.conditions?.find((x) => x.type === "Progressing");
      return c.status?.observedGeneration === generation && ready?.status === "True" && progressing?.status === "False" ? c : undefined;
    }, WAIT_MS).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });

  const runOperator = (): Promise<RunningOperator> =>
    startOperator({ kubeconfig: node!.controlPlane.kubeConfig, namespace: ns, metricsPort: 0, metricsHost: "127.0.0.1", logger: recorder(lines), metrics: new MetricsRegistry() });

  beforeAll(async () => {
    node = await startRealNode({ toolchain: toolchain.env! });
    const work = join(node.dir, "instance-image");
    mkdirSync(work, { recursive: true });
    let t = Date.now();
    const recipe = instanceImageRecipe(major);
    recipeRootfs(recipe, join(work, "rootfs"));
    times.imageRootfsS = (Date.now() - t) / 1000;
    t = Date.now();
    node.importRootfs(join(work, "rootfs"), `setpoint-postgres:${major}`, recipeConfig(recipe));
    times.imageImportS = (Date.now() - t) / 1000;
    must("rm", ["-rf", join(work, "rootfs")]);
    await installCrds(node.controlPlane.kubeConfig, crdManifests());
    stopProvisioner = startVolumeProvisioner(node, ns, (m) => lines.push(m));
    operator = await runOperator();
  }, 1_800_000); // may wait for another real node of this run to finish

  afterAll(async () => {
    console.log(`real-pod cluster times: ${JSON.stringify(times)}`);
    stopProvisioner();
    await operator?.stop();
    await node?.stop();
  }, 600_000);

  it("runs a 3-instance synchronous cluster: every pod Ready, two replicas cloned by the instance manager and streaming, its restart parameter from the first start", async () => {
    const t = Date.now();
    // max_connections needs a restart: the first start already runs it (ADR 0043).
    await createCustomObject(objects(), ns, "PostgresCluster", "ledger", { postgresVersion: major, instances: 3, synchronous: { number: 1 }, storage: { size: "1Gi" }, parameters: { max_connections: "110" } });
    const c = await settled(1);
    times.clusterReadyS = (Date.now() - t) / 1000;
    expect(c.status?.currentPrimary).toBe("ledger-1");
    expect(c.status?.instances?.map((i) => [i.name, i.role, i.ready])).toEqual([
      ["ledger-1", "primary", true],
      ["ledger-2", "replica", true],
      ["ledger-3", "replica", true],
    ]);
    const streaming = await query<{ application_name: string; state: string; sync_state: string }>(await podIp("ledger-1"), "select application_name, state, sync_state from pg_stat_replication order by 1");
    expect(streaming.map((r) => [r.application_name, r.state])).toEqual([
      ["ledger_2", "streaming"],
      ["ledger_3", "streaming"],
    ]);
    // synchronous_standby_names = ANY 1 (ledger_2, ledger_3): both are quorum candidates.
    expect(streaming.map((r) => r.sync_state)).toEqual(["quorum", "quorum"]);
    // What the manager chose at initdb, as the server reports it.
    const [settings] = await query<{ cks: string; enc: string }>(await podIp("ledger-2"), "select current_setting('data_checksums') as cks, pg_encoding_to_char(encoding) as enc from pg_database where datname = 'postgres'");
    expect(settings).toEqual({ cks: "on", enc: "UTF8" });
    // The parameter on every instance from its first start: no restart pending, no switchover (still timeline 1).
    for (const n of ["ledger-1", "ledger-2", "ledger-3"]) {
      const [r] = await query<{ mc: string; pending: string; tli: number }>(
        await podIp(n),
        "select current_setting('max_connections') as mc, (select count(*) from pg_settings where pending_restart)::text as pending, (select timeline_id from pg_control_checkpoint()) as tli",
      );
      expect(r, n).toEqual({ mc: "110", pending: "0", tli: 1 });
    }
    expect(containerLog("ledger-1")).toMatch(/"event":"parameters","written":\[[^\]]*"max_connections"/);
    // The clone's and the start's lines, from the replica's container log.
    const log = containerLog("ledger-2");
    const cloned = /"event":"cloned".*"ms":(\d+)/.exec(log);
    expect(cloned).not.toBeNull();
    times.cloneMs = Number(cloned![1]);
  }, 900_000);

  /**
   * Watches the pods and the rw Service's EndpointSlice every 100 ms from `t0` on and records,
   * relative to it, when each pod was first seen unready, restarted, terminating, in a terminal
   * phase, gone, Ready again, or labelled with another role, which addresses the rw Service sends
   * to, and the operator's failover decisions (its log): where a failover's seconds go.
   * Returns a function that stops it and formats the timeline.
   */
  function timeline(t0: number): () => Promise<string> {
    const seen: [number, string][] = [];
    const last = new Map<string, string>();
    const linesBefore = lines.length;
    let stop = false;
    const rel = (ms: number): string => `+${((ms - t0) / 1000).toFixed(2)} s`;
    const discovery = node!.controlPlane.kubeConfig.makeApiClient(DiscoveryV1Api);
    const loop = (async () => {
      while (!stop) {
        const now = Date.now();
        const items = (await core().listNamespacedPod({ namespace: ns }).catch(() => undefined))?.items;
        if (items) {
          const names = new Set<string>();
          for (const p of items) {
            const name = p.metadata!.name!;
            names.add(name);
            const ready = p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
            const c = p.status?.containerStatuses?.[0];
            const container = c?.state?.running ? `running#${c.restartCount ?? 0}` : c?.state?.terminated ? "exited" : c?.state?.waiting ? `waiting#${c.restartCount ?? 0}` : "-";
            const state = `${p.metadata?.labels?.["setpoint.dev/role"] ?? "?"} ${ready ? "ready" : "unready"} ${p.status?.phase ?? "?"} ${container}${p.metadata?.deletionTimestamp ? " terminating" : ""} uid ${p.metadata!.uid!.slice(0, 8)}`;
            if (last.get(name) !== state) seen.push([now, `${name}: ${state}`]);
            last.set(name, state);
          }
          for (const name of [...last.keys()].filter((n) => !names.has(n) && !n.startsWith("rw "))) {
            seen.push([now, `${name}: gone`]);
            last.delete(name);
          }
        }
        const slices = (await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: "kubernetes.io/service-name=ledger-rw" }).catch(() => undefined))?.items;
        if (slices) {
          const ready = slices.flatMap((sl) => (sl.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name ?? e.addresses[0])).sort().join(",");
          if (last.get("rw ") !== ready) seen.push([now, `rw Service endpoints: [${ready}]`]);
          last.set("rw ", ready);
        }
        await sleep(100);
      }
    })();
    return async () => {
      stop = true;
      await loop;
      // The operator's decisions, when it first logged each.
      const logged = new Set<string>();
      for (const l of lines.slice(linesBefore)) {
        const m = /^(\S+) \w+ (failover[^{]*|step (failover|service ledger-rw|role label \S+): \w+|reconcile failed.*"error":"[^"]{0,160})/.exec(l);
        if (m && !logged.has(m[2]!.trim())) seen.push([Date.parse(m[1]!), `operator: ${m[2]!.trim()}`]);
        if (m) logged.add(m[2]!.trim());
      }
      return seen
        .sort((a, b) => a[0] - b[0])
        .map(([t, what]) => `${rel(t)} ${what}`)
        .join("; ");
    };
  }

  /** Starts a writer through the rw Service's ClusterIP, with a table to write into. */
  async function writer(firstId: number): Promise<Writer> {
    const svc = await core().readNamespacedService({ name: "ledger-rw", namespace: ns });
    await queryEventually(async () => podIp((await read("ledger")).status!.currentPrimary!), "create table if not exists acked (id int primary key, note text)");
    const w = startWriter(clusterSuperuser(core(), ns, "ledger", svc.spec!.clusterIP!), "acked", firstId);
    await eventually("writer running", async () => w.acked.length >= 20, WAIT_MS);
    return w;
  }

  /** Stops the writer after a second more of writing and asserts every acknowledged row is on the current primary. */
  async function noLoss(w: Writer): Promise<void> {
    await sleep(1000);
    await w.stop();
    const present = new Set((await queryEventually<{ id: number }>(async () => podIp((await read("ledger")).status!.currentPrimary!), "select id from acked")).map((r) => r.id));
    const lost = w.acked.filter((a) => !present.has(a.id));
    console.log(`${w.acked.length} rows acknowledged, lost ${lost.length} acknowledged rows`);
    expect(lost).toEqual([]);
  }

  it("kills the primary's container: writes resume through the rw Service, no acknowledged row lost", async () => {
    const w = await writer(1);
    const before = await read("ledger");
    const primary = before.status!.currentPrimary!;
    const oldIp = await podIp(primary);
    const pod = await core().readNamespacedPod({ name: primary, namespace: ns });
    const containerId = pod.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
    const failuresBefore = w.failures();
    const killTimeline = timeline(Date.now());
    must("ctr", ["--address", node!.containerdSocket, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", containerId]);
    // The kill has taken effect once a write fails; the outage lasts until the next acknowledged one.
    const killedAt = Date.now();
    const failedAt = await eventually("a failed write after the kill", async () => (w.failures() > failuresBefore ? Date.now() : undefined), WAIT_MS, 10);
    const ack = await eventually("a write acknowledged after the kill", async () => w.acked.find((a) => a.at > failedAt), WAIT_MS, 10);
    const seconds = (ack.at - Math.min(killedAt, failedAt)) / 1000;
    const byIp = (await core().listNamespacedPod({ namespace: ns })).items.find((p) => p.status?.podIP === ack.server)?.metadata?.name;
    const how = ack.server === oldIp ? `${primary} restarted in place` : `failover: acknowledged by ${byIp ?? ack.server}`;
    times.containerKillToAckS = seconds;
    console.log(`primary container killed: first write acknowledged ${seconds.toFixed(2)} s later (${how}); pods: ${await killTimeline()}`);
    await noLoss(w);
    expect(seconds).toBeLessThanOrEqual(30);
    const healed = await settled((await read("ledger")).metadata.generation!);
    expect(healed.status?.instances).toHaveLength(3);
  }, 900_000);

  it("deletes the primary's pod: a replica is promoted, writes resume through the rw Service, no acknowledged row lost", async () => {
    const w = await writer(1_000_000);
    const primary = (await read("ledger")).status!.currentPrimary!;
    const oldIp = await podIp(primary);
    const deletedAt = Date.now();
    const deleteTimeline = timeline(deletedAt);
    await core().deleteNamespacedPod({ name: primary, namespace: ns });
    const ack = await eventually("a write acknowledged by a new primary", async () => w.acked.find((a) => a.at > deletedAt && a.server !== oldIp), WAIT_MS).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });
    const seconds = (ack.at - deletedAt) / 1000;
    times.podDeleteFailoverS = seconds;
    console.log(`primary pod deleted: first write acknowledged by ${ack.server} ${seconds.toFixed(2)} s later; pods: ${await deleteTimeline()}`);
    await noLoss(w);
    expect(seconds).toBeLessThanOrEqual(30);
    const healed = await settled((await read("ledger")).metadata.generation!);
    expect(healed.status?.currentPrimary).not.toBe(primary);
    expect(healed.status?.instances).toHaveLength(3);
    const streaming = await query<{ n: string }>(await podIp(healed.status!.currentPrimary!), "select count(*) as n from pg_stat_replication where state = 'streaming'");
    expect(Number(streaming[0]!.n)).toBe(2);
  }, 900_000);

  it("fences a primary that is alive but unready (its postmaster hung, its sessions still committing) before promoting: a client holding a connection to it gets nothing acknowledged that the new primary lacks", async () => {
    const w = await writer(3_000_000);
    const primary = (await read("ledger")).status!.currentPrimary!;
    const oldIp = await podIp(primary);
    // A client that holds its own session on the old primary's address (not through the Service).
    const held = startWriter(clusterSuperuser(core(), ns, "ledger", oldIp), "acked", 4_000_000);
    await eventually("the held writer running", async () => held.acked.length >= 20, WAIT_MS);
    const pod = await core().readNamespacedPod({ name: primary, namespace: ns });
    const containerId = pod.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
    const task = must("ctr", ["--address", node!.containerdSocket, "-n", "k8s.io", "tasks", "ls"])
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f[0] === containerId);
    const managerPid = Number(task?.[1]);
    expect(managerPid).toBeGreaterThan(1);
    const postmasterPid = Number(must("ps", ["--ppid", String(managerPid), "-o", "pid="]).trim().split(/\s+/)[0]);
    expect(postmasterPid).toBeGreaterThan(1);
    // The postmaster stops: no new connection (the probes, the operator's), while the sessions it
    // forked, the WAL senders and so synchronous commits go on: alive but unready and unreachable.
    process.kill(postmasterPid, "SIGSTOP");
    const stoppedAt = Date.now();
    const hungTimeline = timeline(stoppedAt);
    let goneAt: number | undefined;
    const watchGone = (async () => {
      while (goneAt === undefined && Date.now() - stoppedAt < WAIT_MS) {
        try {
          process.kill(postmasterPid, 0);
          await sleep(20);
        } catch {
          goneAt = Date.now();
        }
      }
    })();
    const ack = await eventually("a write acknowledged by a new primary", async () => w.acked.find((a) => a.at > stoppedAt && a.server !== oldIp), WAIT_MS).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });
    await watchGone;
    const seconds = (ack.at - stoppedAt) / 1000;
    times.unreadyPrimaryFailoverS = seconds;
    const lastOld = held.acked.filter((a) => a.server === oldIp).at(-1);
    console.log(
      `primary alive but unready: first write acknowledged by ${ack.server} ${seconds.toFixed(2)} s later; old primary's postmaster gone +${((goneAt! - stoppedAt) / 1000).toFixed(2)} s; its last acknowledgement to the held client +${(((lastOld?.at ?? stoppedAt) - stoppedAt) / 1000).toFixed(2)} s; pods: ${await hungTimeline()}`,
    );
    // The kubelet's confirmation came first: the old primary was gone before the new one acknowledged anything.
    expect(goneAt).toBeLessThanOrEqual(ack.at);
    await held.stop();
    const present = new Set((await queryEventually<{ id: number }>(async () => podIp((await read("ledger")).status!.currentPrimary!), "select id from acked")).map((r) => r.id));
    const lostHeld = held.acked.filter((a) => !present.has(a.id));
    console.log(`held client: ${held.acked.length} rows acknowledged, lost ${lostHeld.length}`);
    expect(lostHeld).toEqual([]);
    await noLoss(w);
    const healed = await settled((await read("ledger")).metadata.generation!);
    expect(healed.status?.currentPrimary).not.toBe(primary);
    expect(healed.status?.instances).toHaveLength(3);
  }, 900_000);

  it("finishes a failover with a new operator when the one that began it stops mid-way (after the fence, before the promotion): no acknowledged row lost", async () => {
    const w = await writer(5_000_000);
    const primary = (await read("ledger")).status!.currentPrimary!;
    const oldIp = await podIp(primary);
    const mark = lines.length;
    const deletedAt = Date.now();
    const restartTimeline = timeline(deletedAt);
    await core().deleteNamespacedPod({ name: primary, namespace: ns });
    // The operator decides and fences; it stops while the fence waits for the kubelet.
    await eventually("the operator's failover decision", async () => lines.slice(mark).some((l) => l.includes("failover: PrimaryPodGone")), WAIT_MS, 10);
    const stopping = Date.now();
    await operator!.stop();
    operator = undefined;
    const promotedEarly = (await core().listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/role=primary" })).items.some((p) => p.metadata?.name !== primary);
    console.log(`operator stopped mid-failover +${((stopping - deletedAt) / 1000).toFixed(2)} s after the deletion (a replica already labelled primary: ${String(promotedEarly)})`);
    operator = await runOperator();
    const ack = await eventually("a write acknowledged by a new primary", async () => w.acked.find((a) => a.at > deletedAt && a.server !== oldIp), WAIT_MS).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });
    const seconds = (ack.at - deletedAt) / 1000;
    times.operatorRestartFailoverS = seconds;
    console.log(`failover finished by a new operator: first write acknowledged by ${ack.server} ${seconds.toFixed(2)} s after the deletion; pods: ${await restartTimeline()}`);
    await noLoss(w);
    const healed = await settled((await read("ledger")).metadata.generation!);
    expect(healed.status?.currentPrimary).not.toBe(primary);
    expect(healed.status?.instances).toHaveLength(3);
    expect(healed.status?.instances?.filter((i) => i.role === "primary")).toHaveLength(1);
  }, 900_000);

  const patch = (body: object): Promise<unknown> =>
    objects().patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "ledger", body },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );

  it("rolls out a parameter that needs a restart: replicas first, then a switchover, no acknowledged row lost", async () => {
    const w = await writer(2_000_000);
    const before = await read("ledger");
    const oldPrimary = before.status!.currentPrimary!;
    const t = Date.now();
    await patch({ spec: { parameters: { max_connections: "120" } } });
    const after = await settled(before.metadata.generation! + 1);
    times.restartRolloutS = (Date.now() - t) / 1000;
    expect(after.status?.currentPrimary).not.toBe(oldPrimary);
    // The longest gap between two acknowledged writes: the pause the switchover caused.
    let gap = 0;
    for (let i = 1; i < w.acked.length; i++) if (w.acked[i]!.at >= t) gap = Math.max(gap, w.acked[i]!.at - w.acked[i - 1]!.at);
    times.switchoverPauseS = gap / 1000;
    console.log(`max_connections rolled out in ${times.restartRolloutS.toFixed(1)} s, switchover ${oldPrimary} -> ${after.status?.currentPrimary}: writes paused ${(gap / 1000).toFixed(2)} s`);
    await noLoss(w);
    for (const i of after.status!.instances!) {
      expect((await query<{ v: string }>(await podIp(i.name), "select current_setting('max_connections') as v"))[0]!.v).toBe("120");
    }
  }, 900_000);

  it("scales 3 -> 2 -> 3: the highest replica goes, a new one is cloned and streams", async () => {
    const c = await read("ledger");
    const primary = c.status!.currentPrimary!;
    await patch({ spec: { instances: 2 } });
    const two = await settled(c.metadata.generation! + 1);
    expect(two.status?.instances).toHaveLength(2);
    expect(two.status?.currentPrimary).toBe(primary);
    const t = Date.now();
    await patch({ spec: { instances: 3 } });
    const three = await settled(c.metadata.generation! + 2);
    times.scaleUpReadyS = (Date.now() - t) / 1000;
    expect(three.status?.instances).toHaveLength(3);
    const streaming = await query<{ n: string }>(await podIp(primary), "select count(*) as n from pg_stat_replication where state = 'streaming'");
    expect(Number(streaming[0]!.n)).toBe(2);
  }, 900_000);

  it("leaves nothing behind after stop (pods, volumes, the node)", async () => {
    stopProvisioner();
    await operator?.stop();
    operator = undefined;
    await node!.stop();
    expect(node!.leftovers()).toEqual([]);
  }, 600_000);
});
