#!/usr/bin/env bash
# Benchmark: doctor against the running lab (LAB_INSTANCE selects which), RUNS times (default 3). Prints the
# node count, each run's wall time, the median, and what one run cost the API server by its own counters
# (apiserver_request_total from /metrics): exec sessions and all requests.
#   LAB_INSTANCE=4 bench/lab-doctor.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. lab/lib/env.sh
RUNS=${1:-3}
[ -f "$KUBECONFIG_PATH" ] || { echo "lab $LAB_INSTANCE is not up ($KUBECONFIG_PATH missing): nothing measured"; exit 0; }
k() { KUBECONFIG=$KUBECONFIG_PATH "$K8S_DIR/bin/kubectl" "$@"; }
# sum of apiserver_request_total, optionally only the series matching $1
requests() { k get --raw /metrics | awk -v m="${1:-}" '/^apiserver_request_total\{/ && index($0, m) {s += $NF} END {printf "%d\n", s}'; }
nodes=$(k get nodes --no-headers | wc -l)
times=()
for i in $(seq "$RUNS"); do
  e0=$(requests 'subresource="exec"'); a0=$(requests)
  t0=$(date +%s.%N)
  "${KF_BIN:-bin/kubectl-flannel}" doctor --kubeconfig "$KUBECONFIG_PATH" -o json > /tmp/kf-bench-doctor.json 2>/dev/null || true
  t1=$(date +%s.%N)
  e1=$(requests 'subresource="exec"'); a1=$(requests)
  collected=$(jq '.summary.nodesCollected' /tmp/kf-bench-doctor.json)
  # the two /metrics reads themselves count as requests: take them out
  printf 'run %d: %.2f s, %d exec requests, %d API requests, %d/%d nodes collected\n' \
    "$i" "$(echo "$t1 - $t0" | bc)" $((e1 - e0)) $((a1 - a0 - 2)) "$collected" "$nodes"
  times+=("$(echo "$t1 - $t0" | bc)")
done
rm -f /tmp/kf-bench-doctor.json
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'nodes: %d, median wall time over %d runs: %.2f s\n' "$nodes" "$RUNS" "$median"
