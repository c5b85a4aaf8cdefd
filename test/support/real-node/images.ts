// Test images from the images' one recipe (images/recipes.ts), without a registry: a Debian root
// filesystem from `debootstrap --variant=minbase` with the recipe's packages (cached per release
// and package list), this machine's Node.js of the recipe's major at /usr/local/bin/node (where
// the node:<major>-slim base of the Dockerfile has it), the recipe's files from the repository
// (production dependencies from `npm ci --omit=dev`, cached per lockfile), and its environment,
// user, working directory and entry point in the image config.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { postgresInstallScript, type ImageRecipe, type PackageImageRecipe } from "../../../images/recipes";
import { INSTANCE_ENV } from "../../../sdk/instance/settings";
import { CACHE_DIR_ENV, EMBEDDED_POSTGRES_VERSIONS, INSTALL_ENV } from "../../../sdk/postgres/binaries";
import { must } from "./host";

const repo = resolve(__dirname, "../../..");
const cacheRoot = join(process.env.SETPOINT_CACHE_DIR ?? join(homedir(), ".cache", "setpoint"), "images");

/** The Debian mirror debootstrap downloads from: $SETPOINT_DEBIAN_MIRROR, else the one apt uses here. */
function debianMirror(): string {
  if (process.env.SETPOINT_DEBIAN_MIRROR) return process.env.SETPOINT_DEBIAN_MIRROR;
  for (const file of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    try {
      const m = /(?:URIs:|deb)\s+(https?:\/\/\S+\/debian)\b/.exec(readFileSync(file, "utf8"));
      if (m) return m[1]!;
    } catch {
      // next
    }
  }
  return "http://deb.debian.org/debian";
}

/** Runs `build(tmp)` once per `key` and keeps the result at the returned path. */
function cached(key: string, build: (tmp: string) => void): string {
  const dir = join(cacheRoot, key);
  if (existsSync(dir)) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    build(tmp);
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** The minbase root filesystem of `recipe.debian` with `recipe.packages` (cached). */
export function debianRootfs(recipe: Pick<ImageRecipe, "debian" | "packages">): string {
  const packages = [...recipe.packages].sort();
  const key = `${recipe.debian}-minbase-${createHash("sha256").update(packages.join(",")).digest("hex").slice(0, 12)}`;
  return cached(key, (tmp) => {
    // Not `must`: its 2-minute limit is too short for a root with more packages on a busy machine.
    const args = ["--variant=minbase", `--include=${packages.join(",")}`, recipe.debian, tmp, debianMirror()];
    const r = spawnSync("debootstrap", args, { encoding: "utf8", timeout: 1_200_000 });
    if (r.status !== 0) throw new Error(`debootstrap ${args.join(" ")} failed (${String(r.status ?? r.error)}): ${`${r.stdout ?? ""}${r.stderr ?? ""}`.trim().slice(-2000)}`);
    // Nothing of the build host's apt state is needed at run time.
    rmSync(join(tmp, "var", "cache", "apt", "archives"), { recursive: true, force: true });
  });
}

/** The repository's production dependencies (`npm ci --omit=dev`, PostgreSQL binaries restored), cached per lockfile. */
function productionModules(): string {
  const lock = readFileSync(join(repo, "package-lock.json"));
  const key = `node-modules-${createHash("sha256").update(lock).digest("hex").slice(0, 12)}`;
  return cached(key, (tmp) => {
    mkdirSync(tmp, { recursive: true });
    for (const f of ["package.json", "package-lock.json", ".npmrc"]) if (existsSync(join(repo, f))) cpSync(join(repo, f), join(tmp, f));
    must("sh", ["-c", `cd '${tmp}' && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund`]);
  });
}

/** `recipe.postgresMajors` installed by the recipe's own install program (as the Dockerfile runs it), cached per pinned versions. */
function postgresBinaries(recipe: ImageRecipe): string {
  const pins = recipe.postgresMajors.map((m) => `${m}=${EMBEDDED_POSTGRES_VERSIONS[m]}`).join(",");
  const key = `postgres-${createHash("sha256").update(pins).digest("hex").slice(0, 12)}`;
  return cached(key, (tmp) => {
    const env: NodeJS.ProcessEnv = { ...process.env, [CACHE_DIR_ENV]: tmp };
    delete env[INSTALL_ENV];
    // A one-major image: its build argument's value, as the Dockerfile's ENV gives it to the program.
    if (recipe.postgresMajorArg !== undefined) env[INSTANCE_ENV.major] = String(recipe.postgresMajors[0]);
    const r = spawnSync(process.execPath, ["-e", postgresInstallScript(recipe)], { cwd: repo, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`installing PostgreSQL ${recipe.postgresMajors.join(", ")} for ${recipe.name} failed (${String(r.status)}): ${`${r.stdout}${r.stderr}`.trim().slice(-2000)}`);
  });
}

/**
 * Assembles the root filesystem of `recipe` in `target` (see the module comment). Needs `dist/`
 * (`npm run build`).
 * @throws when this machine's Node.js is not the recipe's major, or `dist/` is missing.
 */
export function recipeRootfs(recipe: ImageRecipe, target: string): void {
  const major = Number(process.versions.node.split(".")[0]);
  if (major !== recipe.nodeMajor) throw new Error(`the ${recipe.name} image needs Node.js ${recipe.nodeMajor}; this is ${process.versions.node}`);
  if (recipe.files.includes("dist") && !existsSync(join(repo, "dist", "sdk"))) throw new Error("dist/ is missing: run `npm run build` first");
  const base = debianRootfs(recipe);
  rmSync(target, { recursive: true, force: true });
  must("cp", ["-a", base, target]);
  must("install", ["-m", "0755", process.execPath, join(target, "usr", "local", "bin", "node")]);
  const app = join(target, recipe.workdir);
  mkdirSync(app, { recursive: true });
  for (const f of recipe.files) {
    if (f === "node_modules") must("cp", ["-a", join(productionModules(), "node_modules"), join(app, "node_modules")]);
    else cpSync(join(repo, f), join(app, f), { recursive: true });
  }
  if (recipe.postgresMajors.length > 0) {
    const dir = join(target, recipe.postgresDir);
    mkdirSync(dirname(dir), { recursive: true });
    must("cp", ["-a", postgresBinaries(recipe), dir]);
  }
}

/** The image config of `recipe` (environment with PATH, user, working directory, entry point). */
export function recipeConfig(recipe: ImageRecipe): { entrypoint: string[]; cmd?: string[]; env: string[]; user: string; workingDir: string } {
  return {
    entrypoint: [...recipe.entrypoint],
    ...(recipe.cmd === undefined ? {} : { cmd: [...recipe.cmd] }),
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...Object.entries(recipe.env).map(([k, v]) => `${k}=${v}`)],
    user: recipe.user,
    workingDir: recipe.workdir,
  };
}

/** Assembles the root filesystem of a packages-only recipe (the pooler's) in `target`: the debootstrap root with its packages. */
export function packageRootfs(recipe: PackageImageRecipe, target: string): void {
  rmSync(target, { recursive: true, force: true });
  must("cp", ["-a", debianRootfs(recipe), target]);
}

/** The image config of a packages-only recipe. */
export function packageConfig(recipe: PackageImageRecipe): { entrypoint: string[]; env: string[]; user: string; workingDir: string } {
  return {
    entrypoint: [...recipe.entrypoint],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...Object.entries(recipe.env).map(([k, v]) => `${k}=${v}`)],
    user: recipe.user,
    workingDir: "/",
  };
}

/**
 * Builds the caches every test image is assembled from — the Debian roots (debootstrap), the
 * production `node_modules` and, when `dist/` exists (their install program is compiled code), the
 * PostgreSQL binaries of each recipe — so that CI can build them while the toolchain builds
 * (.ci/run). Reports each step's seconds (0 when cached) through `report` as it finishes.
 */
export function prewarmImageCaches(recipes: readonly (ImageRecipe | PackageImageRecipe)[], report: (step: string, seconds: number) => void): void {
  const timed = (what: string, build: () => unknown): void => {
    const started = Date.now();
    build();
    report(what, Math.round((Date.now() - started) / 100) / 10);
  };
  const haveDist = existsSync(join(repo, "dist", "sdk"));
  for (const recipe of recipes) {
    timed(`${recipe.name}: debian root`, () => debianRootfs(recipe));
    if (!("files" in recipe)) continue;
    if (recipe.files.includes("node_modules")) timed(`${recipe.name}: node_modules`, () => productionModules());
    if (recipe.postgresMajors.length > 0 && haveDist) timed(`${recipe.name}: postgres ${recipe.postgresMajors.join(",")}`, () => postgresBinaries(recipe));
  }
}
