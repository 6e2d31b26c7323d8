#!/usr/bin/env bash
# Runs proxymgr on proxymgr.example.yml with four demo HTTP backends. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# proxymgr supports Node.js 22.12 and newer: on an older system Node.js, run on an official 24
# fetched once from the npm registry (scripts/node-runtime.sh).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null; then
  PATH="$(bash scripts/node-runtime.sh 24):$PATH"
  export PATH
fi
bash scripts/install-deps.sh
npm run --silent build
node scripts/demo-backends.js 9001 9002 9003 9004 &
backends=$!
trap 'kill $backends 2>/dev/null || true' EXIT
# The dashboard's buttons ask for this token once per browser tab.
export PROXYMGR_TOKEN="${PROXYMGR_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
cat >&2 <<MSG
proxymgr demo: web on localhost:8080 (static list; /docs goes to the docs service), api on localhost:8081 (servers file)
  curl localhost:8080/       curl localhost:8080/docs       curl localhost:8081/
  dashboard: http://127.0.0.1:8787/   (API token: $PROXYMGR_TOKEN)
  edit watchers/api.servers or add watchers/NAME.json and watch HAProxy follow; Ctrl-C to stop.
MSG
node dist/cli.js run -c proxymgr.example.yml
