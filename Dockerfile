# proxymgr with Debian's HAProxy 2.6. Build: docker build -t proxymgr .
# Run: docker run --network host -v /etc/proxymgr:/etc/proxymgr proxymgr

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
COPY watchers ./watchers
RUN mkdir -p /run/proxymgr /etc/proxymgr && chown node:node /run/proxymgr
USER node
ENTRYPOINT ["node", "/opt/proxymgr/dist/cli.js"]
CMD ["run", "-c", "/etc/proxymgr/proxymgr.yml"]
