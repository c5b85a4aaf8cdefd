// Test harness for a real S3-compatible server: SeaweedFS's `weed server -s3` (from `npm run
// toolchain`, group s3) on loopback, with an identity config so that only its own access key is
// accepted. Each server lives in a temp directory holding its data, log, pid and owner; a server
// left by a killed test run is stopped and swept the next time one starts.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import type { ObjectStoreOptions } from "../../sdk/backup/config";
import { isProcessAlive } from "../../sdk/postgres/embedded";
import { loadToolchain } from "./control-plane";

const PREFIX = "setpoint-s3-";
const OWNER_FILE = "owner.json";
const PID_FILE = "weed.pid";

/** A running SeaweedFS server with an S3 endpoint. */
export interface S3Server {
  /** S3 endpoint URL, e.g. http://127.0.0.1:41234. */
  endpoint: string;
  /** The only access key the server accepts (with `secretAccessKey`). */
  accessKeyId: string;
  secretAccessKey: string;
  /** The server's pid, to assert it is gone after stop(). */
  pid: number;
  /** The server's directory (data, log, identity config). */
  dir: string;
  /** Creates a bucket (idempotent). */
  createBucket(name: string): Promise<void>;
  /** Object store options for `bucket` and `prefix` with this server's credentials given in code. */
  store(bucket: string, prefix?: string): ObjectStoreOptions;
  /** Stops the server (SIGTERM, SIGKILL after 10 s) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const running = new Map<string, ChildProcess>();
let hooksInstalled = false;

/** Where a server listens. */
export interface S3ServerOptions {
  /**
   * The local address it binds and advertises: loopback, or an address of the test's own network
   * (a real node's bridge: `RealNode.nodeIp`) so that pods reach it; never a routable one.
   * @default 127.0.0.1
   */
  host?: string;
}

/**
 * Starts `weed server -s3` on free ports of `options.host` with a fresh identity (access key and secret).
 * @param weed path of the `weed` binary. @default the toolchain's
 * @throws {Error} when the binary is missing or the S3 endpoint does not answer within 60 s.
 */
export async function startS3Server(weed: string | undefined = loadToolchain()?.tools.weed?.path, options: S3ServerOptions = {}): Promise<S3Server> {
  const host = options.host ?? "127.0.0.1";
  if (!weed) throw new Error("weed (SeaweedFS) is not built; run `npm run toolchain`");
  sweepAbandonedS3Servers();
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid }));
  const accessKeyId = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
  const secretAccessKey = randomBytes(24).toString("base64url");
  const identities = {
    identities: [{ name: "setpoint-test", credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }], actions: ["Admin", "Read", "Write", "List", "Tagging"] }],
  };
  writeFileSync(join(dir, "s3.json"), JSON.stringify(identities), { mode: 0o600 });
  const [master, volume, filer, s3, masterGrpc, volumeGrpc, filerGrpc, s3Grpc] = await freePorts(8, host);
  const args = [
    "server",
    `-dir=${join(dir, "data")}`,
    `-ip=${host}`,
    `-ip.bind=${host}`,
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    "-master.volumeSizeLimitMB=512",
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    "-volume.max=0",
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    "-s3",
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    `-s3.config=${join(dir, "s3.json")}`,
    // A missing bucket must stay missing (the backup tests' bad-input case), and no fixed ports.
    "-s3.autoCreateBucket=false",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
  ];
  mkdirSync(join(dir, "data"));
  const log = openSync(join(dir, "weed.log"), "a");
  const child = spawn(weed, args, { stdio: ["ignore", log, log], cwd: dir });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${weed}`);
  writeFileSync(join(dir, PID_FILE), String(child.pid));
  running.set(dir, child);
  const endpoint = `http://${host}:${s3}`;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"; // as sdk/backup/store.ts
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const stop = async (): Promise<void> => {
    client.destroy();
    await stopChild(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`weed exited during startup: ${tail(join(dir, "weed.log"))}`);
      try {
        await client.send(new ListBucketsCommand({}));
        // The S3 gateway answers before the filer can store objects: probe with a bucket round trip.
        await client.send(new CreateBucketCommand({ Bucket: "setpoint-probe" }));
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`weed's S3 endpoint ${endpoint} did not answer within 60 s: ${(err as Error).message}; ${tail(join(dir, "weed.log"))}`);
        await sleep(250);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    pid: child.pid,
    dir,
    createBucket: async (name) => {
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } catch (err) {
        const n = (err as Error).name;
        if (n !== "BucketAlreadyOwnedByYou" && n !== "BucketAlreadyExists") throw err;
      }
    },
    store: (bucket, prefix) => ({
      endpoint,
      bucket,
      ...(prefix === undefined ? {} : { prefix }),
      credentials: { kind: "static", accessKeyId, secretAccessKey },
    }),
    stop,
  };
}

async function stopChild(dir: string): Promise<void> {
  const child = running.get(dir);
  running.delete(dir);
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = (): void => {
    for (const [dir, child] of running) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
    running.clear();
  };
  process.on("exit", killAll);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(signal, () => {
      killAll();
      if (process.listenerCount(signal) <= 1) process.exit(code);
    });
  }
}

/**
 * Stops and removes servers whose owning process is gone (a test run killed outright). A pid is
 * killed only while /proc says it is still `weed`, so a reused pid is never touched.
 * @returns how many directories were swept.
 */
export function sweepAbandonedS3Servers(baseDir: string = tmpdir()): number {
  let swept = 0;
  for (const entry of readdirSync(baseDir).filter((e) => e.startsWith(PREFIX))) {
    const dir = join(baseDir, entry);
    let owner: number | undefined;
    try {
      owner = (JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8")) as { pid: number }).pid;
    } catch {
      continue;
    }
    if (isProcessAlive(owner)) continue;
    const pidFile = join(dir, PID_FILE);
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, "utf8"));
      if (Number.isInteger(pid) && pid > 0 && isWeed(pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // raced with its exit
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
    swept++;
  }
  return swept;
}

function isWeed(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!.endsWith("weed") && isProcessAlive(pid);
  } catch {
    return false;
  }
}

async function freePorts(n: number, host: string): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const srv = createServer();
      srv.on("error", reject);
      srv.listen(0, host, () => resolve(srv));
    })),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === "object" && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").slice(-1500);
  } catch {
    return "(no log)";
  }
}
