// The managed PgBouncer of a PostgresCluster (spec.pooler, ADR 0022) against a real API server,
// the node harness running real PostgreSQL 17 (or the highest packaged major) and the pooler
// node running Debian's real pgbouncer for the operator's PgBouncer pods:
// - the operator's objects: pgbouncer.ini in a ConfigMap (the primary's address, no secret),
//   SCRAM verifiers only in the auth Secret, a least-privilege pod, <cluster>-pooler-rw; the
//   application role logs in through it (SCRAM, then SCRAM pass-through to the server), the
//   superuser cannot; status names the primary the pooler points at;
// - a planned switchover under four writers through <cluster>-pooler-rw: PAUSE before the old
//   primary shuts down, RESUME once the pooler points at the new one — 0 failed client
//   transactions, 0 lost rows; the longest write pause is printed;
// - an unplanned failover: the pooler follows the new primary;
// - a changed pool setting: the running PgBouncers load it (SHOW CONFIG shows it), same processes,
//   and no RELOAD once it is loaded;
// - spec.pooler removed: its objects go.
import { setTimeout as sleep } from "node:timers/promises";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { X509Certificate } from "node:crypto";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, onTestFailed } from "vitest";
import { POOLER_PAUSED_ANNOTATION } from "../../sdk/operator/cluster/pooler";
import { probePooler } from "../../sdk/operator/cluster/pooler-sql";
import { verifiedPoolerName } from "../../sdk/operator/cluster/tls";
import { clusterToolchain, useCluster } from "../support/cluster";
import { clusterClientConfig, poolerSsl } from "../support/cluster-tls";
import { eventually } from "../support/eventually";
import { startPoolerNode, type PoolerNode } from "../support/node/pooler-node";
import { startServiceProxy, type ServiceProxy } from "../support/service-proxy";
import { startWriter, type Writer } from "../support/writer";

/** How long a wait in this file may take: pods start real PostgreSQL servers on a 2-core machine. */
const WAIT_MS = 180_000;
const ns = "pooler";
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe.skipIf(clusterToolchain.skip !== undefined || inject("pgbouncerMissing") !== null)("PostgresCluster pooler", () => {
  const env = useCluster({ namespace: ns, waitMs: WAIT_MS });
  const { lines, read, settled, secretValue, pod, create } = env;
  let poolerNode: PoolerNode | undefined;
  let proxy: ServiceProxy | undefined;
  beforeAll(async () => {
    poolerNode = await startPoolerNode({ kubeConfig: env.kubeConfig, avoidBlock: env.node.block });
    proxy = await startServiceProxy({ kubeConfig: env.kubeConfig, namespace: ns, service: "pg-pooler-rw" });
  }, 60_000);
  beforeEach(() => {
    onTestFailed(async () => {
      console.error(`status: ${JSON.stringify((await read("pg").catch(() => undefined))?.status)}`);
      for (const p of ["pg-pooler-1", "pg-pooler-2"]) console.error(`${p} log:\n${poolerNode?.logTail(ns, p) ?? ""}`);
      console.error(`operator errors:\n${lines.filter((l) => / error /.test(l)).slice(-10).join("\n")}`);
      console.error(`switchover steps:\n${lines.filter((l) => /step (switchover|pooler)|switchover:/.test(l)).slice(-20).map((l) => l.slice(11, 23) + l.replace(/^\S+ info /, " ").slice(0, 240)).join("\n")}`);
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await poolerNode?.stop();
  }, 60_000);

  /** A client of the application database through pg-pooler-rw as `user`. */
  const through = async (user: string, password: string) => {
    const client = pgClient({ host: proxy!.host, port: proxy!.port, user, password, database: "app", connectionTimeoutMillis: 5000, ssl: await poolerSsl(env.core, ns, "pg") });
    await client.connect();
    return client;
  };
  /** Rows of `sql` in the application database of the instance at `ip`, as the superuser. */
  const onInstance = async <T extends object>(ip: string, sql: string): Promise<T[]> => {
    const client = pgClient(await clusterClientConfig(env.core, ns, "pg", { host: ip, password: await secretValue("pg-superuser", "password"), database: "app" }));
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  };
  /** The lines of PgBouncer's `log` that match `what` and were logged at or after `from`. */
  const linesSince = (log: string, from: Date, what: RegExp): string[] =>
    log.split("\n").filter((l) => what.test(l) && (/(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC/.exec(l)?.[1] ?? "") >= from.toISOString().slice(0, 23).replace("T", " "));
  const poolerOn = (primary: string) => (c: Awaited<ReturnType<typeof read>>) =>
    c.status?.currentPrimary === primary && c.status.pooler?.primary === primary && c.status.pooler.readyInstances === c.status.pooler.instances && c.status.pooler.paused === false;

  it("creates the pooler's objects, serves the application role through pg-pooler-rw and refuses the superuser", async () => {
    await create("pg", { instances: 2, synchronous: { number: 1 }, pooler: { instances: 2, parameters: { query_wait_timeout: "30" } } });
    const c = await settled("pg", 1, (x) => x.status?.pooler?.readyInstances === 2 && x.status.pooler.primary === x.status.currentPrimary);
    expect(c.status?.pooler).toEqual({ service: "pg-pooler-rw", instances: 2, readyInstances: 2, primary: "pg-1", paused: false });

    const superPassword = await secretValue("pg-superuser", "password");
    const appPassword = await secretValue("pg-app", "password");
    const ini = (await env.core.readNamespacedConfigMap({ name: "pg-pooler", namespace: ns })).data!["pgbouncer.ini"]!;
    expect(ini).toContain(`app = host=${await env.podIp("pg-1")} port=5432 dbname=app`);
    expect(ini).toContain("query_wait_timeout = 30");
    for (const secret of [superPassword, appPassword]) expect(ini).not.toContain(secret);
    const userlist = await secretValue("pg-pooler-auth", "userlist.txt");
    expect(userlist).toMatch(/^"app" "SCRAM-SHA-256\$4096:/m);
    expect(userlist).not.toMatch(/^"postgres"/m); // superusers cannot log in through the pooler
    for (const secret of [superPassword, appPassword, await secretValue("pg-pooler-admin", "password")]) expect(userlist).not.toContain(secret);
    const p = await pod("pg-pooler-1");
    expect(p.spec?.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(p.spec?.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect((await env.core.readNamespacedService({ name: "pg-pooler-rw", namespace: ns })).spec?.ports?.[0]?.port).toBe(5432);

    const app = await through("app", appPassword);
    try {
      const [row] = (await app.query<{ who: string; db: string }>("select current_user as who, current_database() as db")).rows;
      expect(row).toEqual({ who: "app", db: "app" });
      await app.query("create table acked (id int primary key, note text)");
    } finally {
      await app.end();
    }
    await expect(through("postgres", superPassword)).rejects.toThrow();
    // Clients get in over TLS only (ADR 0044): PgBouncer refuses a plaintext one, and the
    // certificate it shows is the pooler's own (its Service's name), not the instances'.
    const plain = pgClient({ host: proxy!.host, port: proxy!.port, user: "app", password: appPassword, database: "app", connectionTimeoutMillis: 5000 });
    await expect(plain.connect()).rejects.toThrow(/SSL required/);
    const asInstance = pgClient({ host: proxy!.host, port: proxy!.port, user: "app", password: appPassword, database: "app", connectionTimeoutMillis: 5000, ssl: { ...(await poolerSsl(env.core, ns, "pg")), servername: "pg-rw.pooler.svc" } });
    await expect(asInstance.connect()).rejects.toThrow(/pg-rw\.pooler\.svc|altnames/i);
  }, 600_000);

  it("serves a renewed pooler certificate without restarting PgBouncer (ADR 0044)", async () => {
    await settled("pg", 1, poolerOn("pg-1"));
    const appPassword = await secretValue("pg-app", "password");
    /** The serial of the certificate pg-pooler-rw shows a verifying client. */
    const serialShown = async (): Promise<string> => {
      const c = await through("app", appPassword);
      try {
        return (c as unknown as { connection: { stream: { getPeerCertificate(): { serialNumber: string } } } }).connection.stream.getPeerCertificate().serialNumber;
      } finally {
        await c.end();
      }
    };
    const pids = ["pg-pooler-1", "pg-pooler-2"].map((n) => poolerNode!.pid(ns, n));
    const before = await serialShown();
    const issued = async () => new X509Certificate(await secretValue("pg-pooler-tls", "tls.crt")).serialNumber;
    expect((await issued()).toLowerCase()).toBe(before.toLowerCase());
    // A lost Secret is re-issued at once (the path a renewal takes: a new certificate in the same Secret).
    await env.core.deleteNamespacedSecret({ name: "pg-pooler-tls", namespace: ns });
    const renewed = await eventually("a new pooler certificate issued", async () => {
      const serial = await issued().catch(() => undefined);
      return serial !== undefined && serial.toLowerCase() !== before.toLowerCase() ? serial : undefined;
    }, WAIT_MS);
    // Every new connection, whichever pod serves it, shows the new one: both PgBouncers reloaded it.
    await eventually("both PgBouncers serving the renewed certificate", async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add((await serialShown()).toLowerCase());
      return seen.size === 1 && seen.has(renewed.toLowerCase()) ? true : undefined;
    }, WAIT_MS);
    expect(["pg-pooler-1", "pg-pooler-2"].map((n) => poolerNode!.pid(ns, n))).toEqual(pids);
  }, 600_000);

  it("holds clients through a planned switchover: 4 writers through pg-pooler-rw, 0 failed transactions, 0 lost rows", async () => {
    const before = await settled("pg", 1, poolerOn("pg-1"));
    const from = before.status!.currentPrimary!;
    const to = before.status!.instances!.find((i) => i.role === "replica")!.name;
    const appPassword = await secretValue("pg-app", "password");
    const conn = { host: proxy!.host, port: proxy!.port, user: "app", password: appPassword, database: "app", ssl: await poolerSsl(env.core, ns, "pg") };
    const writers: Writer[] = Array.from({ length: 4 }, (_, k) => startWriter(conn, "acked", (k + 1) * 1_000_000, 10));
    try {
      await eventually("every writer running", async () => writers.every((w) => w.acked.length >= 30), WAIT_MS);
      const mark = lines.length;
      await env.patch("pg", { metadata: { annotations: { "setpoint.dev/switchover-to": to } } });
      await settled("pg", 1, poolerOn(to));
      const resumedAt = Date.now();
      await eventually("every writer writing after the switchover", async () => writers.every((w) => (w.acked.at(-1)?.at ?? 0) > resumedAt), WAIT_MS);
      await sleep(500);
      for (const w of writers) await w.stop();

      const failures = writers.reduce((n, w) => n + w.failures(), 0);
      const acks = writers.flatMap((w) => w.acked).sort((a, b) => a.at - b.at);
      let maxPauseMs = 0;
      let gapEnd = 0;
      for (let i = 1; i < acks.length; i++) if (acks[i]!.at - acks[i - 1]!.at > maxPauseMs) [maxPauseMs, gapEnd] = [acks[i]!.at - acks[i - 1]!.at, acks[i]!.at];
      const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 23);
      const perWriterMaxMs = writers.map((w) => w.acked.slice(1).reduce((m, a, i) => Math.max(m, a.at - w.acked[i]!.at), 0));
      const present = new Set((await onInstance<{ id: number }>(await env.podIp(to), "select id from acked")).map((r) => r.id));
      const lost = acks.filter((a) => !present.has(a.id)).length;
      console.log(
        `pooler switchover (${from} -> ${to}), 4 writers through pg-pooler-rw: ${failures} failed transactions, ${lost} lost rows, ${acks.length} rows acknowledged; ` +
          `longest gap between acknowledgements ${maxPauseMs} ms, ${clock(gapEnd - maxPauseMs)} -> ${clock(gapEnd)} (per writer: ${perWriterMaxMs.join(", ")} ms)`,
      );
      expect(failures).toBe(0);
      expect(lost).toBe(0);
      const log = lines.slice(mark);
      // Where the pause goes: the operator's switchover and pooler steps (checkpoint, PAUSE, promote, repoint, RESUME).
      console.log(log.filter((l) => /step (switchover|pooler)|switchover:/.test(l)).map((l) => l.slice(11, 23) + l.replace(/^\S+ info /, " ").replace(/\{"controller".*?"reconcileId":"[^"]*",?/, "{")).join("\n"));
      expect(log.some((l) => /step pooler resume pg-pooler-1: Updated/.test(l))).toBe(true);
      expect(log.some((l) => /step pooler resume pg-pooler-2: Updated/.test(l))).toBe(true);
      for (const name of ["pg-pooler-1", "pg-pooler-2"]) expect((await pod(name)).metadata?.annotations?.[POOLER_PAUSED_ANNOTATION]).toBeUndefined();

      // Once a pooler shows the new primary it has nothing left to load: reconciles after that (a pod
      // event each here) send no RELOAD. With server TLS every RELOAD recycles all server connections,
      // and PgBouncer 1.18 refuses clients for server_login_retry if one was still logging in.
      const quietFrom = new Date();
      for (const name of ["pg-pooler-1", "pg-pooler-2"]) {
        await env.core.patchNamespacedPod({ name, namespace: ns, body: { metadata: { annotations: { "test.setpoint.dev/poke": quietFrom.toISOString() } } } }, MERGE_PATCH);
      }
      // The reconcile that follows a poke looks at the pod through its admin console (a login there), and would RELOAD right after.
      await eventually("a reconcile looking at each pooler after the pokes", async () => ["pg-pooler-1", "pg-pooler-2"].every((name) => linesSince(poolerNode!.logTail(ns, name), quietFrom, /login attempt: db=pgbouncer/).length > 0), WAIT_MS);
      await sleep(1000);
      for (const name of ["pg-pooler-1", "pg-pooler-2"]) expect(linesSince(poolerNode!.logTail(ns, name), quietFrom, /RELOAD command issued/), name).toEqual([]);
    } finally {
      for (const w of writers) await w.stop();
    }
  }, 600_000);

  it("follows the primary after an unplanned failover", async () => {
    const before = await settled("pg", 1, (c) => c.status?.pooler?.primary === c.status?.currentPrimary && c.status?.pooler?.paused === false);
    const old = before.status!.currentPrimary!;
    await env.core.deleteNamespacedPod({ name: old, namespace: ns });
    const after = await eventually("failover followed by the pooler", async () => {
      const c = await read("pg");
      return c.status?.currentPrimary !== old && c.status?.pooler?.primary === c.status?.currentPrimary && c.status?.pooler?.readyInstances === 2 ? c : undefined;
    }, WAIT_MS);
    const app = await eventually("the pooler serves writes on the new primary", async () => {
      const client = await through("app", await secretValue("pg-app", "password")).catch(() => undefined);
      if (!client) return undefined;
      try {
        return (await client.query<{ r: boolean }>("insert into acked values (-1, 'after failover') returning pg_is_in_recovery() as r")).rows[0];
      } catch {
        return undefined;
      } finally {
        await client.end();
      }
    }, WAIT_MS);
    expect(app.r).toBe(false);
    expect(after.status?.pooler?.primary).toBe(after.status?.currentPrimary);
  }, 600_000);

  it("loads a changed pooler setting into the running PgBouncers, seen in SHOW CONFIG, and stops reloading once it is (no blind reload window)", async () => {
    const serving = (c: Awaited<ReturnType<typeof read>>): boolean => c.status?.pooler?.primary === c.status?.currentPrimary && c.status?.pooler?.readyInstances === 2 && c.status?.pooler?.paused === false;
    const c0 = await settled("pg", (await read("pg")).metadata!.generation!, serving);
    const pids = ["pg-pooler-1", "pg-pooler-2"].map((n) => poolerNode!.pid(ns, n));
    const adminPassword = await secretValue("pg-pooler-admin", "password");
    const tls = { ca: (await poolerSsl(env.core, ns, "pg")).ca, serverName: verifiedPoolerName("pg", ns) };
    const shown = async (name: string): Promise<string | undefined> =>
      (await probePooler({ host: (await pod(name)).status!.podIP!, password: adminPassword, timeoutMs: 5000, tls }).catch(() => undefined))?.config.query_wait_timeout;
    expect(await shown("pg-pooler-1")).toBe("30");
    const changed = new Date();
    await env.patch("pg", { spec: { pooler: { parameters: { query_wait_timeout: "45" } } } });
    await eventually("both PgBouncers running query_wait_timeout 45", async () => ((await shown("pg-pooler-1")) === "45" && (await shown("pg-pooler-2")) === "45" ? true : undefined), WAIT_MS);
    const loaded = new Date();
    await settled("pg", c0.metadata!.generation! + 1, serving);
    // Reconciles that look at each pooler (a pod event each): none may RELOAD what is loaded.
    const poked = new Date();
    for (const name of ["pg-pooler-1", "pg-pooler-2"]) {
      await env.core.patchNamespacedPod({ name, namespace: ns, body: { metadata: { annotations: { "test.setpoint.dev/poke": poked.toISOString() } } } }, MERGE_PATCH);
    }
    await eventually("a reconcile looking at each pooler after the pokes", async () => ["pg-pooler-1", "pg-pooler-2"].every((name) => linesSince(poolerNode!.logTail(ns, name), poked, /login attempt: db=pgbouncer/).length > 0), WAIT_MS);
    await sleep(1000);
    for (const [k, name] of ["pg-pooler-1", "pg-pooler-2"].entries()) {
      const log = poolerNode!.logTail(ns, name, 200_000);
      const before = linesSince(log, changed, /RELOAD command issued/).length - linesSince(log, loaded, /RELOAD command issued/).length;
      expect(before, `${name}: RELOADs to load the change`).toBeGreaterThan(0);
      expect(linesSince(log, loaded, /RELOAD command issued/), `${name}: RELOADs after the setting was loaded`).toEqual([]);
      expect(poolerNode!.pid(ns, name)).toBe(pids[k]); // the same process: its clients stayed connected
    }
  }, 600_000);

  it("removes the pooler's objects when spec.pooler is removed", async () => {
    await env.patch("pg", [{ op: "remove", path: "/spec/pooler" }]);
    await eventually("pooler objects gone", async () => {
      const pods = (await env.core.listNamespacedPod({ namespace: ns, labelSelector: "setpoint.dev/pooler" })).items;
      const cms = (await env.core.listNamespacedConfigMap({ namespace: ns })).items.filter((x) => x.metadata?.name === "pg-pooler");
      const svc = (await env.core.listNamespacedService({ namespace: ns })).items.filter((x) => x.metadata?.name === "pg-pooler-rw");
      // Its Secrets too, the pooler's certificate and key among them (ADR 0044).
      const secrets = (await env.core.listNamespacedSecret({ namespace: ns })).items.filter((x) => /^pg-pooler-(auth|admin|tls)$/.test(x.metadata?.name ?? ""));
      return pods.length + cms.length + svc.length + secrets.length === 0 ? true : undefined;
    }, WAIT_MS);
    const c = await settled("pg", (await read("pg")).metadata!.generation!);
    expect(c.status?.pooler).toBeUndefined();
  }, 600_000);
});
