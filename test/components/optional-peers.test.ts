// A Schema-only program never loads @pulumi/kubernetes (an optional peer) nor the Kubernetes
// client (ADR 0011): in a fresh process where both are impossible to resolve, as in a project that
// never installed them, `setpoint/components` loads, a Schema is constructed under Pulumi's mocks,
// and an Operator fails with an error naming the package to install. The packed-package test
// (test/e2e/packed-install.test.ts) proves the same through a real install and the real engine.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(__dirname, "../..");
const work = mkdtempSync(join(tmpdir(), "setpoint-optional-peers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Makes the two packages unresolvable, the way they are where they are not installed.
const BLOCK = `
const Module = require("node:module");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/^(@pulumi\\/kubernetes|@kubernetes\\/client-node)(\\/|$)/.test(request)) {
    const err = new Error("Cannot find module '" + request + "'");
    err.code = "MODULE_NOT_FOUND";
    throw err;
  }
  return resolve.call(this, request, ...rest);
};
`;

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name + "-id", state: a.inputs }), call: () => ({}) }, "p", "s", true);
const components = require(${JSON.stringify(join(root, "components/index.ts"))});
const schema = new components.Schema("s", { connection: "postgres://app@db/app", sql: "CREATE TABLE t (id int)" });
let operatorError = "";
try {
  new components.Operator("op", { image: "setpoint-operator:dev" });
} catch (err) {
  operatorError = err.message;
}
const loaded = Object.keys(require.cache);
process.stdout.write(JSON.stringify({
  schema: schema instanceof pulumi.ComponentResource,
  kubernetes: loaded.some((f) => f.includes("/@pulumi/kubernetes/")),
  client: loaded.some((f) => f.includes("/@kubernetes/client-node/")),
  operatorError,
}));
`;

describe("optional peers (ADR 0011)", () => {
  it("a Schema-only program loads without @pulumi/kubernetes or the Kubernetes client; an Operator names what to install", () => {
    writeFileSync(join(work, "block.cjs"), BLOCK);
    writeFileSync(join(work, "program.cjs"), PROGRAM);
    const out = execFileSync(process.execPath, ["--require", join(work, "block.cjs"), "--import", "tsx", join(work, "program.cjs")], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NODE_PATH: join(root, "node_modules") },
    });
    const result = JSON.parse(out) as { schema: boolean; kubernetes: boolean; client: boolean; operatorError: string };
    expect(result).toEqual({
      schema: true,
      kubernetes: false,
      client: false,
      operatorError: expect.stringContaining(
        "Operator needs the optional peer dependency @pulumi/kubernetes, which is not installed; run `npm install @pulumi/kubernetes@^4.25.0` in your Pulumi project",
      ),
    });
  }, 120_000);
});
