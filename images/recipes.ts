/**
 * The one recipe of each image Setpoint ships, as data. Two builders read it: the production
 * Dockerfile is rendered from it (`renderDockerfile`; a test fails when the committed Dockerfile
 * differs), and the real-pod tier builds its test image from it without a registry (a Debian
 * root filesystem from `debootstrap` plus the same packages, Node.js, files, environment, user and
 * entry point; test/support/real-node/images.ts). So what the tests run is what users run, built
 * two ways from one description (ADR 0017).
 */
import { OPERATOR_NODE_OPTIONS } from "../sdk/operator/process";

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
   * production dependencies (`npm ci --omit=dev`), with the PostgreSQL packages' binaries.
   */
  readonly files: readonly string[];
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
  env: { NODE_ENV: "production", NODE_OPTIONS: OPERATOR_NODE_OPTIONS },
  user: "1000:1000",
  entrypoint: ["node", "dist/sdk/operator/main.js"],
};

/** The production Dockerfile of `recipe`: a build stage compiling TypeScript, then the runtime stage. Pure. */
export function renderDockerfile(recipe: ImageRecipe): string {
  const json = (v: readonly string[]): string => JSON.stringify(v);
  const deps = recipe.files.filter((f) => f !== "node_modules" && f !== "dist");
  return [
    `# Image ${recipe.name}, rendered from images/recipes.ts (npm run images:dockerfile); do not edit.`,
    "# The real-pod tests build their image from the same recipe (test/support/real-node/images.ts).",
    "#",
    `#   docker build -t ${recipe.name}:dev .`,
    "",
    "# --- build: compile TypeScript to dist/ ---",
    `FROM node:${recipe.nodeMajor}-slim AS build`,
    "WORKDIR /src",
    `COPY ${deps.join(" ")} ./`,
    "# No lifecycle scripts (prepare would build before the sources are here), no embedded",
    "# PostgreSQL binaries (optional dependencies used only by tests and the demo).",
    "RUN npm ci --ignore-scripts --omit=optional",
    "COPY tsconfig.json tsconfig.build.json ./",
    "COPY sdk ./sdk",
    "COPY components ./components",
    "RUN npx tsc -p tsconfig.build.json",
    "",
    "# --- runtime: Debian packages, production dependencies and compiled code ---",
    `FROM node:${recipe.nodeMajor}-slim`,
    `RUN apt-get update && apt-get install -y --no-install-recommends ${recipe.packages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
    ...Object.entries(recipe.env).map(([k, v]) => `ENV ${k}=${JSON.stringify(v)}`),
    `WORKDIR ${recipe.workdir}`,
    `COPY ${deps.join(" ")} ./`,
    "# --ignore-scripts skips our own prepare (it needs dev dependencies); the PostgreSQL packages'",
    "# install script (it restores their library symlinks) is then run explicitly.",
    "RUN npm ci --omit=dev --ignore-scripts && npm rebuild pg14 pg15 pg16 pg17 pg18 && npm cache clean --force",
    "COPY --from=build /src/dist ./dist",
    "# Any runAsUser works (nss_wrapper); the Deployment's root filesystem is read-only, scratch data",
    "# goes to the emptyDir at /tmp (components/operator.ts).",
    `USER ${recipe.user}`,
    `ENTRYPOINT ${json(recipe.entrypoint)}`,
    "",
  ].join("\n");
}
