# Image setpoint-operator, rendered from images/recipes.ts (npm run images:dockerfile); do not edit.
# The real-pod tests build their image from the same recipe (test/support/real-node/images.ts).
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

# --- runtime: Debian packages, production dependencies and compiled code ---
FROM node:20-slim
RUN apt-get update && apt-get install -y --no-install-recommends libnss-wrapper ca-certificates && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV="production"
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts skips our own prepare (it needs dev dependencies); the PostgreSQL packages'
# install script (it restores their library symlinks) is then run explicitly.
RUN npm ci --omit=dev --ignore-scripts && npm rebuild pg14 pg15 pg16 pg17 pg18 && npm cache clean --force
COPY --from=build /src/dist ./dist
# Any runAsUser works (nss_wrapper); the Deployment's root filesystem is read-only, scratch data
# goes to the emptyDir at /tmp (components/operator.ts).
USER 1000:1000
ENTRYPOINT ["node","dist/sdk/operator/main.js"]
