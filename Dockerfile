# Image of the Setpoint operator, deployed by the `Operator` Pulumi component
# (components/operator.ts).
#
# NOTE: the entry point, dist/sdk/operator/main.js (from sdk/operator/main.ts), does not exist
# yet; the image builds, but the container exits until the operator lands.
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
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# The `node` user of the base image (uid/gid 1000) matches the Deployment's runAsUser.
USER 1000:1000
ENTRYPOINT ["node", "dist/sdk/operator/main.js"]
