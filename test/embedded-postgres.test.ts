import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isProcessAlive, startEmbeddedPostgres, sweepAbandonedInstances } from "../sdk/postgres/embedded";
import { EmbeddedPostgresError } from "../sdk/errors";

const root = resolve(__dirname, "..");
const base = mkdtempSync(join(tmpdir(), "setpoint-embedded-test-"));
chmodSync(base, 0o755); // the server runs as an unprivileged user, which must reach its directory
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function diesWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

async function startInChild(...extra: string[]): Promise<{ child: ReturnType<typeof spawn>; dir: string; postmasterPid: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/start-embedded.ts", "17", base, ...extra], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolveLine, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\n")) resolveLine(buf.split("\n")[0]!);
    });
    child.on("exit", (code) => reject(new Error(`child exited with ${String(code)} before starting`)));
  });
  const { dir } = JSON.parse(line) as { dir: string };
  const { readFileSync } = await import("node:fs");
  const postmasterPid = Number(readFileSync(join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  return { child, dir, postmasterPid };
}

describe("embedded PostgreSQL lifecycle", () => {
  it("stops the server and removes its directory when the owning process gets SIGTERM", async () => {
    const { child, dir, postmasterPid } = await startInChild();
    expect(isProcessAlive(postmasterPid)).toBe(true);
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(await diesWithin(postmasterPid, 5000)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it("leaves SIGTERM to the process's own handler (a `once` listener too): its graceful shutdown runs to the end", async () => {
    const { child, dir, postmasterPid } = await startInChild("own-handler");
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    // Before the fix the server's hook exited with 143 before the handler's work was done.
    expect(await exited).toBe(0);
    expect(out).toContain("graceful");
    expect(await diesWithin(postmasterPid, 5000)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it("stops the server and removes its directory on SIGINT when another exit listener calls process.exit() again (vitest's)", async () => {
    const { child, dir, postmasterPid } = await startInChild("exits-in-exit");
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGINT");
    await exited;
    // Before the fix the hook, registered after that listener, never ran: the directory stayed.
    expect(await diesWithin(postmasterPid, 5000)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it("removes a server abandoned by a SIGKILLed owner on the next sweep", async () => {
    const { child, dir, postmasterPid } = await startInChild();
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    child.kill("SIGKILL");
    await exited;
    expect(isProcessAlive(postmasterPid)).toBe(true); // nobody could clean up yet
    expect(sweepAbandonedInstances(base)).toBe(1);
    expect(await diesWithin(postmasterPid, 5000)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(base)).toEqual([]);
  });

  it("stop() is idempotent and leaves nothing behind", async () => {
    const pg = await startEmbeddedPostgres({ major: 17, baseDir: base, password: "s3cret-pw" });
    expect(pg.url()).toContain(":s3cret-pw@");
    await pg.stop();
    await pg.stop();
    expect(existsSync(pg.dir)).toBe(false);
  });

  it("starts from a template data directory initialized once, instead of running initdb each time", async () => {
    const templates = mkdtempSync(join(base, "templates-"));
    chmodSync(templates, 0o755);
    const [a, b] = await Promise.all([startEmbeddedPostgres({ major: 17, baseDir: base, templateDir: templates }), startEmbeddedPostgres({ major: 17, baseDir: base, templateDir: templates })]);
    const c = await startEmbeddedPostgres({ major: 17, baseDir: base, templateDir: templates });
    try {
      // Two concurrent first starts leave exactly one complete template, and every copy is a working server.
      expect(readdirSync(templates).filter((e) => e.startsWith("setpoint-initdb-17-"))).toHaveLength(1);
      for (const pg of [a, b, c]) expect(pg.version).toMatch(/^PostgreSQL 17/);
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });

  it("refuses an unsupported major with the list of supported ones", async () => {
    await expect(startEmbeddedPostgres({ major: 12 as 14, baseDir: base })).rejects.toThrow(EmbeddedPostgresError);
    await expect(startEmbeddedPostgres({ major: 12 as 14, baseDir: base })).rejects.toThrow(/use one of 14, 15, 16, 17, 18/);
  });
});
