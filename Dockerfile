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
# No lifecycle scripts (prepare would build before the sources are here).
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY sdk ./sdk
COPY components ./components
RUN npx tsc -p tsconfig.build.json

# --- runtime: production dependencies and compiled code only ---
FROM node:20-slim
ENV NODE_ENV=production
# The operator's Node options (sdk/operator/process.ts, OPERATOR_NODE_OPTIONS): heap limits, so
# garbage is collected before the process grows past its container's memory.
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts skips our own prepare (it needs dev dependencies).
RUN npm ci --omit=dev --ignore-scripts
COPY --from=build /src/dist ./dist
# The PostgreSQL majors the schema engine's dev servers may need, installed at build time through
# the same on-demand path a library user takes (sdk/postgres/binaries.ts, ADR 0011); the running
# operator finds them there and never downloads.
ENV SETPOINT_POSTGRES_CACHE_DIR=/opt/setpoint/postgres SETPOINT_POSTGRES_INSTALL=never
RUN SETPOINT_POSTGRES_INSTALL= node -e 'const b = require("./dist/sdk/postgres/index.js"); \
      (async () => { for (const m of [14, 15, 16, 17, 18]) console.log((await b.ensurePostgresBinaries(m)).binDir); })() \
      .catch((e) => { console.error(e.message); process.exit(1); })' \
    && npm cache clean --force
# The `node` user of the base image (uid/gid 1000) matches the Deployment's runAsUser.
USER 1000:1000
ENTRYPOINT ["node", "dist/sdk/operator/main.js"]
