#!/usr/bin/env bash
# lab/lab up [--nodes N] [--backend vxlan|host-gw|vxlan-directrouting|udp] [--flavor kube-flannel|k3s] [--nftables]
#            [--ip-family ipv4]
# Starts the lab. Every object it makes is recorded under $LAB_RUN so that down.sh removes exactly that.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
. "$LAB_SRC/lib/pki.sh"
. "$LAB_SRC/lib/flannel.sh"
. "$LAB_SRC/lib/node.sh"

NODES=3 BACKEND=vxlan FLAVOR=kube-flannel NFTABLES=0 IP_FAMILY=ipv4
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) NODES=${2:-}; shift 2 ;;
    --backend) BACKEND=${2:-}; shift 2 ;;
    --flavor) FLAVOR=${2:-}; shift 2 ;;
    --nftables) NFTABLES=1; shift ;;
    --ip-family) IP_FAMILY=${2:-}; shift 2 ;;
    *) die "up: unknown argument '$1' (expected --nodes N, --backend vxlan|host-gw|vxlan-directrouting|udp, --flavor kube-flannel|k3s, --nftables, --ip-family ipv4)" ;;
  esac
done
case $FLAVOR in
  kube-flannel|k3s) ;;
  canal) die "up: --flavor canal cannot run here: Calico's CNI plugin does not build through this machine's module proxy (lab/README.md); fixtures cover Canal" ;;
  *) die "up: --flavor must be kube-flannel or k3s, got '$FLAVOR'" ;;
esac
case $IP_FAMILY in
  ipv4|dual|ipv6) ;;
  *) die "up: --ip-family must be ipv4, dual or ipv6, got '$IP_FAMILY'" ;;
esac
[[ $NODES =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le 60 ] || die "up: --nodes must be 1..60 (faults use underlay .99 and 10.244.99.0/24), got '$NODES'"
case $BACKEND in
  ipip|wireguard|ipsec|extension|alloc) die "up: backend '$BACKEND' cannot run here: this kernel has no ipip, WireGuard or ESP (fixtures cover those backends)" ;;
esac
backend_json "$BACKEND" >/dev/null || die "up: --backend must be vxlan, host-gw, vxlan-directrouting or udp, got '$BACKEND'"
need_root

if [ -f "$STATE" ]; then
  . "$STATE"
  if pid_alive "$LAB_RUN/pids/kube-apiserver.pid"; then
    log "up: the lab is already up ($NODES nodes, backend $BACKEND); kubeconfig: $KUBECONFIG_PATH"
    echo "$KUBECONFIG_PATH"; exit 0
  fi
  die "up: a previous lab left state in $LAB_RUN but its apiserver is gone; run lab/lab down first"
fi

for b in "$K8S_DIR/bin/kube-apiserver" "$K8S_DIR/bin/kubectl" "$ETCD_DIR/bin/etcd" "$KWOK_DIR/bin/kwok" \
         "$FLANNEL_DIR/bin/flanneld" "$CNITOOL_DIR/bin/cnitool" "$LAB_CNI_BIN/flannel" "$LAB_CNI_BIN/bridge"; do
  [ -x "$b" ] || die "up: $b is missing; run lab/lab build first"
done
# Tier A (no kube-controller-manager/kube-scheduler built, or LAB_TIER=a): the lab creates what they would.
HAVE_KCM=0
[ -x "$K8S_DIR/bin/kube-controller-manager" ] && [ -x "$K8S_DIR/bin/kube-scheduler" ] && [ "${LAB_TIER:-all}" != a ] && HAVE_KCM=1
ip link show "$LAB_BRIDGE" >/dev/null 2>&1 && die "up: $LAB_BRIDGE already exists but the lab has no state; remove it by hand"
# The underlay and pod network must not overlap anything routed on this host.
# The underlay must not overlap anything routed on this host (the pod network stays inside the lab's namespaces,
# but a host route into 10.244/16 would still be a confusing clash, so refuse that too).
clash=$(ip -4 route show | awk '{print $1}' | grep -E "^($LAB_UNDERLAY_PREFIX\.|10\.244\.)" || true)
[ -z "$clash" ] || die "up: the host already routes $clash, which overlaps $LAB_UNDERLAY_PREFIX.0/24 or $LAB_POD_NETWORK"
for i in $(seq "$NODES"); do
  ip netns list | awk '{print $1}' | grep -qx "$(node_name "$i")" && die "up: netns $(node_name "$i") exists but the lab has no state; remove it by hand"
done

T0=$(date +%s)
mkdir -p "$LAB_RUN"/{pids,logs,nodes,faults}
: > "$LAB_RUN/created.list"     # one line per object: KIND NAME (netns, link, dir, iptables rule)
record() { echo "$*" >> "$LAB_RUN/created.list"; }
NODE_NAMES=""
for i in $(seq "$NODES"); do NODE_NAMES="$NODE_NAMES $(node_name "$i")"; done
cat > "$STATE" <<ST
NODES=$NODES
BACKEND=$BACKEND
FLAVOR=$FLAVOR
NFTABLES=$NFTABLES
IP_FAMILY=$IP_FAMILY
NODE_NAMES="${NODE_NAMES# }"
HAVE_KCM=$HAVE_KCM
ST
trap 'log "up: failed; logs are in $LAB_RUN/logs, remove the partial lab with lab/lab down"' ERR

# --- mount points used by the per-node bind mounts (node-exec.sh) --------------------------------------------
# They are shared by all lab instances, so what was created is recorded in the cache directory, not in $LAB_RUN;
# the last instance to go down removes them.
mountpoints="/run/flannel /etc/cni/net.d /etc/kube-flannel /var/lib/cni /opt/cni/bin"
[ "$FLAVOR" = k3s ] && mountpoints="$mountpoints $K3S_AGENT_ETC $K3S_CNI_BIN"
for d in $mountpoints; do
  if [ ! -d "$d" ]; then
    top=$d; while [ ! -d "$(dirname "$top")" ]; do top=$(dirname "$top"); done
    mkdir -p "$d"; echo "$top" >> "$LAB_CACHE/created-mountpoints.list"
  fi
done

# --- PKI ---------------------------------------------------------------------------------------------------
make_pki "$LAB_RUN/pki"
make_kubeconfig "$KUBECONFIG_PATH" admin --client-certificate="$LAB_RUN/pki/admin.crt" --client-key="$LAB_RUN/pki/admin.key" --embed-certs

# --- underlay: a bridge in the root netns, one veth per node netns --------------------------------------------
ip link add "$LAB_BRIDGE" type bridge; record link "$LAB_BRIDGE"
ip addr add "$LAB_UNDERLAY_PREFIX.1/24" dev "$LAB_BRIDGE"
[ "$IP_FAMILY" != ipv4 ] && ip addr add "$LAB_UNDERLAY6_PREFIX::1/64" dev "$LAB_BRIDGE" nodad
ip link set "$LAB_BRIDGE" up
# br_netfilter is built into this kernel, so frames bridged between nodes traverse the root netns FORWARD chain.
iptables -I FORWARD -i "$LAB_BRIDGE" -o "$LAB_BRIDGE" -m comment --comment kubectl-flannel-lab -j ACCEPT
record iptables-forward "$LAB_BRIDGE"
for i in $(seq "$NODES"); do
  n=$(node_name "$i"); S=$(node_dir "$n")
  mkdir -p "$S"/{run-flannel,etc-cni-net.d,etc-kube-flannel,var-lib-cni}
  [ "$FLAVOR" = k3s ] && mkdir -p "$S"/k3s-agent-etc/{flannel,cni/net.d}
  ip netns add "$n"; record netns "$n"
  ip link add "v-$n" type veth peer name eth0 netns "$n"; record link "v-$n"
  ip link set "v-$n" master "$LAB_BRIDGE" up
  ip -n "$n" addr add "$(node_ip "$i")/24" dev eth0
  ip -n "$n" link set eth0 up
  ip -n "$n" link set lo up
  ip -n "$n" route add default via "$LAB_UNDERLAY_PREFIX.1"
  ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
  if [ "$IP_FAMILY" != ipv4 ]; then
    # flanneld picks its IPv6 public address from the interface of the IPv6 default route
    ip -n "$n" addr add "$(node_ip6 "$i")/64" dev eth0 nodad
    ip -n "$n" -6 route add default via "$LAB_UNDERLAY6_PREFIX::1"
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.forwarding=1
  fi
done
log "up: underlay $LAB_BRIDGE $LAB_UNDERLAY_PREFIX.0/24 with nodes:$NODE_NAMES"

# --- control plane -------------------------------------------------------------------------------------------
# start_bg NAME PROGRAM LOG CMD...: start a daemon, record "PID PROGRAM" so down.sh can check the PID still runs
# PROGRAM (node daemons reach it through node-exec.sh, which execs, so the PID stays the same).
start_bg() {
  local name=$1 prog=$2 logf=$3; shift 3
  "$@" >"$logf" 2>&1 </dev/null &
  echo "$! $prog" > "$LAB_RUN/pids/$name.pid"
}
start_bg etcd etcd "$LAB_RUN/logs/etcd.log" "$ETCD_DIR/bin/etcd" --name=kfl-lab --data-dir="$LAB_RUN/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$LAB_ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$LAB_ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$LAB_ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$LAB_ETCD_PEER_PORT" \
  --initial-cluster="kfl-lab=http://127.0.0.1:$LAB_ETCD_PEER_PORT" --initial-cluster-state=new \
  --unsafe-no-fsync=true --listen-metrics-urls=""
wait_for() {  # wait_for SECONDS WHAT CMD...
  local t=$1 what=$2 end; shift 2; end=$(( $(date +%s) + t ))
  while [ "$(date +%s)" -lt "$end" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "up: timed out after ${t}s waiting for $what"
}
wait_for 30 etcd curl -fs "http://127.0.0.1:$LAB_ETCD_PORT/health"
PKI=$LAB_RUN/pki
start_bg kube-apiserver kube-apiserver "$LAB_RUN/logs/kube-apiserver.log" "$K8S_DIR/bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$LAB_ETCD_PORT" \
  --bind-address="$LAB_UNDERLAY_PREFIX.1" --advertise-address="$LAB_UNDERLAY_PREFIX.1" --secure-port=6443 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$LAB_SERVICE_RANGE" --authorization-mode=Node,RBAC --allow-privileged=true \
  --kubelet-preferred-address-types=InternalIP --enable-priority-and-fairness=false --profiling=false
wait_for 180 "kube-apiserver /readyz" lab_kubectl get --raw /readyz
log "up: kube-apiserver ready after $(( $(date +%s) - T0 ))s"
if [ "$HAVE_KCM" = 1 ]; then
  start_bg kube-controller-manager kube-controller-manager "$LAB_RUN/logs/kube-controller-manager.log" "$K8S_DIR/bin/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
    --bind-address=127.0.0.1 --secure-port=$LAB_KCM_PORT --leader-elect=false \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --service-cluster-ip-range="$LAB_SERVICE_RANGE" --cluster-cidr="$LAB_POD_NETWORK" --allocate-node-cidrs=false \
    --controllers='*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route'
  start_bg kube-scheduler kube-scheduler "$LAB_RUN/logs/kube-scheduler.log" "$K8S_DIR/bin/kube-scheduler" \
    --kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
    --bind-address=127.0.0.1 --secure-port=$LAB_SCHEDULER_PORT --leader-elect=false
fi

# --- cluster objects: Nodes with their podCIDR, the official flannel manifest ----------------------------------
# shellcheck disable=SC2046  # one word per range
for i in $(seq "$NODES"); do register_node "$i" $(lab_pod_cidrs "$i"); done
if [ "$FLAVOR" = k3s ]; then write_k3s_files "$BACKEND"   # no DaemonSet, no ConfigMap: k3s's packaging
else apply_flannel_manifest "$BACKEND"; fi

# --- one KWOK per node, inside the node -------------------------------------------------------------------------
mkdir -p "$LAB_RUN/kwok"
export LAB_RUN LAB_CNI_BIN
for i in $(seq "$NODES"); do
  n=$(node_name "$i"); S=$(node_dir "$n")
  : > "$S/flanneld.log"
  kubelet_version='{{ printf "kwok-%s" Version | Quote }}'
  [ "$FLAVOR" = k3s ] && kubelet_version="\"v$K8S_VERSION+k3s1\""
  sed -e "s|__NODE__|$n|g" -e "s|__NODEDIR__|$S|g" -e "s#__KUBELET_VERSION__#$kubelet_version#" \
    "$LAB_SRC/kwok/node.yaml.tmpl" > "$LAB_RUN/kwok/$n.yaml"
  start_bg "kwok-$n" kwok "$LAB_RUN/logs/kwok-$n.log" "$LAB_SRC/lib/node-exec.sh" "$n" "$KWOK_DIR/bin/kwok" \
    --kubeconfig="$KUBECONFIG_PATH" --config="$LAB_RUN/kwok/$n.yaml" \
    --manage-single-node="$n" --node-name="$n" --node-ip="$(node_ip "$i")" \
    --node-port=10250 --server-address=0.0.0.0:10250 --node-lease-duration-seconds=40
done
# KWOKs start one after another on shared cores: the wait grows with the node count.
# One list of every Node per poll (`kubectl wait --all --timeout=1s` gave up on 30 nodes before it had read them all).
nodes_ready() {
  [ "$(lab_kubectl get nodes -o json | jq '[.items[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')" -ge "$NODES" ]
}
wait_for $(( 90 + 6 * NODES )) "nodes Ready" nodes_ready
log "up: $NODES nodes Ready after $(( $(date +%s) - T0 ))s"
[ "$FLAVOR" = k3s ] || ensure_flannel_pods
for n in $NODE_NAMES; do start_flanneld "$n"; done
for n in $NODE_NAMES; do wait_flanneld "$n"; done
log "up: flanneld ready on every node after $(( $(date +%s) - T0 ))s"

# --- test pods, one per node -------------------------------------------------------------------------------
lab_kubectl create namespace kfl-e2e >/dev/null
if [ "$HAVE_KCM" = 1 ]; then
  wait_for 60 "default ServiceAccount in kfl-e2e" lab_kubectl -n kfl-e2e get serviceaccount default
else
  lab_kubectl -n kfl-e2e create serviceaccount default >/dev/null   # what the serviceaccount controller does
fi
for i in $(seq "$NODES"); do "$LAB_SRC/pods.sh" pod-add "$(node_name "$i")" "pod$i" >/dev/null; done
trap - ERR
log "up: lab up in $(( $(date +%s) - T0 ))s; backend $BACKEND; flavor $FLAVOR$([ "$NFTABLES" = 1 ] && echo ', nftables mode'); nodes:$NODE_NAMES"
log "up: kubeconfig $KUBECONFIG_PATH  (export KUBECONFIG=$KUBECONFIG_PATH PATH=$K8S_DIR/bin:\$PATH)"
echo "$KUBECONFIG_PATH"
