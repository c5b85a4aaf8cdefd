// The PostgresUpgrade controller against a real API server and the node harness running real
// PostgreSQL 16 and 17: bad input refused into status with nothing created; a 16 cluster under a
// writer upgraded to 17 through the engine, gate by gate, with the operator dying after
// replication started and again right after the traffic switch (a new operator resumes from the
// state on blue each time), the CLI refused while the operator holds the upgrade, 0 lost rows and
// equal checksums; then a rollback by spec that returns traffic to blue with 0 lost rows. The
// clusters are DEFAULT ones (TLS, the superuser by certificate only, ADR 0035): every connection
// of the upgrade is verify-full by certificate (ADR 0042), a foreign authority or name refused.
import { pgClient } from "../../sdk/postgres/client";
import { clusterClientConfig, clusterSsl } from "../support/cluster-tls";
import { describe, expect, it } from "vitest";
import { GROUP, KINDS, VERSION, type PostgresUpgradeStatus } from "../../sdk/api/index";
import { runUpgrade, tableStateStore, UpgradeInProgressError, type UpgradeState } from "../../sdk/upgrade/index";
import { connect } from "../../sdk/postgres/connection";
import { ConnectionError } from "../../sdk/errors";
import { engineConnection } from "../../sdk/operator/upgrade/connections";
import { readOperatorTls } from "../../sdk/operator/cluster/tls";
import { createCertificateAuthority } from "../../sdk/tls/certificates";
import { clusterToolchain, useCluster } from "../support/cluster";
import { createCustomObject } from "../support/custom-objects";
import { eventually } from "../support/eventually";
import { majors } from "../support/postgres";
import { startWriter, type Writer } from "../support/writer";

const WAIT_MS = 120_000;
const ns = "upgrades";
const plural = KINDS.PostgresUpgrade.plural;
const ok = clusterToolchain.skip === undefined && majors().includes(16) && majors().includes(17);

/**
 * Where the test makes the operator "die": at checkpoint `at` it throws, and from then on (`dead`)
 * every checkpoint of that operator throws, until the test starts a new operator.
 */
const crash: { at: string | undefined; dead: boolean; reached?: () => void; release?: Promise<void> } = { at: undefined, dead: false };

describe.runIf(ok)("PostgresUpgrade controller (16 → 17)", { timeout: 400_000 }, () => {
  const env = useCluster({
    namespace: ns,
    waitMs: WAIT_MS,
    operator: {
      upgradeCheckpoint: async (name: string, _state: UpgradeState) => {
        if (crash.dead) throw new Error(`test: the operator is dead (${name})`);
        if (name !== crash.at) return;
        crash.at = undefined;
        crash.dead = true;
        crash.reached?.();
        if (crash.release) await crash.release;
        throw new Error(`test: the operator dies at ${name}`);
      },
    },
  });
  const readUpgrade = async (name: string): Promise<{ metadata: { generation: number }; status?: PostgresUpgradeStatus }> =>
    (await env.objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name })) as never;
  const condition = (s: PostgresUpgradeStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);
  const until = (name: string, what: string, check: (s: PostgresUpgradeStatus | undefined) => boolean) =>
    eventually(`${name}: ${what}`, async () => {
      const u = await readUpgrade(name);
      return check(u.status) ? u : undefined;
    }, WAIT_MS).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\nstatus: ${JSON.stringify((await readUpgrade(name)).status)}\noperator log:\n${env.lines.slice(-30).join("\n")}`);
    });

  /** The writer's rows in the app database of `cluster`'s server at `host`. */
  const appRows = async (cluster: string, host: string): Promise<{ id: number }[]> => {
    const c = pgClient(await clusterClientConfig(env.core, ns, cluster, { host, password: await env.secretValue(`${cluster}-superuser`, "password"), database: "app" }));
    await c.connect();
    try {
      return (await c.query<{ id: number }>("select id from acked where id > 0")).rows;
    } finally {
      await c.end();
    }
  };

  it("refuses a missing blue cluster and a wrong source major into status, creating nothing", async () => {
    await createCustomObject(env.objects, ns, "PostgresUpgrade", "nowhere", { from: { clusterRef: { name: "missing" }, postgresVersion: 16 }, to: { clusterRef: { name: "missing17" }, postgresVersion: 17 } });
    const u = await until("nowhere", "refused", (s) => condition(s, "Degraded")?.reason === "BlueClusterNotFound");
    expect(condition(u.status, "Degraded")).toMatchObject({ status: "True", observedGeneration: 1, message: expect.stringContaining("spec.from.clusterRef") });
    expect(condition(u.status, "Ready")?.status).toBe("False");
    const clusters = (await env.objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural })) as { items: unknown[] };
    expect(clusters.items).toEqual([]);
    await env.objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: "nowhere" });
  });

  /** A 1-instance 16 cluster `name` with the writer's table (seeded) in its app database; its blue pod's IP and app password. */
  const blueCluster = async (name: string): Promise<{ ip: string; appPassword: string }> => {
    // A default cluster: no spec.tls, so the superuser gets in over the network by certificate only.
    await env.create(name, { postgresVersion: 16, instances: 1, parameters: { wal_level: "logical" } });
    // Settled: a new cluster restarts its primary for wal_level right after it first becomes Ready.
    await env.settled(name, 1, (c) => !(c.status?.instances ?? []).some((i) => i.pendingRestart));
    const appPassword = await env.secretValue(`${name}-app`, "password");
    const ip = await env.podIp(`${name}-1`);
    const app = pgClient(await clusterClientConfig(env.core, ns, name, { host: ip, user: "app", password: appPassword, database: "app" }));
    await app.connect();
    await app.query("create table acked (id int primary key, note text)");
    await app.query("insert into acked select g, 'seed ' || g from generate_series(-2000, -1) g");
    await app.end();
    return { ip, appPassword };
  };
  /** The application: app credentials through whatever pod `cluster`'s rw Service selects now. */
  const appWriter = (cluster: string, appPassword: string): Writer =>
    startWriter(async () => {
      const [p] = await env.selectedPods(`${cluster}-rw`);
      if (!p) throw new Error("rw selects no pod");
      // verify-full against blue's rw Service name, which green's certificate carries too.
      return clusterClientConfig(env.core, ns, cluster, { host: await env.podIp(p), user: "app", password: appPassword, database: "app" });
    }, "acked");
  const patchUpgrade = (name: string, ops: object[]) =>
    env.objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name, body: ops }, { headers: { "Content-Type": "application/json-patch+json" } } as never);
  const upgradeSpec = (blue: string, green: string, extra: object = {}) => ({ from: { clusterRef: { name: blue }, postgresVersion: 16 }, to: { clusterRef: { name: green }, postgresVersion: 17 }, ...extra });
  /** Acknowledged ids absent from `rows` (call with the writer stopped, or rows read after it acked). */
  const missing = async (rows: { id: number }[], writer: Writer): Promise<number[]> => {
    const present = new Set(rows.map((r) => r.id));
    return writer.acked.map((a) => a.id).filter((id) => !present.has(id));
  };
  /** md5 of every row of the writer's table in `cluster`'s app database at `host`. */
  const checksum = async (cluster: string, host: string): Promise<string> => {
    const c = pgClient(await clusterClientConfig(env.core, ns, cluster, { host, password: await env.secretValue(`${cluster}-superuser`, "password"), database: "app" }));
    await c.connect();
    try {
      return (await c.query<{ sum: string }>("select md5(coalesce(string_agg(id || ':' || note, ',' order by id), '')) as sum from acked")).rows[0]!.sum;
    } finally {
      await c.end();
    }
  };

  /** Runs `statements` as the superuser (the operator's certificate) on `cluster`'s server at `host`; the last one's rows. */
  const superuserQuery = async (cluster: string, host: string, statements: string[]): Promise<unknown[]> => {
    const c = pgClient(await clusterClientConfig(env.core, ns, cluster, { host, database: "app" }));
    await c.connect();
    try {
      let rows: unknown[] = [];
      for (const sql of statements) rows = (await c.query(sql)).rows;
      return rows;
    } finally {
      await c.end();
    }
  };

  /**
   * The upgrade's connections are verified and by certificate (ADR 0042): green's subscription to
   * blue is the replication role, verify-full with green's own files and no password, and blue's
   * walsender serves it over TLS to that certificate; the engine's own fields are refused by blue
   * under a foreign authority or a wrong verified name.
   */
  const expectVerifiedReplication = async (blueName: string, blueIp: string, greenName: string, greenIp: string): Promise<void> => {
    const g = pgClient(await clusterClientConfig(env.core, ns, greenName, { host: greenIp, database: "app" }));
    await g.connect();
    try {
      const { rows } = await g.query<{ conninfo: string }>("select subconninfo as conninfo from pg_subscription");
      expect(rows).toHaveLength(1);
      const info = rows[0]!.conninfo;
      expect(info).toContain("sslmode='verify-full'");
      expect(info).toContain("user='streaming_replica'");
      expect(info).toContain(`host='${blueName}-rw.${ns}.svc'`);
      expect(info).toContain(`hostaddr='${blueIp}'`);
      expect(info).toMatch(/sslrootcert='[^']*\/ca\.crt' sslcert='[^']*\/replication\.crt' sslkey='[^']*\/replication\.key'/);
      expect(info).not.toMatch(/password/);
    } finally {
      await g.end();
    }
    const b = pgClient(await clusterClientConfig(env.core, ns, blueName, { host: blueIp, database: "app" }));
    await b.connect();
    try {
      const { rows } = await b.query<{ ssl: boolean; version: string; dn: string; usename: string }>(
        "select s.ssl, s.version, s.client_dn as dn, a.usename from pg_stat_replication a join pg_stat_ssl s using (pid)",
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(r).toMatchObject({ ssl: true, version: "TLSv1.3", dn: "/CN=streaming_replica", usename: "streaming_replica" });
    } finally {
      await b.end();
    }
    // The engine's fields: accepted as they are; refused under a foreign authority or a wrong name.
    const tls = (await readOperatorTls(env.core, ns, blueName))!;
    const side = { host: blueIp, port: 5432, password: "", database: "app", selector: {}, tls };
    await (await connect(engineConnection(side, blueName))).end();
    const foreign = createCertificateAuthority({ commonName: "foreign" });
    for (const wrong of [
      { ...tls, ca: foreign.certificatePem },
      { ...tls, serverName: `${greenName}-nowhere.${ns}.svc` },
    ]) {
      const err = await connect(engineConnection({ ...side, tls: wrong }, blueName)).then((c) => c.end().then(() => undefined), (e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionError);
      expect(String((err as Error).message)).not.toContain("PRIVATE KEY");
    }
  };

  it("upgrades a 16 cluster under a writer to 17 (the operator dies after replication started; a new one resumes), verified, 0 lost rows; rollback returns traffic to blue with 0 lost rows", async () => {
    const { ip: blueIp, appPassword } = await blueCluster("shop");
    // A table whose row security hides every row: the subscription's copy (as the replication role,
    // not the superuser, ADR 0042) must still carry them all.
    await superuserQuery("shop", blueIp, [
      "create table public.guarded (id int primary key)",
      "insert into public.guarded select generate_series(1, 50)",
      "alter table public.guarded enable row level security",
      "create policy nothing on public.guarded using (false)",
    ]);
    const writer = appWriter("shop", appPassword);
    try {
      // A wrong source major is refused before anything is created.
      await createCustomObject(env.objects, ns, "PostgresUpgrade", "wrong", upgradeSpec("shop", "shop15to17", { from: { clusterRef: { name: "shop" }, postgresVersion: 15 } }));
      await until("wrong", "refused", (s) => condition(s, "Degraded")?.reason === "VersionMismatch");
      await expect(env.read("shop15to17")).rejects.toThrow();

      // The first operator dies right after replication started.
      crash.at = "phase:replicating";
      await createCustomObject(env.objects, ns, "PostgresUpgrade", "shop-to-17", upgradeSpec("shop", "shop17", { until: "synchronized" }));
      await until("shop-to-17", "failed after replicating", (s) => s?.phase === "replicating" && condition(s, "Degraded")?.status === "True");
      expect((await env.read("shop17")).metadata).toMatchObject({ name: "shop17" });
      await env.stopOperator();
      crash.dead = false;
      await env.startOperator();
      // The new operator resumes from blue's state table and stops at the supervised gate.
      let u = await until("shop-to-17", "synchronized, at the gate", (s) => s?.phase === "synchronized" && condition(s, "Ready")?.status === "True");
      expect(condition(u.status, "Ready")).toMatchObject({ reason: "Synchronized", observedGeneration: 1 });
      expect(await env.selectedPods("shop-rw")).toEqual(["shop-1"]);
      // Before the cutover the cluster controller still owns blue's rw Service (it follows a failover).
      expect((await env.core.readNamespacedService({ name: "shop-rw", namespace: ns })).metadata?.annotations?.["setpoint.dev/traffic-owner"]).toBeUndefined();
      await expectVerifiedReplication("shop", blueIp, "shop17", await env.podIp("shop17-1"));
      expect(await superuserQuery("shop17", await env.podIp("shop17-1"), ["select count(*)::int as n from public.guarded"])).toEqual([{ n: 50 }]);

      await patchUpgrade("shop-to-17", [{ op: "replace", path: "/spec/until", value: "switched" }]);
      u = await until("shop-to-17", "switched", (s) => s?.phase === "switched" && condition(s, "Ready")?.status === "True");
      expect(condition(u.status, "Ready")).toMatchObject({ reason: "Switched", observedGeneration: 2 });
      expect(u.status?.verification).toMatchObject({ mode: "checksums", equal: true, mismatchedTables: [] });
      expect(await env.selectedPods("shop-rw")).toEqual(["shop17-1"]);
      expect((await env.core.readNamespacedService({ name: "shop-rw", namespace: ns })).metadata?.annotations?.["setpoint.dev/traffic-owner"]).toBe("PostgresUpgrade/shop-to-17");
      const greenIp = await env.podIp("shop17-1");

      // The writer reaches green through blue's rw Service; every acknowledged row is on green.
      const before = writer.acked.length;
      await eventually("writes on green", () => writer.acked.length > before + 20 && writer.acked.at(-1)!.server === greenIp, WAIT_MS);
      // Only rows acknowledged before the read can be asked of it.
      const ackedBefore = writer.acked.slice();
      const onGreen = new Set((await appRows("shop17", greenIp)).map((r) => r.id));
      expect(ackedBefore.filter((a) => !onGreen.has(a.id)).map((a) => a.id)).toEqual([]);
      const gaps = writer.acked.slice(1).map((a, i) => a.at - writer.acked[i]!.at);
      process.stdout.write(`upgrade 16→17 via the operator: write pause (engine) ${u.status?.writePauseMs} ms, longest gap between acknowledged writes ${Math.max(...gaps)} ms, failed attempts ${writer.failures()}\n`);

      // Rollback by spec: traffic returns to blue with every write green took.
      await patchUpgrade("shop-to-17", [{ op: "add", path: "/spec/action", value: "rollback" }]);
      u = await until("shop-to-17", "rolled back", (s) => s?.phase === "rolled-back" && condition(s, "Ready")?.status === "True");
      expect(condition(u.status, "Ready")).toMatchObject({ reason: "RolledBack", observedGeneration: 3 });
      expect(await env.selectedPods("shop-rw")).toEqual(["shop-1"]);
      const back = writer.acked.length;
      await eventually("writes on blue again", () => writer.acked.length > back + 20 && writer.acked.at(-1)!.server === blueIp, WAIT_MS);
    } finally {
      await writer.stop();
    }
    expect(await missing(await appRows("shop", blueIp), writer)).toEqual([]);
    // The cluster controller owns blue's rw Service again.
    const rw = await env.core.readNamespacedService({ name: "shop-rw", namespace: ns });
    expect(rw.metadata?.annotations?.["setpoint.dev/traffic-owner"]).toBeUndefined();
  });

  it("the operator dies right after the switch: the CLI is refused while it holds the upgrade, a new operator completes the switch, checksums equal, finalize releases green", async () => {
    const { ip: blueIp, appPassword } = await blueCluster("cart");
    const writer = appWriter("cart", appPassword);
    let greenIp = "";
    try {
      let reached!: () => void;
      const atSwitch = new Promise<void>((r) => (reached = r));
      let release!: () => void;
      crash.release = new Promise<void>((r) => (release = r));
      crash.reached = reached;
      crash.at = "switched";
      await createCustomObject(env.objects, ns, "PostgresUpgrade", "cart-to-17", upgradeSpec("cart", "cart17"));
      let hit = false;
      void atSwitch.then(() => (hit = true));
      await eventually("the operator at the switch", () => hit, WAIT_MS).catch(async (err: unknown) => {
        throw new Error(`${String(err)}\nstatus: ${JSON.stringify((await readUpgrade("cart-to-17")).status)}\ngreen: ${JSON.stringify((await env.read("cart17").catch(() => undefined))?.status)}\noperator log:\n${env.lines.slice(-30).join("\n")}`);
      });
      // The operator holds the upgrade (mid-cutover): the CLI is refused, naming it.
      // The superuser by the operator's certificate, verify-full (ADR 0042), as the engine logs in.
      const ssl = await clusterSsl(env.core, ns, "cart", true);
      const blue = { host: blueIp, port: 5432, user: "postgres", database: "app", sslmode: "verify-full" as const, ca: ssl.ca, servername: ssl.servername, cert: ssl.cert!, key: ssl.key! };
      const greenSsl = await clusterSsl(env.core, ns, "cart17", true);
      const green = { ...blue, host: await env.podIp("cart17-1"), servername: greenSsl.servername, cert: greenSsl.cert!, key: greenSsl.key! };
      const refused = await runUpgrade({ blue, green, store: tableStateStore(blue, `PostgresUpgrade/${ns}/cart-to-17`), driver: "cli", lockWaitMs: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(UpgradeInProgressError);
      expect((refused as UpgradeInProgressError).holder).toMatchObject({ driver: "operator", pid: process.pid });
      expect((refused as Error).message).toMatch(/UPGRADE_IN_PROGRESS|another runner/);
      expect((refused as Error).message).toContain("operator");
      release();
      crash.release = undefined;
      await until("cart-to-17", "failed after the switch", (s) => s?.phase === "switched" && condition(s, "Degraded")?.status === "True");
      await env.stopOperator();
      crash.dead = false;
      await env.startOperator();
      const u = await until("cart-to-17", "switched", (s) => s?.phase === "switched" && condition(s, "Ready")?.status === "True");
      expect(condition(u.status, "Ready")?.reason).toBe("Switched");
      // The run holding the cutover's snapshots died: the engine says so instead of claiming a verification.
      expect(u.status?.verification?.skipped).toContain("interrupted");
      greenIp = green.host;
      expect(await env.selectedPods("cart-rw")).toEqual(["cart17-1"]);
      const before = writer.acked.length;
      await eventually("writes on green", () => writer.acked.length > before + 20 && writer.acked.at(-1)!.server === greenIp, WAIT_MS);
    } finally {
      await writer.stop();
    }
    expect(await missing(await appRows("cart17", greenIp), writer)).toEqual([]);
    // Blue receives green's writes (the rollback path): once caught up, both sides' checksums are equal.
    const greenSum = await checksum("cart17", greenIp);
    await eventually("blue caught up with green", async () => (await checksum("cart", blueIp)) === greenSum, WAIT_MS);

    // Finalize: the rollback path goes, and green stops being owned by the PostgresUpgrade.
    await patchUpgrade("cart-to-17", [{ op: "add", path: "/spec/action", value: "finalize" }]);
    await until("cart-to-17", "finalized", (s) => s?.phase === "finalized" && condition(s, "Ready")?.reason === "Finalized");
    await eventually("green released", async () => ((await env.objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.PostgresCluster.plural, name: "cart17" })) as { metadata: { ownerReferences?: unknown[] } }).metadata.ownerReferences?.length ? undefined : true, WAIT_MS);
    // Deleting the finalized upgrade leaves the serving green alone.
    await env.objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: "cart-to-17" });
    await eventually("upgrade gone", async () => readUpgrade("cart-to-17").then(() => undefined, () => true), WAIT_MS);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await env.read("cart17")).metadata.name).toBe("cart17");
    expect(await env.selectedPods("cart-rw")).toEqual(["cart17-1"]);
  });

  it("refuses a table without a replica identity at preflight: findings with the fix in status, nothing changed on blue", async () => {
    const { ip } = await blueCluster("books");
    const c = pgClient(await clusterClientConfig(env.core, ns, "books", { host: ip, password: await env.secretValue("books-superuser", "password"), database: "app" }));
    await c.connect();
    try {
      await c.query("create table public.loose (a int, b text)");
      await createCustomObject(env.objects, ns, "PostgresUpgrade", "books-to-17", upgradeSpec("books", "books17"));
      const u = await until("books-to-17", "refused at preflight", (s) => condition(s, "Degraded")?.reason === "PreflightRefused");
      expect(condition(u.status, "Ready")).toMatchObject({ status: "False", reason: "PreflightRefused" });
      expect(u.status?.findings?.join("\n")).toMatch(/loose[\s\S]*fix: /);
      expect(u.status?.phase).toBe("new");
      // Nothing of the upgrade on blue: no publication, no slot.
      expect((await c.query("select 1 from pg_publication")).rowCount).toBe(0);
      expect((await c.query("select 1 from pg_replication_slots where slot_type = 'logical'")).rowCount).toBe(0);
      // Deleting it forgets the upgrade on blue first (the finalizer), then it goes.
      await env.objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: "books-to-17" });
      await eventually("upgrade gone", async () => readUpgrade("books-to-17").then(() => undefined, () => true), WAIT_MS);
      expect((await c.query("select 1 from setpoint.upgrades where key = $1", [`PostgresUpgrade/${ns}/books-to-17`])).rowCount).toBe(0);
    } finally {
      await c.end();
    }
  });
});
