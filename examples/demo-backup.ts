// `npm run demo:backup`: point-in-time recovery end to end, with real PostgreSQL servers and a real
// S3 server. A local API server whose node harness plays the kubelet (each pod's PostgreSQL a local
// process), the operator as a local process, and SeaweedFS's S3 server on loopback. It `pulumi up`s
// examples/backup (a 2-instance synchronous cluster archiving to the bucket), runs a writer that
// commits numbered rows, takes a base backup (a PostgresBackup), notes a time T, then "by mistake"
// drops a table while the writer goes on. A second `pulumi up` with `restoreTo=T` creates a NEW
// cluster restored from the bucket to T, and the demo compares it with the source row by row:
// exactly the rows the server committed at or before T, none after, the dropped table back, a new
// timeline archived to the restored cluster's own prefix. Everything it started is stopped and its
// files removed at the end, also when a step fails or the demo is interrupted (Ctrl-C).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { type ClientConfig } from "pg";
import { pgClient } from "../sdk/postgres/client";
import { GROUP, KINDS, VERSION, type PostgresBackupStatus, type PostgresClusterStatus } from "../sdk/api/index";
import { openObjectStore } from "../sdk/backup/store";
import { clusterClientConfig } from "../test/support/cluster-tls";
import { eventually } from "../test/support/eventually";
import { startS3Server, type S3Server } from "../test/support/s3";
import { startWriter, type Writer } from "../test/support/writer";
import { startHarness, type ClusterPlatform } from "./support/cluster-platform";
import { ensureBuilt, localStack, requireToolchain, runMain, step, stopOnce } from "./support/demo";

const programDir = join(__dirname, "backup");
const NAMESPACE = "default";
const BUCKET = "backups";
const TOOLS = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager", "weed"];
const UP_TIMEOUT_MS = 300_000;
/** A restore replays the archive one WAL file at a time: minutes on a loaded machine. */
const RESTORE_TIMEOUT_MS = 720_000;

interface Row {
  id: number;
  note: string;
}

async function main(): Promise<void> {
  step("toolchain");
  console.log("mode: node harness (plays the kubelet: each pod's PostgreSQL is a local process) and a local S3 server (SeaweedFS)");
  const tc = requireToolchain(TOOLS);
  ensureBuilt();

  const work = mkdtempSync(join(tmpdir(), "setpoint-demo-backup-"));
  const stack = localStack(tc, programDir, work);
  let platform: ClusterPlatform | undefined;
  let s3: S3Server | undefined;
  let writer: Writer | undefined;
  const stopAll = stopOnce(async () => {
    step("stopping everything");
    await writer?.stop();
    await stack.remove();
    await platform?.stop();
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
    console.log("stopped the writer, the operator, the node's PostgreSQL servers, the S3 server and the control plane, and removed the demo's files");
  });

  try {
    platform = await startHarness(NAMESPACE, "shop");
    const p = platform;
    const core = p.kubeConfig.makeApiClient(CoreV1Api);
    const objects = p.kubeConfig.makeApiClient(CustomObjectsApi);
    step("starting an S3 server (SeaweedFS, loopback)");
    s3 = await startS3Server(tc.tools.weed!.path);
    await s3.createBucket(BUCKET);
    console.log(`S3 endpoint ${s3.endpoint}, bucket ${BUCKET}, data in ${s3.dir}`);
    const server = s3;

    step(`pulumi up (examples/backup, stack ${stack.name}): the cluster "shop" archiving to s3://${BUCKET}/${NAMESPACE}/shop`);
    await stack.init();
    // Secrets go in on stdin, never on the command line.
    await stack.run(["config", "set", "--secret", "kubeconfig"], { show: false, input: readFileSync(p.kubeconfigPath, "utf8") });
    await stack.run(["config", "set", "--secret", "s3SecretAccessKey"], { show: false, input: server.secretAccessKey });
    for (const [k, v] of [["s3Endpoint", server.endpoint], ["s3Bucket", BUCKET], ["s3AccessKeyId", server.accessKeyId]] as const) await stack.run(["config", "set", k, v], { show: false });
    let t = Date.now();
    await stack.run(["up", "--yes", "--skip-preview", "--suppress-progress"], { timeoutMs: UP_TIMEOUT_MS });
    console.log(`pulumi up: shop Ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const read = async (name: string): Promise<PostgresClusterStatus | undefined> =>
      ((await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: KINDS.PostgresCluster.plural, name })) as { status?: PostgresClusterStatus }).status;
    // The cluster accepts TLS only (ADR 0035): the superuser comes in with the operator's client
    // certificate, verify-full against the cluster's authority, as the operator itself does.
    const superuser = async (name: string): Promise<ClientConfig> => {
      const status = await read(name);
      const pod = await core.readNamespacedPod({ name: status!.currentPrimary!, namespace: NAMESPACE });
      return clusterClientConfig(core, NAMESPACE, name, { host: pod.status!.podIP! });
    };
    const sql = async <T extends object>(name: string, text: string, values: unknown[] = []): Promise<T[]> => {
      const c = pgClient(await superuser(name));
      await c.connect();
      try {
        return (await c.query<T>(text, values)).rows;
      } finally {
        await c.end();
      }
    };

    step("tables orders and audit; a writer commits numbered rows into orders through shop-rw");
    await sql("shop", "create table orders (id int primary key, note text not null)");
    await sql("shop", "create table audit (id int primary key, what text not null)");
    await sql("shop", "insert into audit select g, 'audit entry ' || g from generate_series(1, 1000) g");
    const rw = await p.readWriteEndpoint();
    writer = startWriter(await clusterClientConfig(core, NAMESPACE, "shop", { host: rw.host, port: rw.port }), "orders", 1, 50);
    const w = writer;
    await eventually("the writer's first rows", () => w.acked.length >= 20, 60_000, 50);

    // From the primary: the node harness runs its servers with full_page_writes=off (speed), and
    // PostgreSQL refuses a base backup from a standby that replayed such WAL; on a real cluster
    // the default target, a healthy replica, is the better choice.
    step("a base backup: kubectl apply a PostgresBackup");
    t = Date.now();
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NAMESPACE,
      plural: KINDS.PostgresBackup.plural,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: "PostgresBackup", metadata: { name: "before-the-mistake" }, spec: { cluster: { name: "shop" }, target: "primary" } },
    });
    const backup = await eventually("the PostgresBackup Completed and usable", async () => {
      const b = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: KINDS.PostgresBackup.plural, name: "before-the-mistake" })) as { status?: PostgresBackupStatus };
      if (b.status?.phase === "Failed") throw new Error(`the base backup failed: ${b.status.error}`);
      // Usable once the WAL from its start to its end is archived (within archiveTimeout).
      return b.status?.phase === "Completed" && b.status.usable === true ? b.status : undefined;
    }, UP_TIMEOUT_MS, 500);
    console.log(`base backup ${backup.backupId} from ${backup.instance} (${backup.role}) in ${((Date.now() - t) / 1000).toFixed(1)} s: LSN ${backup.beginLsn} .. ${backup.endLsn}, ${backup.sizeBytes} bytes, usable: ${String(backup.usable)}`);

    await sleep(4000);
    const target = new Date();
    console.log(`T = ${target.toISOString()} (${w.acked.length} rows acknowledged so far)`);
    await sleep(4000);
    step("the mistake: DROP TABLE audit (the writer goes on)");
    await sql("shop", "drop table audit");
    await sleep(4000);
    await writer.stop();
    const last = (await sql<{ name: string }>("shop", "select pg_walfile_name(pg_switch_wal()) as name"))[0]!.name;
    await eventually("the last WAL segment archived", async () => ((await read("shop"))?.backup?.lastArchivedWal ?? "") >= last, UP_TIMEOUT_MS, 500);
    // Compared by the server, to the microsecond, as recovery compares each commit record's time with
    // recovery_target_time: a JavaScript Date holds milliseconds, so a commit 0.4 ms after T would
    // read as at T and be expected in a restore that rightly leaves it out.
    const all = await sql<Row & { atOrBeforeT: boolean }>(
      "shop",
      `select id, note, pg_xact_commit_timestamp(xmin) <= $1::timestamptz as "atOrBeforeT" from orders order by id`,
      [target.toISOString()],
    );
    const expected = all.filter((r) => r.atOrBeforeT).map(({ id, note }) => ({ id, note }));
    console.log(`shop: ${all.length} rows in orders, ${expected.length} committed at or before T, ${all.length - expected.length} after; archive up to ${last}`);

    step(`pulumi up with restoreTo=${target.toISOString()}: a NEW cluster "restored" from s3://${BUCKET}/${NAMESPACE}/shop`);
    await stack.run(["config", "set", "restoreTo", target.toISOString()], { show: false });
    t = Date.now();
    await stack.run(["up", "--yes", "--skip-preview", "--suppress-progress"], { timeoutMs: RESTORE_TIMEOUT_MS });
    const restoreSeconds = (Date.now() - t) / 1000;
    console.log(`pulumi up: restored Ready in ${restoreSeconds.toFixed(1)} s (base backup downloaded, WAL replayed to T, promoted)`);

    step("comparing restored with shop, row by row");
    const restored = await sql<Row>("restored", "select id, note from orders order by id");
    const same = JSON.stringify(restored) === JSON.stringify(expected);
    const afterT = restored.filter((r) => !expected.some((e) => e.id === r.id)).length;
    console.log(`restored: ${restored.length} rows in orders; exactly the ${expected.length} committed at or before T: ${same ? "yes" : "NO"}; rows committed after T present: ${afterT}`);
    const audit = (await sql<{ n: string }>("restored", "select count(*) as n from audit"))[0]!.n;
    console.log(`restored: table audit is back with ${audit} rows`);
    const tl = (await sql<{ tl: number }>("restored", "select timeline_id as tl from pg_control_checkpoint()"))[0]!.tl;
    const seg = (await sql<{ name: string }>("restored", "select pg_walfile_name(pg_switch_wal()) as name"))[0]!.name;
    const own = openObjectStore(server.store(BUCKET, `${NAMESPACE}/restored`));
    try {
      await eventually("the restored cluster's WAL in its own prefix", async () => {
        for await (const o of own.list(`wal/${seg.slice(0, 8)}/`)) if (!o.key.endsWith(".history.gz")) return true;
        return false;
      }, UP_TIMEOUT_MS, 500);
    } finally {
      own.close();
    }
    console.log(`restored: promoted on timeline ${tl}, archiving to s3://${BUCKET}/${NAMESPACE}/restored (the source's prefix is left alone)`);
    if (!same || audit !== "1000") throw new Error("the restored cluster does not hold what the source had at T");
  } finally {
    await stopAll();
  }
}

runMain(main);
