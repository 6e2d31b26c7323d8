# proxymgr with Debian's HAProxy 2.6.
#   docker build -t proxymgr .
#   docker run --network host -v /etc/proxymgr:/etc/proxymgr:ro -e PROXYMGR_TOKEN=... proxymgr
# The same install steps run outside Docker in CI (scripts/install-deps.sh, test/integration/shipping.test.ts);
# the file is linted there with dockerfile-utils.

# Node.js 24, the LTS line every test runs on (scripts/test.sh); both stages take it from here.
# The other supported lines build the same way: docker build --build-arg NODE_MAJOR=22 -t proxymgr .
ARG NODE_MAJOR=24

# Build with the dev dependencies (TypeScript), then keep only the production ones.
FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_MAJOR}-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/proxymgr
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json proxymgr.example.yml ./
COPY templates ./templates
COPY web ./web
COPY watchers ./watchers
# The agent and HAProxy run as the image's unprivileged node user, so every directory the
# default paths write to is the node user's: /etc/haproxy (haproxy.config_path and the
# server-state file beside it, written by rename), /run/proxymgr (the admin socket and
# overrides.json) and /opt/proxymgr/run (the shipped proxymgr.example.yml's run/).
# /etc/proxymgr holds proxymgr.yml and is mounted read-only. A proxymgr.yml that moves
# these paths must point them at a directory the node user can write.
RUN mkdir -p /etc/haproxy /run/proxymgr /opt/proxymgr/run /etc/proxymgr \
 && chown node:node /etc/haproxy /run/proxymgr /opt/proxymgr/run
USER node
EXPOSE 8787
# Healthy while /readyz answers 200 (HAProxy runs the desired config; 503 otherwise). The API
# must be enabled in proxymgr.yml, on its default 127.0.0.1:8787.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/readyz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/opt/proxymgr/dist/cli.js"]
CMD ["run", "-c", "/etc/proxymgr/proxymgr.yml"]
