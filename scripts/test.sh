#!/usr/bin/env bash
# Installs what is missing, then runs every test: type check, unit tests, and the
# integration tests against a real HAProxy and ZooKeeper started on 127.0.0.1 by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
npm run --silent typecheck
mkdir -p .tmp
status=0
# One test file at a time: integration tests measure timings and load the 2 cores.
npx jest --ci --runInBand --json --outputFile=.tmp/jest.json "$@" || status=$?
node -e '
  const r = require("./.tmp/jest.json");
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' || true
exit $status
