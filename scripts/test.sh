#!/usr/bin/env bash
# Installs what is missing, then runs every test: type check, unit tests, and the
# integration tests against a real HAProxy and ZooKeeper started on 127.0.0.1 by the tests themselves.
#
# The matrix (docs/platforms.md): everything runs on Node.js 24 with the machine's HAProxy
# (Debian 12's 2.6); then the integration tests where HAProxy versions differ run against
# HAProxy 3.0 (Debian 13's, from a private prefix); then the unit tests and a sample of
# integration tests run on Node.js 22 and the unit tests on 26. scripts/node-runtime.sh and
# scripts/haproxy-3.0.sh fetch those once (npm registry, Debian's archive) and cache them.
#
# Arguments go to the first jest run only (bash scripts/test.sh test/unit/model -t name);
# with any, the rest of the matrix is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
node24=$(bash scripts/node-runtime.sh 24)
export PATH="$node24:$PATH"
bash scripts/install-deps.sh --test
npm run --silent typecheck
mkdir -p .tmp
rm -f .tmp/jest-*.json
status=0
# One test file at a time: integration tests measure timings and load the 2 cores.
# --forceExit: once every result is written, jest calls process.exit. Without it, about one
# run in two of the etcd outage and cluster tests ends with jest's process spinning one core
# forever inside Node's own teardown (FreeEnvironment -> CleanupHandles calling uv_run in a
# loop, with libuv reporting no active handle, request or closing handle, and
# process._getActiveHandles() and _getActiveRequests() empty at 'exit'): Node's count of
# pending requests disagrees with libuv's, on Node 20 and 24 alike. No test leaves anything
# open; the agent under test is a process of its own, and its clean exit is tested by
# lifecycle.test.ts.
npx jest --ci --runInBand --forceExit --json --outputFile=.tmp/jest.json "$@" || status=$?

if [ $# -eq 0 ]; then
  # What differs between HAProxy versions: the runtime API, reload handoff, adoption, the
  # server-state file, checks, shared frontends, the typed keys and the blob fuzzer's haproxy -c.
  haproxy30=$(bash scripts/haproxy-3.0.sh)
  PROXYMGR_TEST_HAPROXY="$haproxy30" npx jest --ci --runInBand --forceExit --json --outputFile=.tmp/jest-haproxy-3.0.json \
    test/integration/{runtime-updates,zero-drop-reload,supervisor,lifecycle,drift-repair,shared-frontend,service-options,operator-overrides,fastcgi,unix-ipv6-backends,pooling-cache,frontend-tls,backend-tls,sticky-offline,haproxy-health,haproxy-wedged,rejected-config,priority-classes,config-reload,fcgi-priority-config,metrics,check-version,fuzz-blobs}.test.ts || status=$?

  # The oldest supported Node.js line: the unit tests, the agent's own process (lifecycle),
  # what it reports of itself (metrics), the installed package (shipping) and the etcd client (gRPC).
  node22=$(bash scripts/node-runtime.sh 22)
  PATH="$node22:$PATH" npx jest --ci --runInBand --forceExit --json --outputFile=.tmp/jest-node-22.json \
    test/unit/ test/integration/lifecycle.test.ts test/integration/metrics.test.ts test/integration/shipping.test.ts test/integration/etcd.test.ts || status=$?

  # The newest line `engines` admits: the unit tests.
  node26=$(bash scripts/node-runtime.sh 26)
  PATH="$node26:$PATH" npx jest --ci --runInBand --forceExit --json --outputFile=.tmp/jest-node-26.json --selectProjects unit || status=$?
fi

node -e '
  const runs = [["jest.json", "Node.js 24, HAProxy 2.6, everything"], ["jest-haproxy-3.0.json", "Node.js 24, HAProxy 3.0"], ["jest-node-22.json", "Node.js 22"], ["jest-node-26.json", "Node.js 26, unit"]];
  for (const [file, name] of runs) {
    let r;
    try { r = require(`./.tmp/${file}`); } catch { continue; }
    console.log(`jest (${name}): ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  }
' || true
exit $status
