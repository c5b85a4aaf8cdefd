import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(__dirname, "..");
const work = mkdtempSync(join(tmpdir(), "setpoint-serialize-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ADR 0001: CommonJS survives Pulumi's function serialization and loads ESM-only dependencies.
describe("module format (docs/adr/0001-module-format.md)", () => {
  it("a dynamic provider serialized by pulumi.runtime.serializeFunction runs in a fresh node process", () => {
    const text = execFileSync(process.execPath, ["--import", "tsx", "test/fixtures/serialize-provider.ts"], { cwd: root, encoding: "utf8" });
    expect(text).toContain("exports.handler");
    // The serialized text must not embed the module graph: only the provider object.
    expect(text).not.toContain("KubeConfig =");

    const file = join(work, "provider.js");
    writeFileSync(file, text);
    const runner = `
      const mod = require(${JSON.stringify(file)});
      const provider = mod.__entry();
      provider.create({ greeting: "hello" }).then((r) => process.stdout.write(JSON.stringify(r)));
    `;
    // A fresh process, resolving packages from the project the way Pulumi's provider host does.
    const out = execFileSync(process.execPath, ["-e", runner], { cwd: root, encoding: "utf8", env: { ...process.env, NODE_PATH: join(root, "node_modules") } });
    const result = JSON.parse(out) as { id: string; outs: { greeting: string; kubeConfigIsClass: boolean } };
    expect(result.id).toMatch(/^[0-9a-f]{12}$/);
    expect(result.outs).toEqual({ greeting: "hello", kubeConfigIsClass: true });
  });
});
