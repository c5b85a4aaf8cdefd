import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBootstrap, promote } from "./instance-sql";

// A server that accepts connections and never answers: what a hung postmaster looks like from a
// client (the kernel completes the handshake, nothing reads the startup packet). The operator
// connects to port 5432, so the server listens there on a loopback address of its own.
let server: Server;
let host = "";
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
  });
  for (const candidate of ["127.0.0.77", "127.0.0.78", "127.0.0.79", "127.0.0.80"]) {
    const ok = await new Promise<boolean>((res) => {
      server.once("error", () => res(false));
      server.listen(5432, candidate, () => res(true));
    });
    if (ok) {
      host = candidate;
      break;
    }
  }
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((res) => server.close(() => res()));
});

describe("connections of the reconcile to an instance that stopped answering", () => {
  it("fail within the connection timeout even when a statement may run long (CREATE DATABASE, a promotion)", async () => {
    expect(host).not.toBe("");
    const t = { host, password: "x", timeoutMs: 300 };
    for (const attempt of [
      () => ensureBootstrap({ ...t, queryTimeoutMs: 30_000 }, "app", "app", () => Promise.resolve("pw")),
      () => promote(t, 30),
    ]) {
      const started = Date.now();
      await expect(attempt()).rejects.toThrow();
      // A primary hung since its probe held the failover for the statement's 30 s before.
      expect(Date.now() - started).toBeLessThan(5_000);
    }
  });
});
