#!/usr/bin/env bash
# lab/lab down: stops the lab's processes by their recorded PIDs and removes exactly the namespaces, links,
# iptables rule and directories listed in $LAB_RUN/created.list, then $LAB_RUN itself. Safe to run twice.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
need_root
if [ ! -d "$LAB_RUN" ]; then log "down: the lab is not up (no $LAB_RUN); nothing to do"; exit 0; fi

# Node daemons first (they talk to the apiserver), then the control plane, etcd last.
for f in "$LAB_RUN"/pids/flanneld-*.pid "$LAB_RUN"/pids/kwok-*.pid; do [ -e "$f" ] && stop_pidfile "$f"; done
for c in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_pidfile "$LAB_RUN/pids/$c.pid"; done

# Keep the last run's logs for debugging, in the build cache rather than anywhere new.
if [ -d "$LAB_RUN/logs" ]; then
  rm -rf "$LAB_CACHE/last-run-logs"; mkdir -p "$LAB_CACHE/last-run-logs"
  cp -r "$LAB_RUN/logs/." "$LAB_CACHE/last-run-logs/" 2>/dev/null
  for d in "$LAB_RUN"/nodes/*/; do [ -f "$d/flanneld.log" ] && cp "$d/flanneld.log" "$LAB_CACHE/last-run-logs/flanneld-$(basename "$d").log"; done
fi

if [ -f "$LAB_RUN/created.list" ]; then
  # reverse order: pod netns before node netns, node links before the bridge
  tac "$LAB_RUN/created.list" | while read -r kind name; do
    case $kind in
      netns) ip netns del "$name" 2>/dev/null ;;
      link) ip link del "$name" 2>/dev/null ;;
      iptables-forward)
        iptables -D FORWARD -i "$name" -o "$name" -m comment --comment kubectl-flannel-lab -j ACCEPT 2>/dev/null ;;
    esac
  done
fi
# an underlay-drop fault left unhealed lives in the root netns (the bridge's nft table), not in any node
for t in $(nft list tables bridge 2>/dev/null | awk -v p="kfl${LAB_INSTANCE}_underlay_" 'index($3, p) == 1 {print $3}'); do
  nft delete table bridge "$t" 2>/dev/null
done
rm -rf "$LAB_RUN"
# the shared mount-point directories the lab created: only when no other instance is up, only if still empty
if ! ls /var/run/kubectl-flannel-lab*/state.env >/dev/null 2>&1 && [ -f "$LAB_CACHE/created-mountpoints.list" ]; then
  sort -u "$LAB_CACHE/created-mountpoints.list" | while read -r d; do
    [ -d "$d" ] && find "$d" -depth -type d -empty -delete 2>/dev/null
    [ -e "$d" ] && log "down: left $d in place: it is not empty"
  done
  rm -f "$LAB_CACHE/created-mountpoints.list"
fi
left=$(ip netns list | awk '{print $1}' | grep -E "^($LAB_PREFIX-node[0-9]+|$LAB_POD_NETNS_PREFIX)" || true)
[ -z "$left" ] || log "down: warning: namespaces still present: $left"
ip link show "$LAB_BRIDGE" >/dev/null 2>&1 && log "down: warning: $LAB_BRIDGE still present"
log "down: lab removed"
