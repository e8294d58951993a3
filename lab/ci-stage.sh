#!/usr/bin/env bash
# The lab stage of .ci/run: build the upstream binaries if they are not cached (with a time guard), then for each
# backend bring up a lab, run the end-to-end tests (test/e2e) against it and tear it down, whatever happens.
# Prints one "N passed, N failed" line per backend and a total; exits non-zero if any test failed.
#   LAB_CI_BACKENDS   backends to run, each BACKEND[:FLAVOR] (default: vxlan host-gw vxlan-directrouting udp
#                     vxlan:k3s vxlan:nftables vxlan:dual). FLAVOR k3s runs k3s's packaging (--flavor k3s), nftables
#                     flanneld's nftables mode (--nftables), dual|ipv6 the IP family (--ip-family); these flavors run
#                     the reduced fault set LAB_CI_FLAVOR_FAULTS
#                     (the full catalog runs on the four plain backends), to keep the stage inside its time budget.
#   LAB_CI_BUILD_BUDGET  seconds the build may start steps in (default 2700 = 45 min); past it the stage stops
#                        with exit 3 and says so, keeping what was built for the next run
#   LAB_INSTANCE      lab instance to use (default 9, so CI never touches a developer's lab on instance 0)
set -uo pipefail
export LAB_INSTANCE=${LAB_INSTANCE:-9}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
. "$here/lib/env.sh"
BACKENDS=${LAB_CI_BACKENDS:-vxlan host-gw vxlan-directrouting udp vxlan:k3s vxlan:nftables vxlan:dual}
FLAVOR_FAULTS=${LAB_CI_FLAVOR_FAULTS:-fdb-deleted route-deleted route6-deleted subnet-env-removed cni-conf-removed public-ip-wrong flanneld-hung nft-postrtg-flushed mtu-flannel}
T0=$(date +%s)

[ "$(id -u)" = 0 ] || { echo "lab: 0 passed, 1 failed (the lab stage needs root)"; exit 1; }
for tool in go jq curl openssl iptables tcpdump ip bridge mawk unshare; do
  command -v "$tool" >/dev/null || { echo "lab: 0 passed, 1 failed (missing tool: $tool; scripts/setup.sh installs it)"; exit 1; }
done

# 1. build (cached, keyed by lab/versions.env)
"$here/build.sh" --deadline $((T0 + ${LAB_CI_BUILD_BUDGET:-2700}))
rc=$?
if [ $rc = 3 ]; then
  echo "lab: 0 passed, 0 failed (NOT RUN: the cold build did not finish within ${LAB_CI_BUILD_BUDGET:-2700}s; the next run continues from the cache)"
  exit 3
elif [ $rc != 0 ]; then
  echo "lab: 0 passed, 1 failed (lab build failed)"; exit 1
fi
log "ci: binaries ready after $(( $(date +%s) - T0 ))s"

# 2. the plugin itself
cd "$root"
if [ ! -x node_modules/.bin/tsc ]; then scripts/setup.sh >/dev/null || { echo "lab: 0 passed, 1 failed (scripts/setup.sh failed)"; exit 1; }; fi
node_modules/.bin/tsc -p . || { echo "lab: 0 passed, 1 failed (tsc failed)"; exit 1; }

trap '"$here/down.sh" >/dev/null 2>&1' EXIT
trap 'echo "lab: interrupted"; exit 130' INT TERM   # exit runs the EXIT trap, which tears the lab down
"$here/down.sh" >/dev/null 2>&1   # a previous CI run killed before its trap ran

leftovers() {
  {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^($LAB_PREFIX-node[0-9]+|$LAB_POD_NETNS_PREFIX)" | sed 's/^/netns /'
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep -E "^($LAB_BRIDGE|v-$LAB_PREFIX-node[0-9]+)(@|$)" | sed 's/^/link /'
    iptables -S FORWARD | grep -F -- "-i $LAB_BRIDGE " | sed 's/^/iptables /'
    [ -e "$LAB_RUN" ] && echo "dir $LAB_RUN"
    # read-only look for any process still using this instance's state directory
    for p in /proc/[0-9]*; do tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -qF "$LAB_RUN/" && echo "process ${p#/proc/}"; done
  } | tr '\n' ' '
}
TP=0 TF=0 TT=0 TS=0 lines=()
for entry in $BACKENDS; do
  b=${entry%%:*} flavor=""; [ "$entry" != "$b" ] && flavor=${entry#*:}
  up_args=(--backend "$b") faults_env=()
  case $flavor in
    "") ;;
    k3s) up_args+=(--flavor k3s); faults_env=(KFL_LAB_FAULTS="$FLAVOR_FAULTS") ;;
    nftables) up_args+=(--nftables); faults_env=(KFL_LAB_FAULTS="$FLAVOR_FAULTS") ;;
    dual|ipv6) up_args+=(--ip-family "$flavor"); faults_env=(KFL_LAB_FAULTS="$FLAVOR_FAULTS") ;;
    *) lines+=("lab e2e ($entry): 0 passed, 1 failed (unknown flavor '$flavor')"); TF=$((TF + 1)); continue ;;
  esac
  tb=$(date +%s) tap=$(mktemp)
  if ! "$here/up.sh" "${up_args[@]}" >/dev/null; then
    lines+=("lab e2e ($entry): 0 passed, 1 failed (lab up failed; logs in $LAB_CACHE/last-run-logs)")
    TF=$((TF + 1)); "$here/down.sh" >/dev/null 2>&1; rm -f "$tap"; continue
  fi
  # Live capture (three nodes and a pod into one pcapng, live ESP, the probes) on vxlan and on k3s, whose
  # net-conf.json is on the node: the backend's default interfaces come from there.
  capture_tests=()
  case $entry in vxlan | vxlan:k3s) capture_tests=(dist/test/e2e/capture.test.js) ;; esac
  env "${faults_env[@]}" KFL_LAB_REQUIRED=1 PATH="$root/node_modules/.bin:$PATH" node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination="$tap" \
    dist/test/e2e/healthy.test.js dist/test/e2e/samples.test.js "${capture_tests[@]}" dist/test/e2e/faults.test.js   # healthy first: faults leave real residue (e.g. duplicate-vtepmac's fdb entry flanneld never removes)
  # The cluster-access tests (test/kube/lab*.test.js) need a real apiserver too: run them once, on vxlan.
  if [ "$entry" = vxlan ]; then
    KF_LAB_KUBECONFIG="$LAB_RUN/kubeconfig" PATH="$root/node_modules/.bin:$PATH" node --test --test-concurrency=1 \
      --test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination="$tap.kube" \
      dist/test/kube/lab.test.js dist/test/kube/lab-cli.test.js dist/test/kube/lab-exec-count.test.js
    kc() { awk -v k="$1" '$1=="#" && $2==k {print $3; exit}' "$tap.kube"; }
    kp=$(kc pass) kf=$(kc fail) ks=$(kc skipped)
    kp=${kp:-0} kf=${kf:-0} ks=${ks:-0}
    [ -s "$tap.kube" ] || kf=$((kf + 1))
    lines+=("lab cluster access ($b): $kp passed, $kf failed ($ks skipped)")
    TP=$((TP + kp)) TF=$((TF + kf)) TS=$((TS + ks))
    rm -f "$tap.kube"
  fi
  count() { awk -v k="$1" '$1=="#" && $2==k {print $3; exit}' "$tap"; }
  p=$(count pass) f=$(count fail) td=$(count todo) sk=$(count skipped)
  p=${p:-0} f=${f:-0} td=${td:-0} sk=${sk:-0}
  [ -s "$tap" ] || f=$((f + 1))   # the runner itself died
  lines+=("lab e2e ($entry): $p passed, $f failed ($td todo, $sk skipped; $(( $(date +%s) - tb ))s)")
  TP=$((TP + p)) TF=$((TF + f)) TT=$((TT + td)) TS=$((TS + sk))
  rm -f "$tap"
  "$here/down.sh" >/dev/null 2>&1
  # `down` must leave nothing of this instance behind
  left=$(leftovers)
  if [ -z "$left" ]; then TP=$((TP + 1)); lines+=("lab down ($entry): 1 passed, 0 failed")
  else TF=$((TF + 1)); lines+=("lab down ($entry): 0 passed, 1 failed (left behind: $left)"); fi
done
for l in "${lines[@]}"; do echo "$l"; done
echo "lab: $TP passed, $TF failed ($TT todo, $TS skipped; $(( $(date +%s) - T0 ))s)"
[ "$TF" = 0 ]
