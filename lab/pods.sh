#!/usr/bin/env bash
# Test pods: a Pod object bound to a node (kwok marks it Running) plus a network namespace wired by the real CNI
# plugins inside that node (flannel -> bridge -> host-local, then portmap), exactly as a kubelet would call them.
#   pods.sh env | pod-add NODE NAME | pod-del NAME | ping SRC DST
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
NS=kfl-e2e
pod_netns() { echo "$LAB_POD_NETNS_PREFIX$1"; }

cni() {  # cni NODE add|del NETNS: cnitool inside the node, with the node's /etc/cni/net.d, /var/lib/cni, /run/flannel
  export LAB_RUN LAB_CNI_BIN
  "$LAB_SRC/lib/node-exec.sh" "$1" env CNI_PATH="$(cni_bin_dir)" NETCONFPATH="$(cni_conf_dir)" CNI_IFNAME=eth0 \
    "$CNITOOL_DIR/bin/cnitool" "$2" cbr0 "/var/run/netns/$3"
}

case ${1:-} in
  env)
    load_state
    echo "KUBECONFIG=$KUBECONFIG_PATH"
    echo "LAB_PATH=$LAB_PATH"
    echo "LAB_NODES=\"$NODE_NAMES\""
    echo "LAB_BACKEND=$BACKEND"
    echo "LAB_FLAVOR=${FLAVOR:-kube-flannel}"
    echo "LAB_NFTABLES=${NFTABLES:-0}"
    echo "LAB_IP_FAMILY=${IP_FAMILY:-ipv4}"
    echo "LAB_POD_NAMESPACE=$NS"
    echo "LAB_RUN=$LAB_RUN"
    echo "LAB_BRIDGE=$LAB_BRIDGE"
    echo "LAB_POD_NETNS_PREFIX=$LAB_POD_NETNS_PREFIX"
    ;;
  pod-add)
    need_root; load_state
    node=${2:?usage: pod-add NODE NAME}; name=${3:?usage: pod-add NODE NAME}
    echo " $NODE_NAMES " | grep -q " $node " || die "pod-add: '$node' is not a lab node (nodes: $NODE_NAMES)"
    netns=$(pod_netns "$name")
    lab_kubectl -n $NS apply -f - >/dev/null <<POD
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $NS, labels: {app: kfl-e2e}}
spec:
  nodeName: $node
  containers: [{name: main, image: registry.k8s.io/pause:3.10}]
POD
    if ! ip netns list | awk '{print $1}' | grep -qx "$netns"; then
      ip netns add "$netns"; echo "netns $netns" >> "$LAB_RUN/created.list"
      ip -n "$netns" link set lo up
    fi
    out=$(cni "$node" add "$netns") || die "pod-add: CNI ADD for $name on $node failed: $out"
    ip=$(echo "$out" | jq -r '.ips[0].address' | cut -d/ -f1)
    # dual-stack: the flannel plugin also hands FLANNEL_IPV6_SUBNET to host-local, so CNI ADD returns both families
    ip6=$(echo "$out" | jq -r '[.ips[].address | select(contains(":"))][0] // empty' | cut -d/ -f1)
    [ -n "$ip6" ] && lab_kubectl -n $NS annotate pod "$name" --overwrite "lab.flannel.dev/pod-ip6=$ip6" >/dev/null
    lab_kubectl -n $NS annotate pod "$name" --overwrite "lab.flannel.dev/pod-ip=$ip" "lab.flannel.dev/netns=$netns" >/dev/null
    for i in $(seq 60); do
      [ "$(lab_kubectl -n $NS get pod "$name" -o jsonpath='{.status.podIP}')" = "$ip" ] && break
      [ "$i" = 60 ] && die "pod-add: kwok did not report $name Running with IP $ip"
      sleep 0.5
    done
    echo "$name $node $ip $netns"
    ;;
  pod-del)
    need_root; load_state
    name=${2:?usage: pod-del NAME}; netns=$(pod_netns "$name")
    node=$(lab_kubectl -n $NS get pod "$name" -o jsonpath='{.spec.nodeName}' 2>/dev/null || true)
    [ -n "$node" ] && cni "$node" del "$netns" >/dev/null 2>&1 || true
    lab_kubectl -n $NS delete pod "$name" --ignore-not-found --wait=false >/dev/null
    ip netns del "$netns" 2>/dev/null || true
    sed -i "\|^netns $netns\$|d" "$LAB_RUN/created.list"
    ;;
  ping)
    load_state
    src=${2:?usage: ping SRC_POD DST_POD}; dst=${3:?usage: ping SRC_POD DST_POD}
    ip=$(lab_kubectl -n $NS get pod "$dst" -o jsonpath='{.status.podIP}')
    [ -n "$ip" ] || die "ping: pod $dst has no IP"
    exec ip netns exec "$(pod_netns "$src")" ping -c 2 -i 0.2 -W 1 "${@:4}" "$ip"
    ;;
  *) die "pods.sh: unknown command '${1:-}'" ;;
esac
