import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors";
import { editDistance, parseFlags, suggest, wantsHelp } from "./args";
import { main, redactSecrets } from "./main";
import { parseAllowedHazards } from "./schema";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) }, out, err };
}

async function run(argv: string[]) {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, stdout: c.out.join(""), stderr: c.err.join("") };
}

describe("edit distance and suggestions", () => {
  it("counts insertions, deletions, substitutions and transpositions", () => {
    expect(editDistance("schema", "schema")).toBe(0);
    expect(editDistance("shema", "schema")).toBe(1);
    expect(editDistance("paln", "plan")).toBe(1);
    expect(editDistance("allow-hazard", "allow-hazards")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("suggests only a close candidate", () => {
    expect(suggest("allow-hazard", ["url", "schema", "allow-hazards"])).toBe("allow-hazards");
    expect(suggest("lock-timout", ["lock-timeout", "statement-timeout"])).toBe("lock-timeout");
    expect(suggest("xyz", ["url", "schema"])).toBeUndefined();
    expect(suggest("dev", ["dev-url", "url"])).toBe("dev-url");
  });

  it("finds --help before --, not after", () => {
    expect(wantsHelp(["--url", "x", "-h"])).toBe(true);
    expect(wantsHelp(["--", "--help"])).toBe(false);
  });
});

describe("flag parsing", () => {
  const options = { url: { type: "string" }, "allow-hazards": { type: "string" } } as const;

  it("names an unknown flag and the closest known one", () => {
    expect(() => parseFlags(["--allow-hazard", "all"], options, "schema plan")).toThrow(
      /unknown option --allow-hazard for "setpoint schema plan"; did you mean --allow-hazards\? \(see setpoint schema plan --help\)/,
    );
    expect(() => parseFlags(["--allow-hazard=all"], options, "schema plan")).toThrow(/unknown option --allow-hazard for/);
    expect(() => parseFlags(["--zzzzzz"], options, "schema plan")).toThrow(/^unknown option --zzzzzz for "setpoint schema plan" \(see/);
  });

  it("never echoes a stray argument, which may be a URL with a password", () => {
    let err: unknown;
    try {
      parseFlags(["postgres://u:hunter2@db/x"], options, "schema plan");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).not.toContain("hunter2");
    expect((err as Error).message).toContain("every value follows its flag");
  });
});

describe("setpoint help and unknown commands", () => {
  it.each([
    [["schema", "--help"], /^Usage: setpoint schema <command>/],
    [["schema", "-h"], /^Usage: setpoint schema <command>/],
    [["schema", "plan", "--help"], /^Usage: setpoint schema plan --url URL --schema PATH/],
    [["schema", "apply", "--url", "x", "-h"], /^Usage: setpoint schema apply/],
    [["schema", "inspect", "--help"], /^Usage: setpoint schema inspect/],
    [["upgrade", "--help"], /^Usage: setpoint upgrade <command>/],
    [["upgrade", "run", "--help"], /^Usage: setpoint upgrade run --blue URL --green URL/],
    [["upgrade", "plan", "--help"], /^Usage: setpoint upgrade plan/],
    [["upgrade", "rollback", "--help"], /^Usage: setpoint upgrade rollback/],
    [["upgrade", "finalize", "--help"], /^Usage: setpoint upgrade finalize/],
    [["help", "schema", "plan"], /^Usage: setpoint schema plan/],
  ])("%j prints its own help and exits 0", async (argv, re) => {
    const r = await run(argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(re);
    expect(r.stderr).toBe("");
  });

  it("documents each step's statement_timeout and lock_timeout, the data probes and connection strings", async () => {
    const r = await run(["schema", "plan", "--help"]);
    expect(r.stdout).toContain("statement_timeout   --statement-timeout MS for quick DDL steps (default 60000)");
    expect(r.stdout).toContain("--long-statement-timeout MS for steps that scan or rewrite");
    expect(r.stdout).toContain("lock_timeout        --lock-timeout MS (default 3000)");
    expect(r.stdout).toContain("--probe-timeout MS (default 5000)");
    expect(r.stdout).toContain("host=db port=5432 dbname=app user=app password='s3cret word' sslmode=require");
  });

  it("a command without a subcommand prints its help to stderr and exits 1", async () => {
    const r = await run(["schema"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Usage: setpoint schema <command>/);
  });

  it.each([
    [["shema", "plan"], /unknown command "shema"; did you mean "setpoint schema"\?/],
    [["upgrde"], /did you mean "setpoint upgrade"\?/],
    [["schema", "paln"], /unknown schema command "paln"; did you mean "setpoint schema plan"\? \(commands: plan, apply, verify, inspect/],
    [["upgrade", "rollbak"], /did you mean "setpoint upgrade rollback"\?/],
    [["schema", "plan", "--shema", "x.sql"], /unknown option --shema for "setpoint schema plan"; did you mean --schema\?/],
    [["schema", "plan", "--lock-timout", "5"], /did you mean --lock-timeout\?/],
    [["upgrade", "run", "--blu", "x"], /unknown option --blu for "setpoint upgrade run"; did you mean --blue\?/],
    [["frobnicate"], /unknown command "frobnicate" \(commands: schema, upgrade, backup, pr-comment, help, version/],
    [["backup", "lst"], /unknown backup command "lst"; did you mean "setpoint backup list"\? \(commands: list, describe/],
    [["backup", "list", "--bukcet", "b"], /unknown option --bukcet for "setpoint backup list"; did you mean --bucket\?/],
    [["backup", "list", "--bucket", "b"], /--endpoint is required \(see setpoint backup list --help\)/],
    [["backup", "list", "--endpoint", "ftp://x", "--bucket", "b"], /setpoint backup: endpoint: endpoint must be an http:\/\/ or https:\/\/ URL/],
    [["backup", "list", "--endpoint", "http://127.0.0.1:1", "--bucket", "No_Such"], /setpoint backup: bucket: bucket must be 3-63 characters/],
    [["backup", "list", "--endpoint", "http://127.0.0.1:1", "--bucket", "b", "--access-key", "k"], /unknown option --access-key for "setpoint backup list"/],
  ])("%j: names the mistake and the likely fix, exit 1", async (argv, re) => {
    const r = await run(argv);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(re);
  });

  it("rejects a malformed timeout naming the flag", async () => {
    const dir = mkdtempSync(join(tmpdir(), "setpoint-args-"));
    writeFileSync(join(dir, "x.sql"), "CREATE TABLE t (id int);");
    const r = await run(["schema", "plan", "--url", "postgres://x@127.0.0.1:1/x", "--schema", join(dir, "x.sql"), "--statement-timeout", "soon"]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--statement-timeout must be a whole number of milliseconds, got "soon"');
  });
});

describe("--allow-hazards", () => {
  it("suggests the closest code, and refuses codes no allowance can accept", () => {
    expect(() => parseAllowedHazards("INDEX_BUIL")).toThrow(/unknown hazard code\(s\) INDEX_BUIL \(did you mean INDEX_BUILD\?\)/);
    expect(() => parseAllowedHazards("INDEX_BUILD,CHECK_VIOLATION")).toThrow(/CHECK_VIOLATION cannot be allowed: existing rows make the step fail/);
    expect(parseAllowedHazards("TYPE_CAST_LOSSY, DATA_UNVERIFIED")).toEqual(["TYPE_CAST_LOSSY", "DATA_UNVERIFIED"]);
  });
});

describe("redactSecrets", () => {
  it("masks URL passwords, password= in connection strings (quoted or not) and password query parameters", () => {
    expect(redactSecrets("cannot connect to postgres://app:hunter2@db:5432/app")).toBe("cannot connect to postgres://app:***@db:5432/app");
    expect(redactSecrets("host=db password=hunter2 user=x")).toBe("host=db password=*** user=x");
    expect(redactSecrets("host=db password='hun ter\\'2' user=x")).toBe("host=db password=*** user=x");
    expect(redactSecrets("postgres://db/app?sslpassword=hunter2&x=1")).toBe("postgres://db/app?sslpassword=***&x=1");
  });
});
