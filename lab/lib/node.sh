# Node objects as the lab registers them: up.sh at start, and the podCIDR faults and `lab/lab reregister-node`
# when a Node is registered again (what a kubelet does after its Node was deleted).

# register_node I [CIDR...]: create Node I (kfl-nodeI) with its labels, k3s's annotations on --flavor k3s, and
# spec.podCIDR(s) = the CIDRs given (none: a Node kube-controller-manager gave no range). Status (addresses,
# conditions) is KWOK's, as it is the kubelet's.
register_node() {
  local i=$1 n k3s_annotations="" cidrs=""; shift
  n=$(node_name "$i")
  # k3s's agent annotates its Node (k3s.io/node-args, …); the kubelet it embeds reports v<k8s>+k3s1.
  [ "${FLAVOR:-kube-flannel}" = k3s ] && k3s_annotations="  annotations: {k3s.io/node-args: '[\"agent\"]', k3s.io/hostname: $n, k3s.io/internal-ip: $(node_ip "$i")}"
  [ $# -gt 0 ] && cidrs="  podCIDR: $1
  podCIDRs: [$(printf '"%s",' "$@" | sed 's/,$//')]"
  lab_kubectl create -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $n
  labels: {kubernetes.io/hostname: $n, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
$k3s_annotations
spec:
$([ -n "$cidrs" ] && echo "$cidrs" || echo "  {}")
NODE
}

# lab_pod_cidrs I: the ranges up.sh gives node I, per IP family.
lab_pod_cidrs() {
  case ${IP_FAMILY:-ipv4} in
    ipv4) echo "10.244.$1.0/24" ;;
    dual) echo "10.244.$1.0/24 fd00:10:244:$1::/64" ;;
    ipv6) echo "fd00:10:244:$1::/64" ;;
  esac
}

wait_node_ready() {  # wait_node_ready NODE: until KWOK reports the (re-registered) Node Ready
  local i
  for i in $(seq 120); do
    [ "$(lab_kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] && return 0
    sleep 0.5
  done
  die "node $1 did not become Ready after it registered again"
}

# reregister_node NODE [CIDR...]: what a kubelet does when its Node object is gone: it registers the Node again
# (labels and, on k3s, annotations as up.sh made them; no flannel annotations, which are flanneld's), with the
# ranges given. The node's pods stay: they are bound by name and the pod garbage collector waits 40 s before it
# deletes pods of a missing Node.
reregister_node() {
  local n=$1; shift
  lab_kubectl delete node "$n" --ignore-not-found >/dev/null
  register_node "$(node_index "$n")" "$@"
  wait_node_ready "$n"
}
node_index() { local i=0 m; for m in $NODE_NAMES; do i=$((i + 1)); [ "$m" = "$1" ] && { echo $i; return; }; done; return 1; }

# restore_node_range NODE CIDR...: the Node holds exactly these ranges again: patched onto a Node that has none
# (spec.podCIDR may be set while empty), otherwise the Node is registered again with them. When the node's cni0 is
# no longer in the first range (a printed fix moved the node), its test pods and cni0 follow, as after a drain:
# the pods deleted, cni0 deleted, flanneld restarted on the range, the pods created again (CNI ADD re-creates cni0).
restore_node_range() {
  local n=$1 now pods p; shift
  now=$(lab_kubectl get node "$n" -o json | jq -r '.spec.podCIDRs // [] | join(" ")')
  if [ "$now" != "$*" ]; then
    if [ -z "$now" ]; then
      lab_kubectl patch node "$n" --type merge -p "$(jq -cn --args '{spec: {podCIDR: $ARGS.positional[0], podCIDRs: $ARGS.positional}}' "$@")" >/dev/null
    else
      reregister_node "$n" "$@"
    fi
  fi
  local gw="${1%.0/*}.1/${1#*/}"
  ip netns exec "$n" ip -4 -o addr show dev cni0 2>/dev/null | grep -q " $gw " && return 0
  pods=$(lab_kubectl -n kfl-e2e get pods --field-selector "spec.nodeName=$n" -o jsonpath='{.items[*].metadata.name}')
  for p in $pods; do "$LAB_SRC/pods.sh" pod-del "$p"; done
  ip netns exec "$n" ip link delete cni0 2>/dev/null || true
  stop_flanneld "$n"; start_flanneld "$n"; wait_flanneld "$n"
  for p in $pods; do "$LAB_SRC/pods.sh" pod-add "$n" "$p" >/dev/null; done
}

# free_ranges: what kube-controller-manager's range allocator gives a Node registered now, per IP family of the
# lab: the lowest /24 of the cluster CIDR (10.244.0.0/16) and the lowest /64 of fd00:10:244::/56 that no Node holds
# (after a start it marks every Node's range used and searches from the beginning). The lab's ranges are all of
# that size and alignment, so "no Node holds it" is a comparison of texts.
free_ranges() {
  local used j out=""
  used=$(lab_kubectl get nodes -o json | jq -r '.items[].spec.podCIDRs // [] | .[]')
  if [ "${IP_FAMILY:-ipv4}" != ipv6 ]; then
    for j in $(seq 0 255); do grep -qx "10.244.$j.0/24" <<<"$used" || { out="10.244.$j.0/24"; break; }; done
    [ -n "$out" ] || die "no free /24 left in 10.244.0.0/16"
  fi
  if [ "${IP_FAMILY:-ipv4}" != ipv4 ]; then
    for j in $(seq 0 255); do grep -qx "fd00:10:244:$(printf %x "$j")::/64" <<<"$used" || { out="$out fd00:10:244:$(printf %x "$j")::/64"; break; }; done
  fi
  echo $out
}
