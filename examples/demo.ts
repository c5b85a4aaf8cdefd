// `npm run demo`: the quickstart end to end with the real Pulumi engine. Starts an embedded
// PostgreSQL, logs in to a local file backend, previews (the plan shows CREATE TABLE), applies,
// applies again (no changes), turns on a config flag that adds a column and previews the one
// ALTER TABLE, then stops everything it started.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { DEFAULT_MAJOR, randomPassword, startEmbeddedPostgres } from "../sdk/postgres/index";

const root = resolve(__dirname, "..");

function step(title: string): void {
  console.log(`\n=== ${title}`);
}

/** Builds (cold) or finds (warm) the Pulumi CLI, and returns its path and plugin home. */
function toolchain(): { pulumi: string; pulumiHome: string } {
  const run = spawnSync(process.execPath, [join(root, "scripts/toolchain/index.mjs"), "--only=pulumi"], { stdio: "inherit" });
  if (run.status !== 0) throw new Error("npm run toolchain failed; see its output above");
  const env = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", "import { readToolchainEnv } from './scripts/toolchain/paths.mjs'; console.log(JSON.stringify(readToolchainEnv()))"], { cwd: root, encoding: "utf8" })) as {
    pulumiHome: string;
    tools: Record<string, { path: string }>;
  };
  return { pulumi: env.tools["pulumi"]!.path, pulumiHome: env.pulumiHome };
}

async function main(): Promise<void> {
  step("toolchain");
  const tc = toolchain();
  step(`starting embedded PostgreSQL ${DEFAULT_MAJOR}`);
  const password = randomPassword();
  const pg = await startEmbeddedPostgres({ major: DEFAULT_MAJOR, password });
  const work = mkdtempSync(join(tmpdir(), "setpoint-demo-"));
  const cleanups: (() => void)[] = [];
  try {
    console.log(`${pg.version.split(",")[0]} on ${pg.host}:${pg.port}`);
    const home = join(work, "pulumi-home");
    mkdirSync(home);
    if (existsSync(join(tc.pulumiHome, "plugins"))) symlinkSync(join(tc.pulumiHome, "plugins"), join(home, "plugins"));
    const env = {
      ...process.env,
      PATH: `${dirname(tc.pulumi)}:${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
      PULUMI_HOME: home,
      PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
      PULUMI_SKIP_UPDATE_CHECK: "1",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      SETPOINT_CACHE_DIR: join(work, "cache"),
    };
    // Stack config lives beside Pulumi.yaml (Pulumi.demo.yaml, git-ignored); removed at the end.
    const configFile = join(root, "Pulumi.demo.yaml");
    rmSync(configFile, { force: true });
    cleanups.push(() => rmSync(configFile, { force: true }));
    const pulumi = (args: string[], opts: { show?: boolean; input?: string } = {}): string => {
      const r = spawnSync(tc.pulumi, args, { cwd: root, env, encoding: "utf8", input: opts.input, maxBuffer: 64 << 20 });
      if (opts.show !== false) process.stdout.write(r.stdout);
      if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    pulumi(["login", `file://${work}`], { show: false });
    pulumi(["stack", "init", "demo", "--secrets-provider", "passphrase"], { show: false });
    // The URL carries the password: it goes in as a secret, read from stdin, never on the command line.
    pulumi(["config", "set", "--secret", "databaseUrl"], { show: false, input: pg.url() });

    step("pulumi preview --diff");
    const preview = pulumi(["preview", "--diff"]);
    if (!preview.includes("CREATE TABLE")) throw new Error("the preview does not show CREATE TABLE");

    step("pulumi up --yes");
    pulumi(["up", "--yes", "--skip-preview"]);

    step("pulumi up --yes (again: nothing to do)");
    const second = pulumi(["up", "--yes"]);
    if (/\d+ to update|\d+ updated/.test(second)) throw new Error("the second up was not a no-op");

    step("pulumi config set addPhoneColumn true; pulumi preview --diff");
    pulumi(["config", "set", "addPhoneColumn", "true"], { show: false });
    const change = pulumi(["preview", "--diff"]);
    const alters = change.match(/ALTER TABLE[^\n]*ADD COLUMN[^\n]*/g) ?? [];
    console.log(`\nthe change is ${alters.length} statement(s): ${alters.map((a) => a.replaceAll('\\"', '"').replace(/"$/, "")).join("; ")}`);

    pulumi(["stack", "rm", "demo", "--yes", "--force"], { show: false });
  } finally {
    for (const c of cleanups) c();
    await pg.stop();
    rmSync(work, { recursive: true, force: true });
    console.log("\nstopped PostgreSQL and removed the demo's files");
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
