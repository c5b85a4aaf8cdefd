// The Pulumi half of the toolchain: the real CLI, our Node.js language host and the
// dynamic-provider shim run a one-resource program against a local file backend.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";

const run = promisify(execFile);
const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]);
const repoNodeModules = resolve(__dirname, "../../node_modules");

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const greeter = {
  async create(inputs) {
    return { id: "greeting-1", outs: { message: "hello " + inputs.name } };
  },
};
const greeting = new pulumi.dynamic.Resource(greeter, "greeting", { name: "setpoint", message: undefined });
exports.message = greeting.message;
`;

/** One engine event of `pulumi up --json` (newline-delimited). */
interface EngineEvent {
  resOutputsEvent?: { metadata: { op: string; urn: string; type: string; new?: { outputs?: Record<string, unknown> } } };
  summaryEvent?: { result: string; resourceChanges: Record<string, number> };
  diagnosticEvent?: { severity: string; message: string };
}

/** `pulumi preview --json` output. */
interface PreviewResult {
  steps: Array<{ op: string; urn: string }>;
  changeSummary: Record<string, number>;
}

describe.skipIf(toolchain.skip !== undefined)("toolchain: pulumi CLI + Node.js language host", () => {
  let dir: string;
  let program: string;
  let env: NodeJS.ProcessEnv;

  const pulumi = async (...args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(toolchain.env!.tools["pulumi"]!.path, args, {
        cwd: program,
        env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: 240_000,
      });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`pulumi ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`, { cause: err });
    }
  };

  const up = async (): Promise<EngineEvent[]> =>
    (await pulumi("up", "--yes", "--skip-preview", "--json"))
      .split("\n")
      .filter((l) => l.trim().startsWith("{"))
      .map((l) => JSON.parse(l) as EngineEvent);

  beforeAll(async () => {
    expect(existsSync(join(repoNodeModules, "@pulumi", "pulumi")), "run npm ci: @pulumi/pulumi is not installed").toBe(true);
    dir = mkdtempSync(join(tmpdir(), "setpoint-pulumi-"));
    program = join(dir, "program");
    const home = join(dir, "pulumi-home");
    const state = join(dir, "state");
    for (const d of [program, home, state]) mkdirSync(d);
    // A private PULUMI_HOME that still sees the provider plugins installed by the toolchain.
    const plugins = join(toolchain.env!.pulumiHome, "plugins");
    if (existsSync(plugins)) symlinkSync(plugins, join(home, "plugins"));
    symlinkSync(repoNodeModules, join(program, "node_modules"));
    writeFileSync(join(program, "Pulumi.yaml"), "name: toolchain-smoke\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n");
    writeFileSync(join(program, "package.json"), JSON.stringify({ name: "toolchain-smoke", private: true, main: "index.js" }));
    writeFileSync(join(program, "index.js"), PROGRAM);
    env = {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
      PULUMI_HOME: home,
      PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
      PULUMI_SKIP_UPDATE_CHECK: "1",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    };
    delete env.PULUMI_ACCESS_TOKEN;
    delete env.PULUMI_BACKEND_URL;
    await pulumi("login", `file://${state}`);
    await pulumi("stack", "init", "dev", "--secrets-provider", "passphrase");
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reports the pinned CLI version", async () => {
    expect((await pulumi("version")).trim()).toBe(toolchain.env!.tools["pulumi"]!.version);
  });

  it("previews, creates, and then finds nothing to change", async () => {
    const preview = JSON.parse(await pulumi("preview", "--json")) as PreviewResult;
    const planned = preview.steps.find((s) => s.urn.endsWith("pulumi-nodejs:dynamic:Resource::greeting"));
    expect(planned?.op).toBe("create");
    expect(preview.changeSummary).toEqual({ create: 2 });

    const first = await up();
    const created = first.find((e) => e.resOutputsEvent?.metadata.urn.endsWith("::greeting"))?.resOutputsEvent;
    expect(created?.metadata.op).toBe("create");
    expect(created?.metadata.new?.outputs?.["message"]).toBe("hello setpoint");
    expect(first.find((e) => e.summaryEvent)?.summaryEvent).toMatchObject({
      result: "succeeded",
      resourceChanges: { create: 2 },
    });

    const outputs = JSON.parse(await pulumi("stack", "output", "--json")) as Record<string, unknown>;
    expect(outputs).toEqual({ message: "hello setpoint" });

    const second = await up();
    expect(second.find((e) => e.summaryEvent)?.summaryEvent).toMatchObject({
      result: "succeeded",
      resourceChanges: { same: 2 },
    });
    expect(second.some((e) => e.resOutputsEvent && e.resOutputsEvent.metadata.op !== "same")).toBe(false);
  }, 300_000);
});
