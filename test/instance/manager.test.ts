// The instance manager (sdk/instance/main.ts) on real PostgreSQL of every major, run as a local
// process the way a container runs it: as a uid without a passwd entry (nss_wrapper), its
// settings from the environment, Setpoint's hba file as a server argument.
// - `run` on an empty PGDATA of a primary: initdb with Setpoint's options (checksums, UTF8,
//   C.UTF-8, SCRAM over TCP, trust on the local socket only), the superuser's password from the
//   environment through a file: nowhere on a command line or in the output; `ready` answers;
//   SIGTERM is a fast shutdown and the manager exits 0.
// - the same pod restarted: the data as it is; a replica pod on that data: a standby; the server
//   killed: the manager exits with 137, as a container does.
// - the status endpoint (ADR 0026): /readyz answers 200 with the role the server plays, 503 while
//   the server does not answer (its processes stopped), /livez while the manager runs; no secret.
// - `run` on an empty PGDATA of a replica: a clone of the primary over the replication protocol
//   (as the cluster's replication role, through its slot), started as a streaming standby.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { instanceHba } from "../../sdk/instance/hba";
import { tmpdir } from "node:os";
import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pgClient } from "../../sdk/postgres/client";
import { afterAll, describe, expect, it } from "vitest";
import { hasPasswdEntry, randomPassword } from "../../sdk/postgres/embedded";
import { REPLICATION_USER } from "../../sdk/operator/cluster/objects";
import { podMarkerPath } from "../../sdk/instance/prepare";
import { majors } from "../support/postgres";
import { runManager, startManager, type ManagerProcess } from "../support/instance";

const root = mkdtempSync(join(tmpdir(), "setpoint-instance-test-"));
chmodSync(root, 0o755); // the manager's user traverses it
afterAll(() => rmSync(root, { recursive: true, force: true }));
// A uid and gid without a passwd entry, as an arbitrary runAsUser in a container.
const uid = [4242, 4343, 4444, 5151].find((u) => !hasPasswdEntry(u))!;
const identity = process.getuid?.() === 0 ? { uid, gid: uid } : undefined;

function dir(...parts: string[]): string {
  const d = join(root, ...parts);
  mkdirSync(d, { recursive: true, mode: 0o755 });
  if (identity) chownSync(d, identity.uid, identity.gid);
  return d;
}

async function waitReady(env: Record<string, string>, server: ManagerProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = await runManager(["ready"], env, identity);
    if (r.code === 0) return;
    if (server.child.exitCode !== null) throw new Error(`the manager exited: ${server.output()}`);
    await sleep(200);
  }
  throw new Error(`not ready: ${server.output()}`);
}

async function tcp(port: number, password: string | undefined): Promise<string> {
  const c = pgClient({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres", connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    const r = await c.query<{ enc: string; cks: string; coll: string }>(
      "select pg_encoding_to_char(encoding) as enc, current_setting('data_checksums') as cks, datcollate as coll from pg_database where datname = 'postgres'",
    );
    return JSON.stringify(r.rows[0]);
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function commandLines(): string {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
      } catch {
        return "";
      }
    })
    .join("\n");
}

let nextPort = 25_400 + Math.floor(Math.random() * 1000);

describe.each(majors())("instance manager on PostgreSQL %i", (major) => {
  const password = randomPassword();
  const base = dir(`pg${major}`);
  const socketDir = dir(`pg${major}`, "run");
  const hba = join(base, "pg_hba.conf");
  writeFileSync(hba, instanceHba({ replicationUser: REPLICATION_USER }) /* the password variant: this server runs without TLS */, { mode: 0o644 });
  const port = nextPort++;
  const pgdata = join(dir(`pg${major}`, "volume"), "pgdata");
  const env = (over: Record<string, string> = {}): Record<string, string> => ({
    PGDATA: pgdata,
    SETPOINT_POSTGRES_MAJOR: String(major),
    SETPOINT_ROLE: "primary",
    SETPOINT_POD_UID: "pod-a",
    SETPOINT_SUPERUSER_PASSWORD: password,
    PGPORT: String(port),
    SETPOINT_LISTEN_ADDRESSES: "127.0.0.1",
    SETPOINT_SOCKET_DIR: socketDir,
    ...over,
  });
  const serverArgs = ["-c", `hba_file=${hba}`, "-c", "fsync=off"];
  let running: ManagerProcess | undefined;
  afterAll(() => {
    running?.child.kill("SIGKILL");
  });

  it("bootstraps an empty PGDATA with Setpoint's initdb options, answers ready, and stops fast on SIGTERM", async () => {
    expect((await runManager(["ready"], env(), identity)).code).toBe(1);
    running = startManager(["run", ...serverArgs], env(), identity);
    await waitReady(env(), running);
    const seen = commandLines();
    expect(seen).toContain("hba_file=");
    expect(seen).not.toContain(password);
    expect(JSON.parse(await tcp(port, password))).toEqual({ enc: "UTF8", cks: "on", coll: "C.UTF-8" });
    expect(await tcp(port, `${password}x`)).toMatch(/password authentication failed/);
    expect(await tcp(port, undefined)).toMatch(/password|SASL/i);
    expect(readFileSync(podMarkerPath(pgdata), "utf8").trim()).toBe("pod-a");
    running.child.kill("SIGTERM");
    expect(await running.exited).toBe(0);
    const out = running.output();
    expect(out).toContain('"kind":"initdb"');
    expect(out).not.toContain(password);
    expect(readdirSync(join(pgdata, ".."))).toEqual(expect.not.arrayContaining([".pgdata.initdb"]));
    expect((await runManager(["ready"], env(), identity)).code).toBe(1);
  });

  it("starts a new PGDATA with the cluster's parameters (parameters.json), leaving out what PostgreSQL refuses", async () => {
    const volume = dir(`pg${major}`, "volume-params");
    const params = join(base, "parameters.json");
    // Restart parameters (max_connections, shared_buffers, cluster_name with a quote and a backslash)
    // and three PostgreSQL refuses: a bad value, an unknown name, a malformed name.
    writeFileSync(params, JSON.stringify({ max_connections: "77", shared_buffers: "16MB", cluster_name: "it's a \\ test", work_mem: "lots", no_such_parameter: "1", "bad name": "x" }), { mode: 0o644 });
    const own = env({ PGDATA: join(volume, "pgdata"), PGPORT: String(port + 500), SETPOINT_PARAMETERS_SOURCE: params });
    const server = startManager(["run", ...serverArgs], own, identity);
    try {
      await waitReady(own, server);
      const c = pgClient({ host: "127.0.0.1", port: port + 500, user: "postgres", password, database: "postgres" });
      await c.connect();
      try {
        const r = await c.query<{ mc: string; sb: string; cn: string; pending: string; errors: string }>(
          "select current_setting('max_connections') as mc, current_setting('shared_buffers') as sb, current_setting('cluster_name') as cn, " +
            "(select count(*) from pg_settings where pending_restart)::text as pending, (select count(*) from pg_file_settings where error is not null)::text as errors",
        );
        // The first start ran them: nothing waits for a restart, no line of the files is in error.
        expect(r.rows[0]).toEqual({ mc: "77", sb: "16MB", cn: "it's a \\ test", pending: "0", errors: "0" });
      } finally {
        await c.end();
      }
      const logged = server
        .output()
        .split("\n")
        .map((l) => {
          try {
            return JSON.parse(l) as { msg?: string; written?: string[]; refused?: { name: string; message: string }[] };
          } catch {
            return {};
          }
        })
        .find((l) => l.refused !== undefined);
      expect(logged?.written).toEqual(["cluster_name", "max_connections", "shared_buffers"]);
      expect(logged?.refused?.map((x) => x.name)).toEqual(["bad name", "no_such_parameter", "work_mem"]);
      expect(logged?.refused?.find((x) => x.name === "work_mem")?.message).toMatch(/work_mem/);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });

  it("restarts on its data; a replica pod on existing data starts it as a standby; a killed server fails the container", async () => {
    running = startManager(["run", ...serverArgs], env(), identity);
    await waitReady(env(), running);
    running.child.kill("SIGTERM");
    expect(await running.exited).toBe(0);
    expect(running.output()).toContain('"kind":"start"');

    const replica = env({
      SETPOINT_ROLE: "replica",
      SETPOINT_POD_UID: "pod-b",
      SETPOINT_PRIMARY_HOST: "127.0.0.1",
      SETPOINT_PRIMARY_PORT: "1",
      SETPOINT_REPLICATION_USER: "streaming_replica",
      SETPOINT_REPLICATION_PASSWORD: "unused",
      SETPOINT_REPLICATION_SLOT: "x_2",
    });
    running = startManager(["run", ...serverArgs], replica, identity);
    await waitReady(replica, running);
    expect(running.output()).toContain('"kind":"standby"');
    const c = pgClient({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
    await c.connect();
    const r = await c.query<{ r: boolean }>("select pg_is_in_recovery() as r");
    await c.end();
    expect(r.rows[0]!.r).toBe(true);
    const postmaster = Number(readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
    process.kill(postmaster, "SIGKILL");
    expect(await running.exited).toBe(137);
    running = undefined;
  });

  it("answers the kubelet's probes on its status endpoint from the server it supervises (role, an unanswering server, stopped)", async () => {
    const statusPort = nextPort++;
    const url = (p: string): string => `http://127.0.0.1:${String(statusPort)}${p}`;
    const get = async (p: string, method = "GET"): Promise<{ code: number; body: string }> => {
      try {
        const r = await fetch(url(p), { method, signal: AbortSignal.timeout(5000) });
        return { code: r.status, body: await r.text() };
      } catch (err) {
        return { code: 0, body: (err as Error).message };
      }
    };
    const until = async (p: string, want: (r: { code: number; body: string }) => boolean): Promise<{ code: number; body: string }> => {
      let last = { code: 0, body: "" };
      for (let i = 0; i < 300; i++) {
        last = await get(p);
        if (want(last)) return last;
        await sleep(100);
      }
      throw new Error(`${p} never answered as expected; last ${JSON.stringify(last)}: ${running?.output() ?? ""}`);
    };
    const replica = env({
      SETPOINT_ROLE: "replica",
      SETPOINT_POD_UID: "pod-s",
      SETPOINT_PRIMARY_HOST: "127.0.0.1",
      SETPOINT_PRIMARY_PORT: "1",
      SETPOINT_REPLICATION_USER: "streaming_replica",
      SETPOINT_REPLICATION_PASSWORD: "repl-secret-value",
      SETPOINT_REPLICATION_SLOT: "x_2",
      SETPOINT_STATUS_ADDRESS: "127.0.0.1",
      SETPOINT_STATUS_PORT: String(statusPort),
    });
    running = startManager(["run", ...serverArgs], replica, identity);
    const ready = await until("/readyz", (r) => r.code === 200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true, phase: "running", role: "replica" });
    expect(running.output()).toContain('"event":"status endpoint"');
    expect((await get("/livez")).code).toBe(200);
    expect((await get("/readyz", "POST")).code).toBe(405);
    expect((await get("/env")).code).toBe(404);
    // A server that no longer answers (every process stopped, as a hung one) is unready, while the manager stays alive.
    const postmaster = Number(readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
    process.kill(postmaster, "SIGSTOP");
    try {
      const down = await until("/readyz", (r) => r.code === 503);
      expect(JSON.parse(down.body)).toMatchObject({ ready: false, phase: "running" });
      expect((await get("/livez")).code).toBe(200);
    } finally {
      process.kill(postmaster, "SIGCONT");
    }
    await until("/readyz", (r) => r.code === 200);
    for (const secret of [password, "repl-secret-value"]) expect(`${ready.body}${running.output()}`).not.toContain(secret);
    running.child.kill("SIGTERM");
    expect(await running.exited).toBe(0);
    running = undefined;
    expect((await get("/livez")).code).toBe(0); // the endpoint went with the manager
  });

  it("refuses a PGDATA holding files that are not a data directory, and names what is missing", async () => {
    const foreign = join(dir(`pg${major}`, "foreign"), "pgdata");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "notes.txt"), "keep me");
    if (identity) chownSync(foreign, identity.uid, identity.gid);
    const r = await runManager(["run"], env({ PGDATA: foreign }), identity);
    expect(r.code).toBe(1);
    expect(r.output).toContain("not a PostgreSQL data directory");
    expect(readFileSync(join(foreign, "notes.txt"), "utf8")).toBe("keep me");
    const bad = await runManager(["run"], env({ SETPOINT_ROLE: "leader" }), identity);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('SETPOINT_ROLE must be \\"primary\\" or \\"replica\\"');
  });

  it("clones an empty replica PGDATA from the primary and streams from it through its slot", async () => {
    const primaryData = join(dir(`pg${major}`, "primary-volume"), "pgdata");
    const primaryEnv = env({ PGDATA: primaryData, SETPOINT_POD_UID: "pod-p" });
    const primary = startManager(["run", ...serverArgs], primaryEnv, identity);
    running = primary;
    await waitReady(primaryEnv, primary);
    const c = pgClient({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
    await c.connect();
    try {
      await c.query("create role streaming_replica login replication password 'repl-pw'");
      await c.query("select pg_create_physical_replication_slot('pod_2', true)");
      await c.query("create table kept (n int); insert into kept values (1)");
    } finally {
      await c.end();
    }
    const replicaPort = nextPort++;
    const replicaEnv = env({
      PGDATA: join(dir(`pg${major}`, "replica-volume"), "pgdata"),
      PGPORT: String(replicaPort),
      SETPOINT_SOCKET_DIR: dir(`pg${major}`, "replica-run"),
      SETPOINT_ROLE: "replica",
      SETPOINT_POD_UID: "pod-r",
      SETPOINT_PRIMARY_HOST: "127.0.0.1",
      SETPOINT_PRIMARY_PORT: String(port),
      SETPOINT_REPLICATION_USER: "streaming_replica",
      SETPOINT_REPLICATION_PASSWORD: "repl-pw",
      SETPOINT_REPLICATION_SLOT: "pod_2",
    });
    const replica = startManager(["run", ...serverArgs], replicaEnv, identity);
    try {
      await waitReady(replicaEnv, replica);
      expect(replica.output()).toContain('"event":"cloned"');
      expect(replica.output()).not.toContain("repl-pw");
      const r = pgClient({ host: "127.0.0.1", port: replicaPort, user: "postgres", password, database: "postgres" });
      await r.connect();
      try {
        expect((await r.query("select pg_is_in_recovery() as r, n from kept")).rows).toEqual([{ r: true, n: 1 }]);
      } finally {
        await r.end();
      }
      const p = pgClient({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
      await p.connect();
      try {
        for (let i = 0; i < 100; i++) {
          const rows = (await p.query<{ application_name: string; state: string }>("select application_name, state from pg_stat_replication")).rows;
          if (rows.length === 1 && rows[0]!.state === "streaming") break;
          await sleep(200);
        }
        expect((await p.query("select application_name, state from pg_stat_replication")).rows).toEqual([{ application_name: "pod_2", state: "streaming" }]);
        expect((await p.query("select active from pg_replication_slots where slot_name = 'pod_2'")).rows).toEqual([{ active: true }]);
      } finally {
        await p.end();
      }
    } finally {
      replica.child.kill("SIGTERM");
      expect(await replica.exited).toBe(0);
      primary.child.kill("SIGTERM");
      expect(await primary.exited).toBe(0);
      running = undefined;
    }
  });
});

// A container's PID 1 gets no default action for SIGTERM: without a handler the kubelet's stop
// signal is ignored and it waits out the grace period before SIGKILL. The manager stopped while it
// prepares PGDATA (here a clone whose primary accepts the connection and never answers) exits at
// once (ADR 0038: a fenced primary whose container was just restarted). Run as PID 1 of a PID
// namespace of its own, as in a container (root only: unshare).
describe.skipIf(identity === undefined)("instance manager as a container's PID 1", () => {
  it("exits at once on SIGTERM while it prepares PGDATA, before postgres runs", async () => {
    const major = majors()[0]!;
    const silent = createServer(() => undefined); // accepts, never answers: the clone waits
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", res));
    const sourcePort = (silent.address() as AddressInfo).port;
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => /^SETPOINT_(POSTGRES_CACHE_DIR|NSS_WRAPPER|PG1\d_BIN_DIR)$/.test(k))),
      SETPOINT_POSTGRES_INSTALL: "never",
      PGDATA: join(dir("pid1", "volume"), "pgdata"),
      SETPOINT_POSTGRES_MAJOR: String(major),
      SETPOINT_ROLE: "replica",
      SETPOINT_POD_UID: "pod-pid1",
      SETPOINT_SUPERUSER_PASSWORD: randomPassword(),
      PGPORT: String(nextPort++),
      SETPOINT_LISTEN_ADDRESSES: "127.0.0.1",
      SETPOINT_SOCKET_DIR: dir("pid1", "run"),
      SETPOINT_PRIMARY_HOST: "127.0.0.1",
      SETPOINT_PRIMARY_PORT: String(sourcePort),
      SETPOINT_REPLICATION_USER: "streaming_replica",
      SETPOINT_REPLICATION_PASSWORD: "repl-pw",
      SETPOINT_REPLICATION_SLOT: "pod_9",
    };
    const child = spawn(
      "unshare",
      ["--pid", "--fork", "--kill-child", "--", "setpriv", `--reuid=${identity!.uid}`, `--regid=${identity!.gid}`, "--clear-groups", process.execPath, "--import", "tsx", resolve(__dirname, "../../sdk/instance/main.ts"), "run"],
      { env, cwd: resolve(__dirname, "../.."), stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
    try {
      for (let i = 0; i < 300 && !out.includes('"kind":"clone"'); i++) await sleep(100);
      expect(out).toContain('"kind":"clone"');
      // The manager is PID 1 inside: the child of unshare's forked process outside.
      const inner = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/)[0]);
      expect(readFileSync(`/proc/${inner}/status`, "utf8")).toMatch(/^NSpid:\s+\d+\s+1$/m);
      const t = Date.now();
      process.kill(inner, "SIGTERM");
      const stopped = await Promise.race([exited.then(() => Date.now() - t), sleep(5000).then(() => undefined)]);
      // Without a handler it would run on until the clone's 10 s connect timeout.
      expect(stopped, out).toBeDefined();
      expect(stopped!).toBeLessThan(5000);
      expect(out).toContain('"event":"stopped before postgres started","signal":"SIGTERM"');
    } finally {
      child.kill("SIGKILL");
      silent.close();
    }
  }, 60_000);
});
