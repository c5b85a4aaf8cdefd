// The S3 harness itself: a real SeaweedFS server that refuses a wrong key, keeps a missing bucket
// missing, and leaves no process or directory behind (also when its owner was killed).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { readCatalog } from "../../sdk/backup/catalog";
import { openObjectStore } from "../../sdk/backup/store";
import { BackupError } from "../../sdk/errors";
import { isProcessAlive } from "../../sdk/postgres/embedded";
import { toolchainOrSkip } from "../support/control-plane";
import { startS3Server, sweepAbandonedS3Servers } from "../support/s3";

const tc = toolchainOrSkip(["weed"]);

async function reason(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BackupError);
  return (err as BackupError).reason;
}

describe.skipIf(tc.skip !== undefined)("S3 harness (SeaweedFS)", () => {
  it("serves S3 with its own key only, keeps a missing bucket missing, and stops without a trace", async () => {
    const s3 = await startS3Server(tc.env!.tools.weed!.path);
    try {
      await s3.createBucket("good");
      const store = openObjectStore(s3.store("good", "p"));
      await store.put("a/b", Buffer.from("hello"), { "setpoint-x": "1" });
      expect((await store.get("a/b"))?.body.toString()).toBe("hello");
      expect((await store.head("a/b"))?.metadata["setpoint-x"]).toBe("1");
      expect(await store.head("a/missing")).toBeUndefined();
      const listed = [];
      for await (const o of store.list("a/")) listed.push(o.key);
      expect(listed).toEqual(["a/b"]);
      // A stream of unknown length goes up in 16 MiB parts, four at a time, and comes back whole and in order.
      const big = randomBytes(40 * 1024 * 1024 + 123);
      const chunks = (): AsyncIterable<Buffer> =>
        (async function* () {
          for (let at = 0; at < big.length; at += 1_000_000) yield big.subarray(at, Math.min(at + 1_000_000, big.length));
        })();
      expect(await store.upload("big", chunks(), { "setpoint-x": "2" })).toBe(big.length);
      const back = await store.get("big");
      expect(back?.body.equals(big)).toBe(true);
      expect(back?.info.metadata["setpoint-x"]).toBe("2");
      // Smaller parts, more in flight (parts finish out of order; the object is still in order).
      expect(await store.upload("big5", chunks(), {}, { partBytes: 5 * 1024 * 1024, partsInFlight: 8 })).toBe(big.length);
      expect((await store.get("big5"))?.body.equals(big)).toBe(true);
      await expect(store.upload("bad", chunks(), {}, { partBytes: 1024 })).rejects.toThrow(/partBytes must be an integer from 5 MiB to 5 GiB/);
      await expect(store.upload("bad", chunks(), {}, { partsInFlight: 0 })).rejects.toThrow(/partsInFlight must be a positive integer/);
      expect(await store.head("bad")).toBeUndefined();
      store.close();

      const wrong = openObjectStore({ ...s3.store("good"), credentials: { kind: "static", accessKeyId: s3.accessKeyId, secretAccessKey: "not-the-secret" } });
      expect(await reason(wrong.get("a/b"))).toBe("ACCESS_DENIED");
      wrong.close();
      const unknown = openObjectStore({ ...s3.store("good"), credentials: { kind: "static", accessKeyId: "AKUNKNOWN000", secretAccessKey: "x" } });
      expect(await reason(readCatalog(unknown))).toBe("ACCESS_DENIED");
      unknown.close();
      const missing = openObjectStore(s3.store("no-such-bucket"));
      expect(await reason(readCatalog(missing))).toBe("BUCKET_NOT_FOUND");
      expect(await reason(missing.put("x", Buffer.from("x"), {}))).toBe("BUCKET_NOT_FOUND");
      missing.close();
    } finally {
      await s3.stop();
    }
    expect(isProcessAlive(s3.pid)).toBe(false);
    expect(existsSync(s3.dir)).toBe(false);
  });

  it("sweeps a server whose test process was killed", async () => {
    // A child process starts a server and is killed outright (no exit hooks run).
    const script = `const { startS3Server } = require(${JSON.stringify(resolve(__dirname, "../support/s3.ts"))});
startS3Server(${JSON.stringify(tc.env!.tools.weed!.path)}).then((s) => { process.stdout.write(JSON.stringify({ pid: s.pid, dir: s.dir }) + "\\n"); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { cwd: resolve(__dirname, "../.."), stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((res, rej) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) res(out.split("\n")[0]!);
      });
      child.on("exit", (code) => rej(new Error(`child exited ${String(code)} before starting weed`)));
    });
    const { pid, dir } = JSON.parse(line) as { pid: number; dir: string };
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(isProcessAlive(pid)).toBe(true);
    expect(sweepAbandonedS3Servers()).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 50 && isProcessAlive(pid); i++) await sleep(100);
    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(tmpdir()).filter((e) => e.startsWith("setpoint-s3-") && resolve(tmpdir(), e) === dir)).toEqual([]);
  });
});
