#!/bin/sh
# node-exec.sh NODE CMD [ARGS...]: run CMD "on" a lab node: in its network namespace, with its own hostname (UTS
# namespace) and its own view of the node-local directories flannel and CNI use (mount namespace with bind
# mounts). All lab nodes share one filesystem, so without this every flanneld would write the same
# /run/flannel/subnet.env. `ip netns exec` already makes / a slave mount, so pod netns created later in the root
# namespace under /run/netns stay visible here, while these bind mounts stay private to the node.
set -e
node=$1; shift
: "${LAB_RUN:?}" "${LAB_CNI_BIN:?}"
exec ip netns exec "$node" unshare --mount --uts --propagation unchanged -- /bin/sh -ec '
  node=$1 S=$2 cnibin=$3; shift 3
  hostname "$node"
  mount --bind "$S/run-flannel"      /run/flannel
  mount --bind "$S/etc-cni-net.d"    /etc/cni/net.d
  mount --bind "$S/etc-kube-flannel" /etc/kube-flannel
  mount --bind "$S/var-lib-cni"      /var/lib/cni
  mount --bind "$cnibin"             /opt/cni/bin
  # --flavor k3s: flannel'"'"'s files in k3s'"'"'s layout (net-conf.json and CNI config under agent/etc, plugins in data/cni)
  if [ -d "$S/k3s-agent-etc" ]; then
    mount --bind "$S/k3s-agent-etc" /var/lib/rancher/k3s/agent/etc
    mount --bind "$cnibin"          /var/lib/rancher/k3s/data/cni
  fi
  exec "$@"' sh "$node" "$LAB_RUN/nodes/$node" "$LAB_CNI_BIN" "$@"
