#!/usr/bin/env bash
# The test command: sets up (idempotent), then runs every test with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PATH="$PWD/node_modules/.bin:$PATH"   # the pinned Node runtime
shopt -s globstar nullglob
files=(dist/test/**/*.test.js)
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
