#!/usr/bin/env bash
# The test command. Stage 1: set up (idempotent), then every unit, fixture, live-netns and CLI test.
# Stage 2: the real-flannel lab (lab/ci-stage.sh): builds the upstream binaries if they are not cached,
# brings a lab up per backend, runs test/e2e against it, and tears it down.
#   scripts/test.sh            both stages
#   scripts/test.sh --unit     stage 1 only (no lab)
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || { echo "setup: 0 passed, 1 failed"; exit 1; }
PATH="$PWD/node_modules/.bin:$PATH"   # the pinned Node runtime
shopt -s globstar nullglob
files=(dist/test/**/*.test.js)
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
unit=$?
[ "${1:-}" = "--unit" ] && exit $unit
lab/ci-stage.sh
lab=$?
if [ $lab = 3 ]; then
  # The cold build of Kubernetes did not fit its time budget; the cache keeps what was built for the next run.
  echo "lab stage NOT RUN (cold build unfinished within its budget); stage 1 result stands"
  lab=0
fi
[ $unit = 0 ] && [ $lab = 0 ]
