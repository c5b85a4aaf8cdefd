import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ToolchainEnv } from "../../scripts/toolchain/paths.mjs";
import { createPulumiProject, REPO_ROOT, type PulumiProject } from "./pulumi";

/** What {@link schemaProject} needs. */
export interface SchemaProjectOptions {
  toolchain: ToolchainEnv;
  /** The Pulumi project's name. */
  name: string;
  /** The program's `index.js`: it reads the `databaseUrl` (secret) and `devUrl` config. */
  program: string;
  /** The target database; set as the secret `databaseUrl`. */
  databaseUrl: string;
  /** The dev server; set as `devUrl`. */
  devUrl: string;
}

/**
 * A Pulumi project for an end-to-end test of the `Schema` component: its program uses the
 * `setpoint` package as built in dist/, the schema engine caches in a directory of its own, and
 * `databaseUrl` and `devUrl` are configured. The project and the cache are removed through
 * `cleanups` (the caller runs them in reverse order).
 * @throws {Error} when dist/ is missing (run `npm run build` first)
 */
export async function schemaProject(opts: SchemaProjectOptions, cleanups: (() => Promise<void> | void)[]): Promise<PulumiProject> {
  if (!existsSync(join(REPO_ROOT, "dist/components/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  const cache = mkdtempSync(join(tmpdir(), `setpoint-${opts.name}-e2e-cache-`));
  cleanups.push(() => rmSync(cache, { recursive: true, force: true }));
  const project = await createPulumiProject({
    toolchain: opts.toolchain,
    name: opts.name,
    files: { "index.js": opts.program },
    installSetpoint: true,
    env: { SETPOINT_CACHE_DIR: cache },
  });
  cleanups.push(() => project.cleanup());
  await project.pulumiWithInput(opts.databaseUrl, "config", "set", "--secret", "databaseUrl");
  await project.pulumi("config", "set", "devUrl", opts.devUrl);
  return project;
}
