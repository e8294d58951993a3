# Shared settings for the lab scripts: sourced, never run. Paths derive from lab/versions.env so that a version
# change selects a new cache directory instead of overwriting the old one.
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
. "$LAB_SRC/versions.env"

LAB_CACHE=${LAB_CACHE:-/var/cache/kubectl-flannel-lab}
LAB_PREFIX=${LAB_PREFIX:-kfl}                 # node netns / Node objects are kfl-node1, kfl-node2, ...
LAB_RUN=${LAB_RUN:-/var/run/kubectl-flannel-lab}  # runtime state: PIDs, PKI, kubeconfigs, per-node dirs, logs
LAB_BRIDGE=${LAB_BRIDGE:-kflbr0}
LAB_UNDERLAY_PREFIX=10.250.0                 # bridge .1, node i = .(10+i)
LAB_POD_NETWORK=10.244.0.0/16
LAB_SERVICE_RANGE=10.96.0.0/16
LAB_APISERVER=https://$LAB_UNDERLAY_PREFIX.1:6443
LAB_ETCD_PORT=23790
LAB_ETCD_PEER_PORT=23800

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
