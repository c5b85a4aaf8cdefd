// The Pulumi half of the toolchain: the real CLI, our Node.js language host and the
// dynamic-provider shim run a one-resource program against a local file backend.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolchainOrSkip } from "../support/control-plane";
import type { PulumiProject } from "../support/pulumi";
import { createPulumiProject } from "../support/pulumi";

const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]);

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

/** `pulumi preview --json` output. */
interface PreviewResult {
  steps: Array<{ op: string; urn: string }>;
  changeSummary: Record<string, number>;
}

describe.skipIf(toolchain.skip !== undefined)("toolchain: pulumi CLI + Node.js language host", () => {
  let project: PulumiProject | undefined;
  const pulumi = (...args: string[]): Promise<string> => project!.pulumi(...args);
  const up = () => project!.up();

  beforeAll(async () => {
    project = await createPulumiProject({ toolchain: toolchain.env!, name: "toolchain-smoke", files: { "index.js": PROGRAM } });
  }, 120_000);

  afterAll(() => {
    project?.cleanup();
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
