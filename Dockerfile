# proxymgr with Debian's HAProxy 2.6.
#   docker build -t proxymgr .
#   docker run --network host -v /etc/proxymgr:/etc/proxymgr:ro -e PROXYMGR_TOKEN=... proxymgr
# The same install steps run outside Docker in CI (scripts/install-deps.sh, test/integration/package.test.ts);
# the file is linted there with dockerfile-utils.

# Build with the dev dependencies (TypeScript), then keep only the production ones.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
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
# HAProxy's runtime files go to /run/proxymgr; the agent and HAProxy run as the image's unprivileged node user.
RUN mkdir -p /run/proxymgr /etc/proxymgr \
 && chown node:node /run/proxymgr
USER node
EXPOSE 8787
# Healthy while /status says good (the API must be enabled in proxymgr.yml, on its default 127.0.0.1:8787).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/status').then(r=>r.text()).then(t=>process.exit(/^good true$/m.test(t)?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/opt/proxymgr/dist/cli.js"]
CMD ["run", "-c", "/etc/proxymgr/proxymgr.yml"]
