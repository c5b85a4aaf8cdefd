import { afterEach, describe, expect, it } from "vitest";
import type { Readiness } from "./ready";
import { startStatusServer, statusAnswer, type ManagerPhase, type StatusServer } from "./status-server";

describe("statusAnswer", () => {
  it("is ready only while postgres runs and the check passed, naming the role it plays", () => {
    expect(statusAnswer("GET", "/readyz", "running", { ready: true, inRecovery: false })).toEqual({ code: 200, body: { ready: true, phase: "running", role: "primary" } });
    expect(statusAnswer("HEAD", "/readyz?x=1", "running", { ready: true, inRecovery: true })).toEqual({ code: 200, body: { ready: true, phase: "running", role: "replica" } });
    expect(statusAnswer("GET", "/readyz", "running", { ready: false, reason: "the database system is starting up" })).toEqual({
      code: 503,
      body: { ready: false, phase: "running", reason: "the database system is starting up" },
    });
    expect(statusAnswer("GET", "/readyz", "preparing", undefined)).toEqual({ code: 503, body: { ready: false, phase: "preparing", reason: "preparing the data directory" } });
    expect(statusAnswer("GET", "/readyz", "exited", undefined).code).toBe(503);
  });

  it("answers liveness in every phase, and nothing but GET/HEAD on its two paths", () => {
    for (const phase of ["preparing", "running", "exited"] as const) expect(statusAnswer("GET", "/livez", phase, undefined)).toEqual({ code: 200, body: { alive: true, phase } });
    expect(statusAnswer("POST", "/readyz", "running", undefined).code).toBe(405);
    expect(statusAnswer("GET", "/", "running", undefined).code).toBe(404);
    expect(statusAnswer("GET", "/readyz/../env", "running", undefined).code).toBe(404);
  });
});

describe("startStatusServer", () => {
  let server: StatusServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves the answers over HTTP, one check for a burst of requests, a fresh one once the result is old", async () => {
    let phase: ManagerPhase = "preparing";
    let checks = 0;
    let release: (r: Readiness) => void = () => undefined;
    let clock = 1_000;
    server = await startStatusServer(
      "127.0.0.1",
      0,
      {
        phase: () => phase,
        check: () => {
          checks++;
          return new Promise<Readiness>((r) => (release = r));
        },
      },
      () => clock,
    );
    const url = (p: string): string => `http://127.0.0.1:${String(server!.address.port)}${p}`;
    const preparing = await fetch(url("/readyz"));
    expect(preparing.status).toBe(503);
    expect(await preparing.json()).toEqual({ ready: false, phase: "preparing", reason: "preparing the data directory" });
    expect(checks).toBe(0);

    phase = "running";
    const burst = [fetch(url("/readyz")), fetch(url("/readyz")), fetch(url("/readyz"))];
    while (checks === 0) await new Promise((r) => setImmediate(r));
    release({ ready: true, inRecovery: false });
    const answers = await Promise.all(burst);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(await answers[0]!.json()).toEqual({ ready: true, phase: "running", role: "primary" });
    expect(checks).toBe(1);
    expect((await fetch(url("/readyz"))).status).toBe(200);
    expect(checks).toBe(1);

    clock += 1_000;
    const later = fetch(url("/readyz"));
    while (checks === 1) await new Promise((r) => setImmediate(r));
    release({ ready: false, reason: "connection refused" });
    const down = await later;
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ ready: false, phase: "running", reason: "connection refused" });
    expect(checks).toBe(2);
    expect((await fetch(url("/livez"))).status).toBe(200);
    expect((await fetch(url("/readyz"), { method: "POST" })).status).toBe(405);
  });

  it("reports a check that throws as not ready, and fails to start on a port already taken", async () => {
    server = await startStatusServer("127.0.0.1", 0, { phase: () => "running", check: () => Promise.reject(new Error("boom")) });
    const r = await fetch(`http://127.0.0.1:${String(server.address.port)}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ ready: false, phase: "running", reason: "boom" });
    await expect(startStatusServer("127.0.0.1", server.address.port, { phase: () => "running", check: () => Promise.reject(new Error("x")) })).rejects.toThrow(/EADDRINUSE/);
  });
});
