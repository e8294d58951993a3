# Shared settings for the lab scripts: sourced, never run. Paths derive from lab/versions.env so that a version
# change selects a new cache directory instead of overwriting the old one.
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
. "$LAB_SRC/versions.env"

LAB_CACHE=${LAB_CACHE:-/var/cache/kubectl-flannel-lab}
# LAB_INSTANCE (0..9) lets a second lab run beside the first (e.g. CI while a developer's lab is up): every name,
# address and port below derives from it. Instance 0 is the default and uses the plain names.
LAB_INSTANCE=${LAB_INSTANCE:-0}
[[ $LAB_INSTANCE =~ ^[0-9]$ ]] || { echo "lab: LAB_INSTANCE must be 0..9, got '$LAB_INSTANCE'" >&2; exit 2; }
if [ "$LAB_INSTANCE" = 0 ]; then sfx=""; else sfx=$LAB_INSTANCE; fi
LAB_PREFIX=kfl$sfx                            # node netns / Node objects: kfl-node1, kfl-node2, ... (kfl1-node1 for instance 1)
LAB_POD_NETNS_PREFIX=${LAB_PREFIX}pod-        # test pod netns: kflpod-pod1, ...
LAB_RUN=/var/run/kubectl-flannel-lab${sfx:+-$sfx}  # runtime state: PIDs, PKI, kubeconfigs, per-node dirs, logs
LAB_BRIDGE=kflbr$LAB_INSTANCE
LAB_UNDERLAY_PREFIX=10.250.$LAB_INSTANCE      # bridge .1 (apiserver), node i = .(10+i)
LAB_POD_NETWORK=10.244.0.0/16                 # lives only inside the lab's namespaces, so instances may share it
LAB_UNDERLAY6_PREFIX=fd00:250:$LAB_INSTANCE   # --ip-family dual: bridge ::1, node i = ::(10+i)
LAB_POD_NETWORK6=fd00:10:244::/56              # --ip-family dual: node i's podCIDR is fd00:10:244:i::/64
LAB_SERVICE_RANGE=10.96.0.0/16
LAB_APISERVER=https://$LAB_UNDERLAY_PREFIX.1:6443
LAB_ETCD_PORT=$((23790 + 10 * LAB_INSTANCE))
LAB_ETCD_PEER_PORT=$((23791 + 10 * LAB_INSTANCE))
LAB_KCM_PORT=$((10257 + 1000 * LAB_INSTANCE))
LAB_SCHEDULER_PORT=$((10259 + 1000 * LAB_INSTANCE))
unset sfx

# One cache directory per component and version: bumping flannel does not rebuild Kubernetes.
comp_dir() { echo "$LAB_CACHE/$1-$2"; }
K8S_DIR=$(comp_dir k8s "$K8S_VERSION")
ETCD_DIR=$(comp_dir etcd "$ETCD_VERSION")
KWOK_DIR=$(comp_dir kwok "$KWOK_VERSION")
FLANNEL_DIR=$(comp_dir flannel "$FLANNEL_VERSION")
CNI_DIR=$(comp_dir cni "${CNI_PLUGINS_VERSION}-flannel${FLANNEL_CNI_VERSION}")
CNITOOL_DIR=$(comp_dir cnitool "$CNITOOL_VERSION")
LAB_PATH="$K8S_DIR/bin:$ETCD_DIR/bin:$KWOK_DIR/bin:$FLANNEL_DIR/bin:$CNITOOL_DIR/bin"
LAB_CNI_BIN="$CNI_DIR/bin"

# Lab processes talk only to lab addresses; a proxy in the environment would capture apiserver->kwok traffic.
export NO_PROXY=$LAB_UNDERLAY_PREFIX.0/24,$LAB_SERVICE_RANGE,127.0.0.1,localhost no_proxy=$LAB_UNDERLAY_PREFIX.0/24,$LAB_SERVICE_RANGE,127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy

log() { printf '[lab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# k3s's packaging (--flavor k3s): flannel's files where k3s keeps them (k3s pkg/agent/config, pkg/data).
K3S_AGENT_ETC=/var/lib/rancher/k3s/agent/etc
K3S_CNI_BIN=/var/lib/rancher/k3s/data/cni
# Where CNI config and plugins are on a node of the running lab's flavor (FLAVOR from state.env).
cni_conf_dir() { if [ "${FLAVOR:-kube-flannel}" = k3s ]; then echo "$K3S_AGENT_ETC/cni/net.d"; else echo /etc/cni/net.d; fi; }
cni_bin_dir() { if [ "${FLAVOR:-kube-flannel}" = k3s ]; then echo "$K3S_CNI_BIN"; else echo /opt/cni/bin; fi; }

KUBECONFIG_PATH=$LAB_RUN/kubeconfig           # admin kubeconfig; fixed path other tools can rely on
STATE=$LAB_RUN/state.env                      # NODES, BACKEND of the running lab
need_root() { [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces, bridges, iptables)"; }
lab_kubectl() { KUBECONFIG=$KUBECONFIG_PATH "$K8S_DIR/bin/kubectl" "$@"; }
node_name() { echo "$LAB_PREFIX-node$1"; }
node_ip() { echo "$LAB_UNDERLAY_PREFIX.$((10 + $1))"; }
node_ip6() { echo "$LAB_UNDERLAY6_PREFIX::$((10 + $1))"; }
node_dir() { echo "$LAB_RUN/nodes/$1"; }
load_state() { [ -f "$STATE" ] || die "the lab is not up (no $STATE); run lab/lab up"; . "$STATE"; }

# A PID file is trusted only while its process still runs the program it was written for, so a recycled PID
# never gets a signal from the lab.
pid_alive() {  # pid_alive PIDFILE
  local f=$1 pid exe want
  [ -f "$f" ] || return 1
  read -r pid want < "$f" || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ -z "$want" ] || [ "$(basename "$exe")" = "$want" ]
}
stop_pidfile() {  # stop_pidfile PIDFILE: TERM, wait up to 10 s, then KILL; removes the file
  local f=$1 pid i
  if pid_alive "$f"; then
    read -r pid _ < "$f"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
