// The embedded dev server as a container runs it: an arbitrary user id with no entry in
// /etc/passwd (any `runAsUser`), and a scratch directory chosen by the environment. Each case runs
// the schema engine's normalization in a child process started as that user (needs root to start it).
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hasPasswdEntry, nssWrapperLibrary } from "../sdk/postgres/embedded";

const root = resolve(__dirname, "..");
const isRoot = process.getuid?.() === 0;
/** A user id nothing on this machine names. */
const UID = 61_234;
const base = mkdtempSync(join(tmpdir(), "setpoint-identity-test-"));
chmodSync(base, 0o755);
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A directory `UID` owns. */
function ownedDir(name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  chownSync(dir, UID, UID);
  return dir;
}

function normalizeAs(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/normalize-as-user.ts", "17"], {
      cwd: root,
      uid: UID,
      gid: UID,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe.skipIf(!isRoot || hasPasswdEntry(UID))("embedded dev server as an arbitrary user id", () => {
  it.skipIf(nssWrapperLibrary() === undefined)("normalizes as a uid without a passwd entry (initdb through nss_wrapper)", async () => {
    const home = ownedDir("home");
    const result = await normalizeAs({ HOME: home, TMPDIR: home, SETPOINT_SCRATCH_DIR: ownedDir("scratch") });
    expect(result.stderr).not.toMatch(/could not look up effective user ID/);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ tables: ["t"] });
    // The server and its directory are gone with the process.
    expect(readdirSync(join(base, "scratch")).filter((e) => e.startsWith("setpoint-pg-"))).toEqual([]);
  }, 120_000);

  it("names an unwritable scratch directory and how to choose another", async () => {
    const home = ownedDir("home2");
    const readOnly = join(base, "read-only");
    mkdirSync(readOnly, { recursive: true, mode: 0o755 }); // owned by root: not writable for UID
    const result = await normalizeAs({ HOME: home, TMPDIR: home, SETPOINT_SCRATCH_DIR: readOnly });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${readOnly} is not writable (EACCES`);
    expect(result.stderr).toContain("SETPOINT_SCRATCH_DIR");
    expect(result.stderr).toContain("emptyDir");
  }, 120_000);
});
