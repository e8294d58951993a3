#!/usr/bin/env bash
# lab/lab status: what runs. Exit 0 when the lab is up and every recorded process is alive, 1 otherwise.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
if [ ! -f "$STATE" ]; then echo "lab: down"; exit 1; fi
. "$STATE"
rc=0
echo "lab: up ($NODES nodes, backend $BACKEND)"
echo "kubeconfig: $KUBECONFIG_PATH"
echo "kubectl: $K8S_DIR/bin/kubectl"
echo "nodes (netns = Node name): $NODE_NAMES"
echo "processes:"
for f in "$LAB_RUN"/pids/*.pid; do
  [ -e "$f" ] || continue
  read -r pid prog < "$f"
  if pid_alive "$f"; then st=running; else st=DEAD; rc=1; fi
  printf '  %-32s pid %-8s %s\n' "$(basename "$f" .pid)" "$pid" "$st"
done
if ls "$LAB_RUN"/faults/*.fault >/dev/null 2>&1; then
  echo "injected faults:"; for f in "$LAB_RUN"/faults/*.fault; do echo "  $(head -1 "$f")"; done
else
  echo "injected faults: none"
fi
if pid_alive "$LAB_RUN/pids/kube-apiserver.pid"; then
  lab_kubectl get nodes -o wide 2>&1 | sed 's/^/  /'
  lab_kubectl get pods -A -o wide 2>&1 | sed 's/^/  /'
fi
exit $rc
