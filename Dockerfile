# Image of the Setpoint operator, deployed by the `Operator` Pulumi component
# (components/operator.ts).
#
# Entry point: dist/sdk/operator/main.js (sdk/operator/main.ts). The embedded PostgreSQL binaries
# are included so the operator can normalize desired schemas without a dev server (--dev-url).
# Not built here: this workplace has no Docker daemon.
#
#   docker build -t setpoint-operator:dev .

# --- build: compile TypeScript to dist/ ---
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# No lifecycle scripts (prepare would build before the sources are here), no embedded
# PostgreSQL binaries (optional dependencies used only by tests and the demo).
RUN npm ci --ignore-scripts --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY sdk ./sdk
COPY components ./components
RUN npx tsc -p tsconfig.build.json

# --- runtime: production dependencies and compiled code only ---
FROM node:20-slim
ENV NODE_ENV=production
# nss_wrapper: the embedded dev server's initdb needs a passwd entry for the user it runs as, and a
# pod may run the image as any runAsUser (sdk/postgres/embedded.ts provides the entry through it).
RUN apt-get update && apt-get install -y --no-install-recommends libnss-wrapper && rm -rf /var/lib/apt/lists/*
# The operator's Node options (sdk/operator/process.ts, OPERATOR_NODE_OPTIONS): heap limits, so
# garbage is collected before the process grows past its container's memory.
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts skips our own prepare (it needs dev dependencies); the PostgreSQL packages'
# install script (it restores their library symlinks) is then run explicitly.
RUN npm ci --omit=dev --ignore-scripts && npm rebuild pg14 pg15 pg16 pg17 pg18 && npm cache clean --force
COPY --from=build /src/dist ./dist
# The `node` user of the base image (uid/gid 1000) matches the Deployment's runAsUser; any other
# works too. The root filesystem is read-only in the Deployment: scratch data goes to the emptyDir
# mounted at /tmp (TMPDIR, SETPOINT_SCRATCH_DIR, SETPOINT_CACHE_DIR; see components/operator.ts).
USER 1000:1000
ENTRYPOINT ["node", "dist/sdk/operator/main.js"]
