#!/usr/bin/env bash
# The test command. Stage 1: set up (idempotent), then every unit, fixture, live-netns and CLI test.
# Stage 2: the real-flannel lab (lab/ci-stage.sh): builds the upstream binaries if they are not cached,
# brings a lab up per backend, runs test/e2e against it, and tears it down.
# Stage 3: packaging (scripts/package-test.sh): the release archives installed with real krew and run through
# kubectl without node (on the bundled example and a lab), and the npm package installed offline.
#   scripts/test.sh            every stage
#   scripts/test.sh --unit     stage 1 only (no lab)
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || { echo "setup: 0 passed, 1 failed"; exit 1; }
PATH="$PWD/node_modules/.bin:$PATH"   # the pinned Node runtime
# Formatter and linter (biome.json): layout and lint rules are decided by the tool, not by review.
biome ci --reporter=summary . || { echo "lint: 0 passed, 1 failed"; exit 1; }
shopt -s globstar nullglob
files=(dist/test/**/*.test.js)
tap=$(mktemp)
node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "${files[@]}"
unit=$?
count() { awk -v k="$2" '$1=="#" && $2==k {print $3; exit}' "$1"; }
up=$(count "$tap" pass) uf=$(count "$tap" fail); up=${up:-0} uf=${uf:-0}
rm -f "$tap"
echo "unit: $up passed, $uf failed"
[ "${1:-}" = "--unit" ] && exit $unit
lablog=$(mktemp)
lab/ci-stage.sh | tee "$lablog"
lab=${PIPESTATUS[0]}
lp=$(sed -n 's/^lab: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$lablog" | tail -1)
lf=$(sed -n 's/^lab: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$lablog" | tail -1)
rm -f "$lablog"
if [ $lab = 3 ]; then
  # The cold build of Kubernetes did not fit its time budget; the cache keeps what was built for the next run.
  # A developer's run may go on without the lab; CI may not: an unrun lab stage proves nothing.
  if [ "${CI:-}" = true ]; then
    echo "lab stage NOT RUN (cold build unfinished within its budget): CI fails, the lab e2e tests did not run"
    lf=$(( ${lf:-0} + 1 ))
  else
    echo "lab stage NOT RUN (cold build unfinished within its budget); stage 1 result stands (CI=true would fail)"
    lab=0
  fi
fi
pkglog=$(mktemp)
scripts/package-test.sh | tee "$pkglog"
pkg=${PIPESTATUS[0]}
pp=$(sed -n 's/^package: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$pkglog" | tail -1)
pf=$(sed -n 's/^package: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$pkglog" | tail -1)
[ -n "$pf" ] || pf=1   # the stage died before its count
rm -f "$pkglog"
echo "total: $((up + ${lp:-0} + ${pp:-0})) passed, $((uf + ${lf:-0} + pf)) failed"
[ $unit = 0 ] && [ $lab = 0 ] && [ $pkg = 0 ]
