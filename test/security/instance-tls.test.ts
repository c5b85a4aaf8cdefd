// The instance manager with TLS and Setpoint's locked-down pg_hba.conf (issue 19, ADR 0031), on
// real PostgreSQL of every major, run as local processes the way a container runs it (an
// unprivileged uid without a passwd entry). The operator's side is played by files: a Secret
// volume's directory (`tls.crt`, `tls.key`, `ca.crt`) swapped the way a kubelet swaps it (a
// `..data` symlink), and the ConfigMap's pg_hba.conf.
// - Attacks, each refused with the server's own error: plaintext, a wrong password, a replication
//   connection without the replication role's certificate (a pod outside the cluster), the
//   superuser over the network with its correct password, an expired client certificate, a client
//   certificate of a foreign authority. What must work does: the application over TLS 1.3 with
//   verify-full and SCRAM, the operator as the superuser with its client certificate.
// - A replica cloned and streaming over TLS with the replication role's certificate (no password).
// - Drift: a rule added to the server's pg_hba.conf by hand is gone at the manager's next check.
// - Rotation under a live writer: the server certificate renewed three times, by reloads: 0 failed
//   transactions, 0 lost rows, new connections see the new certificate.
// - Rotation of the authority (ADR 0049) under a live writer, new handshakes and a streaming
//   replica that reconnects after each step, in the operator's three steps (trust bundle, leaves,
//   old authority out), each pod's volume updated at its own moment: nothing fails, and afterwards
//   the old authority's certificates are refused.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ClientConfig } from "pg";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, describe, expect, it } from "vitest";
import { instanceHba } from "../../sdk/instance/hba";
import { hasPasswdEntry, randomPassword } from "../../sdk/postgres/embedded";
import { trustBundle } from "../../sdk/operator/cluster/tls";
import { createCertificateAuthority, issueCertificate, type KeyPair } from "../../sdk/tls/certificates";
import { majors } from "../support/postgres";
import { runManager, startManager, type ManagerProcess } from "../support/instance";

const root = mkdtempSync(join(tmpdir(), "setpoint-tls-test-"));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const uid = [4242, 4343, 4444, 5151].find((u) => !hasPasswdEntry(u))!;
const identity = process.getuid?.() === 0 ? { uid, gid: uid } : undefined;

function dir(...parts: string[]): string {
  const d = join(root, ...parts);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  if (identity) chownSync(d, identity.uid, identity.gid);
  return d;
}

/** A Secret volume as a kubelet lays it out: files in a timestamped directory behind the `..data` symlink, swapped atomically. */
function writeSecretVolume(volume: string, files: Record<string, string>): void {
  const stamp = join(volume, `..${Date.now()}-${Math.random().toString(16).slice(2)}`);
  mkdirSync(stamp, { mode: 0o755 });
  for (const [k, v] of Object.entries(files)) writeFileSync(join(stamp, k), v, { mode: 0o644 });
  const tmpLink = join(volume, "..data_tmp");
  rmSync(tmpLink, { force: true });
  symlinkSync(stamp.slice(volume.length + 1), tmpLink);
  renameSync(tmpLink, join(volume, "..data"));
  for (const k of Object.keys(files)) {
    try {
      symlinkSync(join("..data", k), join(volume, k));
    } catch {
      // already links through ..data
    }
  }
}

async function waitReady(env: Record<string, string>, server: ManagerProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await runManager(["ready"], env, identity)).code === 0) return;
    if (server.child.exitCode !== null) throw new Error(`the manager exited: ${server.output()}`);
    await sleep(200);
  }
  throw new Error(`not ready: ${server.output()}`);
}

/** Connects, runs `sql`, returns the first row as JSON or the error's message (the server's words). */
async function attempt(config: ClientConfig & { replication?: string }, sql = "select current_user as u, (select version from pg_stat_ssl where pid = pg_backend_pid()) as tls"): Promise<string> {
  const c = pgClient({ connectionTimeoutMillis: 5000, ...config } as ClientConfig);
  try {
    await c.connect();
    const r = await c.query(sql);
    return JSON.stringify(r.rows[0] ?? null);
  } catch (err) {
    return (err as Error).message;
  } finally {
    await Promise.race([c.end().catch(() => undefined), sleep(1000)]);
  }
}

const SERVER_NAME = "orders-rw.shop.svc";
let nextPort = 26_400 + Math.floor(Math.random() * 1000);

describe.each(majors())("instance with TLS and Setpoint's pg_hba.conf, PostgreSQL %i", (major) => {
  const superPassword = randomPassword();
  const appPassword = randomPassword();
  const ca = createCertificateAuthority({ commonName: "orders ca" });
  const foreignCa = createCertificateAuthority({ commonName: "someone else's ca" });
  const server = (): KeyPair => issueCertificate(ca, { commonName: "orders", usage: "server", altNames: [SERVER_NAME, "orders-rw"] });
  const operatorCert = issueCertificate(ca, { commonName: "postgres", usage: "client" });
  const replicationCert = issueCertificate(ca, { commonName: "streaming_replica", usage: "client" });
  const expiredReplicationCert = issueCertificate(ca, { commonName: "streaming_replica", usage: "client", validDays: 1, now: new Date(Date.now() - 3 * 24 * 3600 * 1000) });
  const foreignReplicationCert = issueCertificate(foreignCa, { commonName: "streaming_replica", usage: "client" });
  const foreignOperatorCert = issueCertificate(foreignCa, { commonName: "postgres", usage: "client" });
  const base = dir(`pg${major}`);
  const serverVolume = dir(`pg${major}`, "server-tls");
  const clientVolume = dir(`pg${major}`, "replication-tls");
  const firstServer = server();
  writeSecretVolume(serverVolume, { "tls.crt": firstServer.certificatePem, "tls.key": firstServer.privateKeyPem, "ca.crt": ca.certificatePem });
  writeSecretVolume(clientVolume, { "tls.crt": replicationCert.certificatePem, "tls.key": replicationCert.privateKeyPem });
  const hbaSource = join(base, "pg_hba.conf");
  writeFileSync(hbaSource, instanceHba({ replicationUser: "streaming_replica", tls: true }), { mode: 0o644 });
  const port = nextPort++;
  const runtimeDir = join(dir(`pg${major}`, "run"), "setpoint");
  const env: Record<string, string> = {
    PGDATA: join(dir(`pg${major}`, "volume"), "pgdata"),
    SETPOINT_POSTGRES_MAJOR: String(major),
    SETPOINT_ROLE: "primary",
    SETPOINT_POD_UID: "pod-1",
    SETPOINT_SUPERUSER_PASSWORD: superPassword,
    PGPORT: String(port),
    SETPOINT_LISTEN_ADDRESSES: "127.0.0.1",
    SETPOINT_SOCKET_DIR: dir(`pg${major}`, "run"),
    SETPOINT_HBA_SOURCE: hbaSource,
    SETPOINT_TLS_SERVER_DIR: serverVolume,
    SETPOINT_RUNTIME_DIR: runtimeDir,
    SETPOINT_SYNC_INTERVAL_MS: "300",
  };
  const serverArgs = ["-c", "fsync=off", "-c", "max_wal_senders=4"];
  let primary: ManagerProcess | undefined;
  afterAll(async () => {
    primary?.child.kill("SIGTERM");
    if (primary) await primary.exited;
  });

  const tcp = { host: "127.0.0.1", port, database: "postgres" };
  const verified = (extra: Record<string, unknown> = {}) => ({ ca: ca.certificatePem, servername: SERVER_NAME, ...extra });
  const physical = { replication: "true", database: "replication" };
  /** Over the local socket (the manager's and the test's own administration): the first row as JSON; throws on an error. */
  const admin = async (sql: string): Promise<string> => {
    const c = pgClient({ host: env.SETPOINT_SOCKET_DIR, port, user: "postgres", database: "postgres" });
    await c.connect();
    try {
      const r = await c.query(sql);
      return JSON.stringify((Array.isArray(r) ? r.at(-1) : r).rows[0] ?? null);
    } finally {
      await c.end();
    }
  };

  /** One application session inserting 1, 2, 3, … into `table` until stopped; what committed and what failed. */
  const startLedgerWriter = (table: string, ssl: ClientConfig["ssl"]) => {
    const counts = { committed: 0, failed: 0 };
    let stop = false;
    const done = (async () => {
      const c = pgClient({ ...tcp, user: "app", password: appPassword, ssl });
      await c.connect();
      try {
        for (let n = 1; !stop; n++) {
          try {
            await c.query(`insert into ${table} values ($1)`, [n]);
            counts.committed++;
          } catch {
            counts.failed++;
          }
        }
      } finally {
        await c.end();
      }
    })();
    return {
      counts,
      stop: async (): Promise<void> => {
        stop = true;
        await done;
      },
    };
  };

  it("starts TLS-only with TLS 1.3; the application (SCRAM, verify-full) and the operator (client certificate) get in", async () => {
    primary = startManager(["run", ...serverArgs], env, identity);
    await waitReady(env, primary);
    expect(await admin(`create role app login password '${appPassword}'`)).toBeDefined();
    expect(await admin("create role streaming_replica login replication")).toBeDefined();
    expect(await admin("select current_setting('ssl') as ssl, current_setting('ssl_min_protocol_version') as min, current_setting('hba_file') as hba")).toBe(
      JSON.stringify({ ssl: "on", min: "TLSv1.3", hba: join(runtimeDir, "pg_hba.conf") }),
    );
    expect(await attempt({ ...tcp, user: "app", password: appPassword, ssl: verified() })).toBe(JSON.stringify({ u: "app", tls: "TLSv1.3" }));
    expect(await attempt({ ...tcp, user: "postgres", ssl: verified({ cert: operatorCert.certificatePem, key: operatorCert.privateKeyPem }) })).toBe(JSON.stringify({ u: "postgres", tls: "TLSv1.3" }));
    // Every network rule is hostssl: not one `host` line.
    const rules = JSON.parse(await admin("select count(*)::int as network, count(*) filter (where type <> 'hostssl')::int as plain from pg_hba_file_rules where type <> 'local'")) as { network: number; plain: number };
    expect(rules.network).toBeGreaterThan(0);
    expect(rules.plain).toBe(0);
    // The kept copies are the server user's alone.
    expect(readFileSync(join(runtimeDir, "server.key"), "utf8")).toBe(firstServer.privateKeyPem);
  });

  it("refuses every attack with the server's own error", async () => {
    const results = {
      plaintext: await attempt({ ...tcp, user: "app", password: appPassword, ssl: false }),
      wrongPassword: await attempt({ ...tcp, user: "app", password: `${appPassword}x`, ssl: verified() }),
      replicationWithoutCertificate: await attempt({ ...tcp, ...physical, user: "streaming_replica", password: "anything", ssl: verified() }),
      replicationAsSuperuser: await attempt({ ...tcp, ...physical, user: "postgres", password: superPassword, ssl: verified() }),
      superuserWithPassword: await attempt({ ...tcp, user: "postgres", password: superPassword, ssl: verified() }),
      superuserPlaintext: await attempt({ ...tcp, user: "postgres", password: superPassword, ssl: false }),
      expiredClientCertificate: await attempt({ ...tcp, ...physical, user: "streaming_replica", ssl: verified({ cert: expiredReplicationCert.certificatePem, key: expiredReplicationCert.privateKeyPem }) }),
      foreignReplicationCertificate: await attempt({ ...tcp, ...physical, user: "streaming_replica", ssl: verified({ cert: foreignReplicationCert.certificatePem, key: foreignReplicationCert.privateKeyPem }) }),
      foreignOperatorCertificate: await attempt({ ...tcp, user: "postgres", ssl: verified({ cert: foreignOperatorCert.certificatePem, key: foreignOperatorCert.privateKeyPem }) }),
      operatorCertificateForAnotherRole: await attempt({ ...tcp, ...physical, user: "streaming_replica", ssl: verified({ cert: operatorCert.certificatePem, key: operatorCert.privateKeyPem }) }),
      tls12: await attempt({ ...tcp, user: "app", password: appPassword, ssl: verified({ maxVersion: "TLSv1.2" }) }),
    };
    process.stdout.write(`attack results (PostgreSQL ${major}): ${JSON.stringify(results, null, 1)}\n`);
    expect(results.plaintext).toBe(`no pg_hba.conf entry for host "127.0.0.1", user "app", database "postgres", no encryption`);
    expect(results.wrongPassword).toBe(`password authentication failed for user "app"`);
    expect(results.replicationWithoutCertificate).toBe("connection requires a valid client certificate");
    expect(results.replicationAsSuperuser).toMatch(/^pg_hba\.conf rejects replication connection for host "127\.0\.0\.1", user "postgres", (SSL encryption|SSL on)$/);
    expect(results.superuserWithPassword).toBe("connection requires a valid client certificate");
    expect(results.superuserPlaintext).toBe(`no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "postgres", no encryption`);
    // TLS-level refusals: the server's alert, as OpenSSL names it on the client.
    expect(results.expiredClientCertificate).toMatch(/alert certificate expired/);
    expect(results.foreignReplicationCertificate).toMatch(/alert unknown ca/);
    expect(results.foreignOperatorCertificate).toMatch(/alert unknown ca/);
    expect(results.operatorCertificateForAnotherRole).toMatch(/certificate authentication failed for user "streaming_replica"/);
    expect(results.tls12).toMatch(/alert protocol version/);
  });

  it("clones a replica over TLS with the replication role's certificate and streams from it", async () => {
    expect(await admin("select pg_create_physical_replication_slot('orders_2', true) is not null as ok")).toBe('{"ok":true}');
    expect(await admin("create table kept (n int); insert into kept values (1)")).toBeDefined();
    const replicaPort = nextPort++;
    const replicaEnv: Record<string, string> = {
      ...env,
      PGDATA: join(dir(`pg${major}`, "replica-volume"), "pgdata"),
      PGPORT: String(replicaPort),
      SETPOINT_SOCKET_DIR: dir(`pg${major}`, "replica-run"),
      SETPOINT_RUNTIME_DIR: join(dir(`pg${major}`, "replica-run"), "setpoint"),
      SETPOINT_ROLE: "replica",
      SETPOINT_POD_UID: "pod-2",
      SETPOINT_PRIMARY_HOST: "127.0.0.1",
      SETPOINT_PRIMARY_PORT: String(port),
      SETPOINT_REPLICATION_USER: "streaming_replica",
      // Not what authenticates it (the certificate does): the replication Secret's password stays in the contract.
      SETPOINT_REPLICATION_PASSWORD: "not-used-by-cert-auth",
      SETPOINT_REPLICATION_SLOT: "orders_2",
      SETPOINT_TLS_CLIENT_DIR: clientVolume,
      SETPOINT_TLS_SERVER_NAME: SERVER_NAME,
    };
    const replica = startManager(["run", ...serverArgs], replicaEnv, identity);
    try {
      await waitReady(replicaEnv, replica);
      expect(replica.output()).toContain('"event":"cloned"');
      let row = "";
      for (let i = 0; i < 100; i++) {
        row = await admin("select r.state, s.ssl, s.version, s.client_dn from pg_stat_replication r join pg_stat_ssl s using (pid)");
        if (row.includes("streaming")) break;
        await sleep(200);
      }
      expect(JSON.parse(row)).toEqual({ state: "streaming", ssl: true, version: "TLSv1.3", client_dn: "/CN=streaming_replica" });
    } finally {
      replica.child.kill("SIGTERM");
      expect(await replica.exited).toBe(0);
    }
  });

  it("puts back a pg_hba.conf edited by hand at its next check, by a reload", async () => {
    appendFileSync(join(runtimeDir, "pg_hba.conf"), "host all all 127.0.0.1/32 trust\n");
    expect(await admin("select pg_reload_conf() as ok")).toBe('{"ok":true}');
    // The hole exists until the manager's check (300 ms here) and is closed after it.
    let plaintext = "";
    for (let i = 0; i < 50; i++) {
      await sleep(200);
      plaintext = await attempt({ ...tcp, user: "app", password: appPassword, ssl: false });
      if (plaintext.includes("no encryption")) break;
    }
    expect(plaintext).toBe(`no pg_hba.conf entry for host "127.0.0.1", user "app", database "postgres", no encryption`);
    expect(readFileSync(join(runtimeDir, "pg_hba.conf"), "utf8")).toBe(readFileSync(hbaSource, "utf8"));
    expect(primary!.output()).toContain('"event":"reloaded"');
  });

  it("rotates the server certificate under a live writer: reloads only, 0 failed transactions, 0 lost rows", async () => {
    expect(await admin("create table ledger (n int primary key)")).toBeDefined();
    const serialOf = async (): Promise<string> => {
      const c = pgClient({ ...tcp, user: "app", password: appPassword, ssl: verified() });
      await c.connect();
      try {
        return (c as unknown as { connection: { stream: { getPeerCertificate(): { serialNumber: string } } } }).connection.stream.getPeerCertificate().serialNumber;
      } finally {
        await c.end();
      }
    };
    await admin("grant insert, select on ledger to app");
    const postmasterStart = await admin("select pg_postmaster_start_time()::text as t");
    const serials = [await serialOf()];
    const writer = startLedgerWriter("ledger", verified());
    for (let i = 0; i < 3; i++) {
      await sleep(400);
      const next = server();
      writeSecretVolume(serverVolume, { "tls.crt": next.certificatePem, "tls.key": next.privateKeyPem, "ca.crt": ca.certificatePem });
      let serial = serials.at(-1)!;
      for (let k = 0; k < 50 && serial === serials.at(-1); k++) {
        await sleep(100);
        serial = await serialOf();
      }
      serials.push(serial);
    }
    await writer.stop();
    const { committed, failed } = writer.counts;
    process.stdout.write(`rotation (PostgreSQL ${major}): ${serials.length - 1} renewals, ${committed} committed, ${failed} failed\n`);
    expect(new Set(serials).size).toBe(4);
    expect(failed).toBe(0);
    expect(committed).toBeGreaterThan(0);
    expect(await admin("select count(*)::int as n, max(n) as m from ledger")).toBe(JSON.stringify({ n: committed, m: committed }));
    // Reloads, never a restart.
    expect(await admin("select pg_postmaster_start_time()::text as t")).toBe(postmasterStart);
  });

  it("rotates the authority under a live writer, new handshakes and a streaming replica (ADR 0049): 0 failures; then the old authority's certificates are refused", async () => {
    const fresh = createCertificateAuthority({ commonName: "orders ca 2" });
    const both = trustBundle(fresh.certificatePem, ca.certificatePem);
    // Where the rotation starts: the server's certificate and ca.crt of the current authority.
    const serverNow = server();
    writeSecretVolume(serverVolume, { "tls.crt": serverNow.certificatePem, "tls.key": serverNow.privateKeyPem, "ca.crt": ca.certificatePem });
    // The replica is another pod: its own copy of the server Secret's volume, updated at its own moment.
    const replicaServerVolume = dir(`pg${major}`, "replica-server-tls");
    writeSecretVolume(replicaServerVolume, { "tls.crt": serverNow.certificatePem, "tls.key": serverNow.privateKeyPem, "ca.crt": ca.certificatePem });
    writeSecretVolume(clientVolume, { "tls.crt": replicationCert.certificatePem, "tls.key": replicationCert.privateKeyPem });
    await admin("create table rotation (n int primary key)");
    await admin("grant insert, select on rotation to app");
    await admin("select pg_create_physical_replication_slot('orders_3', true)");
    const replicaPort = nextPort++;
    const replicaEnv: Record<string, string> = {
      ...env,
      PGDATA: join(dir(`pg${major}`, "replica3-volume"), "pgdata"),
      PGPORT: String(replicaPort),
      SETPOINT_SOCKET_DIR: dir(`pg${major}`, "replica3-run"),
      SETPOINT_RUNTIME_DIR: join(dir(`pg${major}`, "replica3-run"), "setpoint"),
      SETPOINT_ROLE: "replica",
      SETPOINT_POD_UID: "pod-3",
      SETPOINT_PRIMARY_HOST: "127.0.0.1",
      SETPOINT_PRIMARY_PORT: String(port),
      SETPOINT_REPLICATION_USER: "streaming_replica",
      SETPOINT_REPLICATION_PASSWORD: "not-used-by-cert-auth",
      SETPOINT_REPLICATION_SLOT: "orders_3",
      SETPOINT_TLS_CLIENT_DIR: clientVolume,
      SETPOINT_TLS_SERVER_DIR: replicaServerVolume,
      SETPOINT_TLS_SERVER_NAME: SERVER_NAME,
    };
    // The walreceiver retries every 200 ms instead of 5 s: the test makes it reconnect after each step.
    const replica = startManager(["run", ...serverArgs, "-c", "wal_retrieve_retry_interval=200ms"], replicaEnv, identity);
    /** Ends the primary's walsender and waits until the replica streams again over TLS with the replication role's certificate: a new handshake both ways. */
    const reconnectReplica = async (): Promise<string> => {
      const before = JSON.parse(await admin("select coalesce(json_agg(pid), '[]') as p from pg_stat_replication")) as { p: number[] };
      await admin("select pg_terminate_backend(pid) from pg_stat_replication");
      // A new walsender (not one just told to end), streaming, that has heard from the replica.
      const look = `select r.state, s.ssl, s.client_dn, coalesce(r.reply_time > now() - interval '5 s', false) as live from pg_stat_replication r join pg_stat_ssl s using (pid) where r.pid <> all('{${before.p.join(",")}}'::int[])`;
      let row = "";
      for (let i = 0; i < 300; i++) {
        await sleep(100);
        row = await admin(look);
        if (row.includes('"streaming"') && row.includes('"live":true')) return row;
      }
      return `${row} after 30 s; replica: ${replica.output().slice(-3000)}`;
    };
    try {
      await waitReady(replicaEnv, replica);
      const streaming = JSON.stringify({ state: "streaming", ssl: true, client_dn: "/CN=streaming_replica", live: true });
      // The application's ca.crt (the app Secret): what new connections verify the server with.
      let appTrust = ca.certificatePem;
      let handshakes = 0;
      const handshakeErrors: string[] = [];
      let stop = false;
      // The ca given at connect time: the application's trust when the session began.
      const writer = startLedgerWriter("rotation", { ca: appTrust, servername: SERVER_NAME });
      const handshaker = (async () => {
        while (!stop) {
          const r = await attempt({ ...tcp, user: "app", password: appPassword, ssl: { ca: appTrust, servername: SERVER_NAME } });
          handshakes++;
          if (!r.includes('"u":"app"')) handshakeErrors.push(r);
          await sleep(50);
        }
      })();
      const steps: Record<string, string> = {};
      // Step 1: every ca.crt becomes the bundle of both authorities; no certificate changes.
      appTrust = both;
      writeSecretVolume(serverVolume, { "tls.crt": serverNow.certificatePem, "tls.key": serverNow.privateKeyPem, "ca.crt": both });
      await sleep(400);
      writeSecretVolume(replicaServerVolume, { "tls.crt": serverNow.certificatePem, "tls.key": serverNow.privateKeyPem, "ca.crt": both });
      await sleep(400);
      steps.bundle = await reconnectReplica();
      // Step 2: the leaves move to the new authority — the primary's first, the replica's client certificate next, its server volume last.
      const serverNew = issueCertificate(fresh, { commonName: "orders", usage: "server", altNames: [SERVER_NAME, "orders-rw"] });
      const replicationNew = issueCertificate(fresh, { commonName: "streaming_replica", usage: "client" });
      writeSecretVolume(serverVolume, { "tls.crt": serverNew.certificatePem, "tls.key": serverNew.privateKeyPem, "ca.crt": both });
      await sleep(400);
      steps.serverMoved = await reconnectReplica();
      writeSecretVolume(clientVolume, { "tls.crt": replicationNew.certificatePem, "tls.key": replicationNew.privateKeyPem });
      await sleep(400);
      steps.clientMoved = await reconnectReplica();
      writeSecretVolume(replicaServerVolume, { "tls.crt": serverNew.certificatePem, "tls.key": serverNew.privateKeyPem, "ca.crt": both });
      await sleep(400);
      // Step 3: the old authority leaves every ca.crt.
      writeSecretVolume(serverVolume, { "tls.crt": serverNew.certificatePem, "tls.key": serverNew.privateKeyPem, "ca.crt": fresh.certificatePem });
      await sleep(400);
      steps.retiredOnPrimary = await reconnectReplica();
      writeSecretVolume(replicaServerVolume, { "tls.crt": serverNew.certificatePem, "tls.key": serverNew.privateKeyPem, "ca.crt": fresh.certificatePem });
      appTrust = fresh.certificatePem;
      await sleep(400);
      steps.retired = await reconnectReplica();
      stop = true;
      await Promise.all([writer.stop(), handshaker]);
      const { committed, failed } = writer.counts;
      process.stdout.write(`authority rotation (PostgreSQL ${major}): ${committed} committed, ${failed} failed, ${handshakes} handshakes, ${handshakeErrors.length} refused\n`);
      expect(steps).toEqual({ bundle: streaming, serverMoved: streaming, clientMoved: streaming, retiredOnPrimary: streaming, retired: streaming });
      expect(failed).toBe(0);
      expect(handshakeErrors).toEqual([]);
      expect(handshakes).toBeGreaterThan(10);
      expect(committed).toBeGreaterThan(0);
      expect(await admin("select count(*)::int as n, max(n) as m from rotation")).toBe(JSON.stringify({ n: committed, m: committed }));
      // Every committed row reached the replica.
      const lsn = JSON.parse(await admin("select pg_current_wal_lsn()::text as l")) as { l: string };
      const onReplica = pgClient({ host: replicaEnv.SETPOINT_SOCKET_DIR, port: replicaPort, user: "postgres", database: "postgres" });
      await onReplica.connect();
      try {
        for (let i = 0; i < 100; i++) {
          const r = await onReplica.query<{ caught: boolean }>("select pg_last_wal_replay_lsn() >= $1::pg_lsn as caught", [lsn.l]);
          if (r.rows[0]!.caught) break;
          await sleep(100);
        }
        expect((await onReplica.query<{ n: number }>("select count(*)::int as n from rotation")).rows[0]!.n).toBe(committed);
      } finally {
        await onReplica.end();
      }
      // The server now presents the new authority's certificate, and the old authority admits no one.
      expect(await attempt({ ...tcp, user: "app", password: appPassword, ssl: { ca: ca.certificatePem, servername: SERVER_NAME } })).toMatch(/self[- ]signed certificate|unable to (get|verify)/);
      expect(await attempt({ ...tcp, ...physical, user: "streaming_replica", ssl: { ca: fresh.certificatePem, servername: SERVER_NAME, cert: replicationCert.certificatePem, key: replicationCert.privateKeyPem } })).toMatch(/alert unknown ca/);
    } finally {
      replica.child.kill("SIGTERM");
      await replica.exited;
    }
  });
});
