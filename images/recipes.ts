/**
 * The one recipe of each image Setpoint ships, as data. Two builders read it: the production
 * Dockerfile is rendered from it (`renderDockerfile`; a test fails when the committed Dockerfile
 * differs), and the real-pod tier builds its test image from it without a registry (a Debian
 * root filesystem from `debootstrap` plus the same packages, Node.js, files, environment, user and
 * entry point; test/support/real-node/images.ts). So what the tests run is what users run, built
 * two ways from one description (ADR 0017).
 */
import { OPERATOR_NODE_OPTIONS } from "../sdk/operator/process";
import { CACHE_DIR_ENV, INSTALL_ENV } from "../sdk/postgres/binaries";
import { INSTANCE_ENV } from "../sdk/instance/settings";
import { INSTANCE_IMAGE, INSTANCE_MANAGER, INSTANCE_UID } from "../sdk/operator/cluster/objects";
import { DEFAULT_MAJOR, SUPPORTED_MAJORS, type PostgresMajor } from "../sdk/postgres/versions";

/** One image: a Debian release with Node.js, packages from Debian, files from the repository. */
export interface ImageRecipe {
  /** Image name (the test image is imported as `docker.io/library/<name>:<tag>`). */
  readonly name: string;
  /** Debian release of the root filesystem. */
  readonly debian: "bookworm";
  /** Node.js major in the image (`node:<major>-slim` in the Dockerfile, the host's `node` in tests). */
  readonly nodeMajor: number;
  /** Debian packages installed on top (without recommends). */
  readonly packages: readonly string[];
  /** Working directory, where `files` are copied. */
  readonly workdir: string;
  /**
   * Files and directories of the built repository copied into `workdir`. `node_modules` means the
   * production dependencies (`npm ci --omit=dev`).
   */
  readonly files: readonly string[];
  /**
   * PostgreSQL majors installed at build time into `postgresDir` through the path a library user's
   * first use takes (`ensurePostgresBinaries`, ADR 0011); the running image never downloads.
   */
  readonly postgresMajors: readonly PostgresMajor[];
  /** Where they are installed (the image's `SETPOINT_POSTGRES_CACHE_DIR`). */
  readonly postgresDir: string;
  /**
   * When set, the image holds exactly one PostgreSQL major, chosen at build time by this build
   * argument (its default: `postgresMajors[0]`) and recorded in the image's
   * `SETPOINT_POSTGRES_MAJOR`; `postgresMajors` then lists that default only.
   */
  readonly postgresMajorArg?: string;
  /** Default arguments of the entry point (the Dockerfile's CMD). @default none */
  readonly cmd?: readonly string[];
  /** Environment of the image. */
  readonly env: Readonly<Record<string, string>>;
  /** `uid:gid` the image runs as (any other `runAsUser` works as well). */
  readonly user: string;
  readonly entrypoint: readonly string[];
}

/** The operator image, deployed by the `Operator` component (components/operator.ts). */
export const OPERATOR_IMAGE: ImageRecipe = {
  name: "setpoint-operator",
  debian: "bookworm",
  nodeMajor: 20,
  // nss_wrapper: initdb of the embedded dev server under a uid without a passwd entry.
  packages: ["libnss-wrapper", "ca-certificates"],
  workdir: "/app",
  files: ["package.json", "package-lock.json", ".npmrc", "node_modules", "dist"],
  postgresMajors: SUPPORTED_MAJORS,
  postgresDir: "/opt/setpoint/postgres",
  env: { NODE_ENV: "production", NODE_OPTIONS: OPERATOR_NODE_OPTIONS, [CACHE_DIR_ENV]: "/opt/setpoint/postgres", [INSTALL_ENV]: "never" },
  user: "1000:1000",
  entrypoint: ["node", "dist/sdk/operator/main.js"],
};

/**
 * Setpoint's PostgreSQL instance image (`setpoint-postgres:<major>`), whose PID 1 is the instance
 * manager (sdk/instance, ADR 0020): Debian, Node.js, production dependencies and `dist/` as the
 * operator image has them (so the two share the Debian root and `node_modules` caches of the test
 * builder), plus exactly one PostgreSQL major's server binaries, chosen by the build argument
 * `POSTGRES_MAJOR`. nss_wrapper gives initdb a user name for any `runAsUser`.
 */
export const INSTANCE_IMAGE_RECIPE: ImageRecipe = {
  name: INSTANCE_IMAGE,
  debian: "bookworm",
  nodeMajor: 20,
  packages: ["libnss-wrapper", "ca-certificates"],
  workdir: "/app",
  files: ["package.json", "package-lock.json", ".npmrc", "node_modules", "dist"],
  postgresMajors: [DEFAULT_MAJOR],
  postgresMajorArg: "POSTGRES_MAJOR",
  postgresDir: "/opt/setpoint/postgres",
  env: { NODE_ENV: "production", [CACHE_DIR_ENV]: "/opt/setpoint/postgres", [INSTALL_ENV]: "never" },
  user: `${INSTANCE_UID}:${INSTANCE_UID}`,
  entrypoint: [...INSTANCE_MANAGER],
  cmd: ["run"],
};

/** Where the instance image's Dockerfile is committed (relative to the repository, the build context). */
export const INSTANCE_DOCKERFILE = "images/postgres.Dockerfile";

/** The instance image's recipe for one major (what the test builder builds, and `--build-arg POSTGRES_MAJOR=<major>` gives). */
export function instanceImageRecipe(major: PostgresMajor): ImageRecipe {
  return { ...INSTANCE_IMAGE_RECIPE, postgresMajors: [major], env: { ...INSTANCE_IMAGE_RECIPE.env, [INSTANCE_ENV.major]: String(major) } };
}

/**
 * The program that installs `recipe.postgresMajors` with the built package (`dist/`); the Dockerfile
 * and the test image builder run the same one. Reads the cache directory from the environment, and
 * installs there even where a `pg<major>` package is resolvable (the repository's dev install).
 */
export function postgresInstallScript(recipe: ImageRecipe): string {
  // With a major build argument, the one major comes from the image's SETPOINT_POSTGRES_MAJOR.
  const majors = recipe.postgresMajorArg === undefined ? JSON.stringify(recipe.postgresMajors) : `[Number(process.env.${INSTANCE_ENV.major})]`;
  return `const b = require("./dist/sdk/postgres/index.js"); (async () => { for (const m of ${majors}) console.log((await b.ensurePostgresBinaries(m, { packageAliases: false })).binDir); })().catch((e) => { console.error(e.message); process.exit(1); })`;
}

/**
 * The production Dockerfile of `recipe`: a build stage compiling TypeScript, then the runtime stage. Pure.
 * @param file where the Dockerfile is written, relative to the repository (the build context). @default Dockerfile
 */
export function renderDockerfile(recipe: ImageRecipe, file = "Dockerfile"): string {
  const json = (v: readonly string[]): string => JSON.stringify(v);
  const deps = recipe.files.filter((f) => f !== "node_modules" && f !== "dist");
  const arg = recipe.postgresMajorArg;
  const build = arg === undefined ? `docker build -t ${recipe.name}:dev .` : `docker build -f ${file} --build-arg ${arg}=${recipe.postgresMajors[0]} -t ${recipe.name}:${recipe.postgresMajors[0]} .`;
  const env = Object.entries(recipe.env).filter(([k]) => arg === undefined || k !== INSTANCE_ENV.major);
  return [
    `# Image ${recipe.name}, rendered from images/recipes.ts (npm run images:dockerfile); do not edit.`,
    "# The real-pod tests build their image from the same recipe (test/support/real-node/images.ts).",
    "#",
    `#   ${build}`,
    "",
    "# --- build: compile TypeScript to dist/ ---",
    `FROM node:${recipe.nodeMajor}-slim AS build`,
    "WORKDIR /src",
    `COPY ${deps.join(" ")} ./`,
    "# No lifecycle scripts (prepare would build before the sources are here).",
    "RUN npm ci --ignore-scripts",
    "COPY tsconfig.json tsconfig.build.json ./",
    "COPY sdk ./sdk",
    "COPY components ./components",
    "RUN npx tsc -p tsconfig.build.json",
    "",
    "# --- runtime: Debian packages, production dependencies and compiled code ---",
    `FROM node:${recipe.nodeMajor}-slim`,
    ...(arg === undefined ? [] : [`# Exactly one PostgreSQL major per image (${SUPPORTED_MAJORS.join(", ")}).`, `ARG ${arg}=${recipe.postgresMajors[0]}`, `ENV ${INSTANCE_ENV.major}=$${arg}`]),
    `RUN apt-get update && apt-get install -y --no-install-recommends ${recipe.packages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
    ...env.map(([k, v]) => `ENV ${k}=${JSON.stringify(v)}`),
    `WORKDIR ${recipe.workdir}`,
    `COPY ${deps.join(" ")} ./`,
    "# --ignore-scripts skips our own prepare (it needs dev dependencies).",
    "RUN npm ci --omit=dev --ignore-scripts",
    "COPY --from=build /src/dist ./dist",
    ...(arg === undefined
      ? ["# The PostgreSQL majors the schema engine's dev servers may need, installed through the path a", "# library user's first use takes (ADR 0011); the running operator never downloads."]
      : ["# The image's PostgreSQL major, installed through the path a library user's first use takes", "# (ADR 0011); the running instance never downloads."]),
    `RUN ${INSTALL_ENV}= node -e ${JSON.stringify(postgresInstallScript(recipe))} && npm cache clean --force`,
    ...(arg === undefined
      ? ["# Any runAsUser works (nss_wrapper); the Deployment's root filesystem is read-only, scratch data", "# goes to the emptyDir at /tmp (components/operator.ts)."]
      : ["# Any runAsUser works (nss_wrapper); the pod's fsGroup makes a fresh volume writable (sdk/operator/cluster/objects.ts)."]),
    `USER ${recipe.user}`,
    `ENTRYPOINT ${json(recipe.entrypoint)}`,
    ...(recipe.cmd === undefined ? [] : [`CMD ${json(recipe.cmd)}`]),
    "",
  ].join("\n");
}

/**
 * An image of Debian packages only — no Node.js, no repository files: the PgBouncer pods'.
 * The same two builders read it (the rendered Dockerfile, and the real-pod tier's debootstrap
 * root with these packages; test/support/real-node/images.ts `packageRootfs`).
 */
export interface PackageImageRecipe {
  /** Image name (the test image is imported as `docker.io/library/<name>:<tag>`). */
  readonly name: string;
  readonly debian: "bookworm";
  /** Debian packages installed (without recommends). */
  readonly packages: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** `uid:gid` the image runs as. */
  readonly user: string;
  readonly entrypoint: readonly string[];
}

/**
 * The pooler image (ADR 0022): Debian's `pgbouncer`, run as an unprivileged uid (PgBouncer
 * refuses root) with its configuration file as the only argument, which the operator's pods pass
 * (sdk/operator/cluster/pooler.ts). It writes nothing to its root filesystem: no pid file, no log
 * file (stderr), no Unix socket.
 */
export const POOLER_IMAGE: PackageImageRecipe = {
  name: "setpoint-pooler",
  debian: "bookworm",
  packages: ["pgbouncer"],
  env: {},
  user: "1000:1000",
  entrypoint: ["/usr/sbin/pgbouncer"],
};

/** The production Dockerfile of a {@link PackageImageRecipe}: Debian slim plus the packages. Pure. */
export function renderPackageDockerfile(recipe: PackageImageRecipe): string {
  return [
    `# Image ${recipe.name}, rendered from images/recipes.ts (npm run images:dockerfile); do not edit.`,
    "# The real-pod tests build their image from the same recipe (test/support/real-node/images.ts).",
    "#",
    `#   docker build -t ${recipe.name}:dev -f images/${recipe.name}.Dockerfile images`,
    "",
    `FROM debian:${recipe.debian}-slim`,
    `RUN apt-get update && apt-get install -y --no-install-recommends ${recipe.packages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
    ...Object.entries(recipe.env).map(([k, v]) => `ENV ${k}=${JSON.stringify(v)}`),
    `USER ${recipe.user}`,
    `ENTRYPOINT ${JSON.stringify(recipe.entrypoint)}`,
    "",
  ].join("\n");
}
