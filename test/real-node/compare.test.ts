// The node harness against the real thing (issue 14): the harness that plays the kubelet may stay
// for fast tests only while a test shows it reports what real pods report. One small scenario runs
// on each platform of `npm run demo:cluster` (examples/support/cluster-platform.ts): the node
// harness with the operator as a local process, and a real node (kubelet + containerd) with the
// operator in its pod deployed by `pulumi up` and Setpoint's instance image. The scenario: a
// 3-instance synchronous cluster Ready; a writer through the rw Service; the primary's pod
// deleted; a replica promoted, writes acknowledged again, the cluster healed. Compared: the
// status the operator reports (conditions, instances and roles, the primary changed), the reasons
// of the Events it recorded, and no acknowledged row lost on either; the timings are printed side
// by side (not asserted: a loaded machine). The test fails when the reported outcomes differ.
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { describe, expect, it } from "vitest";
import { realPodsUnavailable, startHarness, startRealPods, type ClusterPlatform } from "../../examples/support/cluster-platform";
import { watchCluster } from "../../examples/support/cluster-watch";
import { ensureBuilt } from "../../examples/support/demo";
import { GROUP, KINDS, VERSION, type PostgresClusterStatus } from "../../sdk/api/index";
import { recorder } from "../support/cluster";
import { toolchainOrSkip } from "../support/control-plane";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { startWriter } from "../support/writer";

const harnessTools = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager"]);
const unavailable = harnessTools.skip ?? realPodsUnavailable();
const NS = "default";
const NAME = "cmp";
const WAIT_MS = 300_000;

/** What the operator reported, normalised to what both platforms must agree on. */
interface Reported {
  readonly ready: Array<[type: string, status: string, reason: string | undefined]>;
  readonly instances: Array<[name: string, role: string, ready: boolean]>;
  readonly healed: Array<[type: string, status: string, reason: string | undefined]>;
  readonly healedRoles: Record<string, number>;
  readonly healedNames: string[];
  readonly primaryChanged: boolean;
  readonly eventReasons: string[];
  readonly lost: number;
}

/** Timings of one platform, in seconds. */
interface Timings {
  clusterReadyS: number;
  deleteToAckS: number;
  deleteToStatusS: number;
  deleteToHealedS: number;
}

const conditions = (s: PostgresClusterStatus | undefined): Reported["ready"] =>
  (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason] as [string, string, string | undefined]).sort((a, b) => a[0].localeCompare(b[0]));

const tail = (text: string, lines: number): string => text.trimEnd().split("\n").slice(-lines).join("\n");

/**
 * What the cluster looked like when a step failed: its conditions (with messages), instances, the
 * Events of the namespace, each pod's containers (waiting, restarts, last termination), the
 * claims (a pod waits for its volume), and the tails of
 * the operator's log and of each instance pod's log where the platform keeps them — a failing
 * run must say why, not only which wait ran out.
 */
async function diagnostics(p: ClusterPlatform, operatorLog: () => string): Promise<string> {
  const core = p.kubeConfig.makeApiClient(CoreV1Api);
  const objects = p.kubeConfig.makeApiClient(CustomObjectsApi);
  const parts: string[] = [];
  const attempt = async (title: string, f: () => Promise<string> | string): Promise<void> => {
    try {
      parts.push(`--- ${title}\n${await f()}`);
    } catch (err) {
      parts.push(`--- ${title}: not read (${err instanceof Error ? err.message : String(err)})`);
    }
  };
  await attempt("status", async () => {
    const s = ((await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: KINDS.PostgresCluster.plural, name: NAME })) as { status?: PostgresClusterStatus }).status;
    return JSON.stringify(s ?? null, null, 1);
  });
  await attempt("Events", async () =>
    (await core.listNamespacedEvent({ namespace: NS })).items
      .map((e) => `${String(e.lastTimestamp ?? e.eventTime ?? "")} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.type} ${e.reason} x${e.count ?? 1}: ${e.message ?? ""}`)
      .slice(-60)
      .join("\n"),
  );
  const pods = (await core.listNamespacedPod({ namespace: NS }).catch(() => undefined))?.items ?? [];
  await attempt("pods", () =>
    pods
      .map((pod) => {
        const cs = (pod.status?.containerStatuses ?? []).map((c) => {
          const last = c.lastState?.terminated;
          const waiting = c.state?.waiting;
          return `${c.name} ready=${c.ready} restarts=${c.restartCount}${waiting ? ` waiting: ${waiting.reason} ${waiting.message ?? ""}` : ""}${last ? ` last: ${last.reason} exit ${last.exitCode} at ${String(last.finishedAt)}` : ""}`;
        });
        return `${pod.metadata?.name} ${pod.status?.phase} ${pod.status?.podIP ?? "-"} ${cs.join("; ")}`;
      })
      .join("\n"),
  );
  await attempt("claims", async () =>
    (await core.listNamespacedPersistentVolumeClaim({ namespace: NS })).items.map((c) => `${c.metadata?.name} ${c.status?.phase} ${c.spec?.volumeName ?? "(no volume)"}`).join("\n"),
  );
  await attempt("operator log (tail)", () => tail(operatorLog(), 120));
  if (p.nodeLog) await attempt("kubelet log (tail)", () => tail(p.nodeLog!("kubelet"), 40));
  if (p.podLog) for (const pod of pods) await attempt(`pod ${pod.metadata?.name} log (tail)`, () => tail(p.podLog!(NS, pod.metadata!.name!), 40));
  return parts.join("\n");
}

/**
 * Runs the scenario on `p`; everything it created goes with `p.stop()`. `operatorLog`: the
 * operator's log lines (JSON or text), for the printed failover timeline. A failing step's error
 * carries {@link diagnostics}.
 */
async function scenario(p: ClusterPlatform, operatorLog: () => string): Promise<{ reported: Reported; timings: Timings }> {
  try {
    return await steps(p, operatorLog);
  } catch (err) {
    const why = await diagnostics(p, operatorLog);
    throw new Error(`${p.kind}: ${err instanceof Error ? err.message : String(err)}\n${why}`, { cause: err });
  }
}

/** The scenario's steps (see the module comment). */
async function steps(p: ClusterPlatform, operatorLog: () => string): Promise<{ reported: Reported; timings: Timings }> {
  const core = p.kubeConfig.makeApiClient(CoreV1Api);
  const objects = p.kubeConfig.makeApiClient(CustomObjectsApi);
  const status = async (): Promise<PostgresClusterStatus | undefined> =>
    ((await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: KINDS.PostgresCluster.plural, name: NAME })) as { status?: PostgresClusterStatus }).status;
  const settled = (): Promise<PostgresClusterStatus> =>
    eventually(`${NAME} Ready, settled, 3 instances ready`, async () => {
      const s = await status();
      const ready = s?.conditions?.find((c) => c.type === "Ready")?.status === "True";
      const progressing = s?.conditions?.find((c) => c.type === "Progressing")?.status === "True";
      return ready && !progressing && s?.instances?.length === 3 && s.instances.every((i) => i.ready) ? s : undefined;
    }, WAIT_MS);
  const podIp = async (name: string): Promise<string> => (await core.readNamespacedPod({ name, namespace: NS })).status!.podIP!;
  const superuser = async (host: string): Promise<Client> => {
    const c = pgClient(await p.clientConfig({ host }));
    await c.connect();
    return c;
  };

  const watch = watchCluster({ kubeConfig: p.kubeConfig, namespace: NS, name: NAME, print: () => undefined });
  let t = Date.now();
  await createCustomObject(objects, NS, "PostgresCluster", NAME, { postgresVersion: 17, instances: 3, synchronous: { number: 1 }, storage: { size: "1Gi" } });
  const first = await settled();
  const clusterReadyS = (Date.now() - t) / 1000;
  console.log(`${p.kind}: the cluster Ready, settled, in ${clusterReadyS.toFixed(1)} s`);
  const oldPrimary = first.currentPrimary!;
  const oldIp = await podIp(oldPrimary);
  const setup = await superuser(oldIp);
  await setup.query("create table acked (id int primary key, note text)");
  await setup.end();

  const w = startWriter(() => p.clientConfig(), "acked");
  try {
    await eventually("the writer's first 20 rows", () => w.acked.length >= 20, WAIT_MS, 20);
    t = Date.now();
    await core.deleteNamespacedPod({ name: oldPrimary, namespace: NS });
    const ack = await eventually("a write acknowledged by a new primary", () => w.acked.find((a) => a.at > t && a.server !== oldIp), WAIT_MS, 10);
    const deleteToAckS = (ack.at - t) / 1000;
    await eventually("a new primary in status", async () => ((await status())?.currentPrimary ?? oldPrimary) !== oldPrimary, WAIT_MS, 50);
    const deleteToStatusS = (Date.now() - t) / 1000;
    const healed = await settled();
    const deleteToHealedS = (Date.now() - t) / 1000;
    console.log(`${p.kind}: a new primary acknowledged a write ${deleteToAckS.toFixed(1)} s after the delete, in status at ${deleteToStatusS.toFixed(1)} s, healed at ${deleteToHealedS.toFixed(1)} s`);
    // Where the seconds went: what the watch saw and the operator's failover lines, after the delete.
    const deletedAt = t;
    const steps = [
      { at: ack.at, text: `the first write acknowledged by ${ack.server}` },
      ...watch.changes.filter((c) => c.at >= deletedAt).map((c) => ({ at: c.at, text: `${c.kind}: ${c.text}` })),
      ...operatorLog()
        .split("\n")
        .filter((l) => /failover|fenc|promot|selector/i.test(l))
        .map((l) => ({ at: Date.parse(/(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(l)?.[1] ?? ""), text: `operator: ${l.slice(0, 300)}` }))
        .filter((e) => e.at >= deletedAt - 1000),
    ].sort((a, b) => a.at - b.at);
    console.log(`${p.kind}: after the primary's pod was deleted (s):\n${steps.map((e) => `  +${((e.at - deletedAt) / 1000).toFixed(2).padStart(6)}  ${e.text}`).join("\n")}`);
    await sleep(500);
    await w.stop();
    const check = await superuser(await podIp(healed.currentPrimary!));
    const present = new Set((await check.query<{ id: number }>("select id from acked")).rows.map((r) => r.id));
    await check.end();
    const events = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${NAME}` });
    const roles: Record<string, number> = {};
    for (const i of healed.instances ?? []) roles[i.role] = (roles[i.role] ?? 0) + 1;
    return {
      reported: {
        ready: conditions(first),
        instances: (first.instances ?? []).map((i) => [i.name, i.role, i.ready]),
        healed: conditions(healed),
        healedRoles: roles,
        healedNames: (healed.instances ?? []).map((i) => i.name).sort(),
        primaryChanged: healed.currentPrimary !== oldPrimary,
        eventReasons: [...new Set(events.items.map((e) => e.reason ?? ""))].sort(),
        lost: w.acked.filter((a) => !present.has(a.id)).length,
      },
      timings: { clusterReadyS, deleteToAckS, deleteToStatusS, deleteToHealedS },
    };
  } finally {
    await w.stop();
    await watch.stop();
  }
}

describe.skipIf(unavailable !== undefined)("the node harness and real pods report the same", () => {
  const results: Partial<Record<ClusterPlatform["kind"], { reported: Reported; timings: Timings }>> = {};

  it("runs the scenario on the node harness", async () => {
    ensureBuilt();
    const lines: string[] = [];
    const p = await startHarness(NS, NAME, recorder(lines));
    try {
      results.harness = await scenario(p, () => lines.join("\n"));
    } finally {
      await p.stop();
    }
    expect(results.harness.reported.lost).toBe(0);
  }, 900_000);

  it("runs the scenario on real pods (the operator in its pod)", async () => {
    const p = await startRealPods(NS, NAME, 17);
    let left: string[] = [];
    try {
      results["real-pods"] = await scenario(p, () => p.operatorLog?.() ?? "");
    } finally {
      left = await p.stop();
    }
    expect(left).toEqual([]);
    expect(results["real-pods"].reported.lost).toBe(0);
  }, 1_800_000); // may wait for another real node of this run to finish

  it("compares what the operator reported on both, and prints the timings", () => {
    const h = results.harness;
    const r = results["real-pods"];
    expect(h, "the harness run failed").toBeDefined();
    expect(r, "the real-pod run failed").toBeDefined();
    const rows = (Object.keys(h!.timings) as Array<keyof Timings>).map((k) => `${k.padEnd(18)} harness ${h!.timings[k].toFixed(2).padStart(7)}  real pods ${r!.timings[k].toFixed(2).padStart(7)}  (${(r!.timings[k] - h!.timings[k] >= 0 ? "+" : "") + (r!.timings[k] - h!.timings[k]).toFixed(2)})`);
    console.log(`harness vs real pods (s):\n${rows.join("\n")}`);
    console.log(`compare timings: ${JSON.stringify({ harness: h!.timings, realPods: r!.timings })}`);
    const differing = (Object.keys(h!.reported) as Array<keyof Reported>).filter((k) => JSON.stringify(h!.reported[k]) !== JSON.stringify(r!.reported[k]));
    for (const k of differing) console.log(`differs: ${k}: harness ${JSON.stringify(h!.reported[k])} / real pods ${JSON.stringify(r!.reported[k])}`);
    expect(r!.reported).toEqual(h!.reported);
    expect(h!.reported.primaryChanged).toBe(true);
    expect(h!.reported.lost).toBe(0);
  });
});
