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
      dir)
        # only the empty mount-point chain the lab created; anything someone put inside since is left alone
        find "$name" -depth -type d -empty -delete 2>/dev/null
        [ -e "$name" ] && log "down: left $name in place: it is not empty" ;;
    esac
  done
fi
rm -rf "$LAB_RUN"
left=$(ip netns list | awk '{print $1}' | grep -E "^($LAB_PREFIX-node[0-9]+|kflpod-)" || true)
[ -z "$left" ] || log "down: warning: namespaces still present: $left"
ip link show "$LAB_BRIDGE" >/dev/null 2>&1 && log "down: warning: $LAB_BRIDGE still present"
log "down: lab removed"
