# Image setpoint-pooler, rendered from images/recipes.ts (npm run images:dockerfile); do not edit.
# The real-pod tests build their image from the same recipe (test/support/real-node/images.ts).
#
#   docker build -t setpoint-pooler:dev -f images/setpoint-pooler.Dockerfile images

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends pgbouncer && rm -rf /var/lib/apt/lists/*
USER 1000:1000
ENTRYPOINT ["/usr/sbin/pgbouncer"]
