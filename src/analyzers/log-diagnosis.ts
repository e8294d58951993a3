/**
 * flanneld's start-up failures, recognised by the exact strings it logs (flannel-internals.md
 * Appendix A and §11 A), each with its cause and fix.
 */
interface KnownFailure {
  readonly pattern: RegExp;
  readonly cause: string;
  readonly fix: string;
}

const KNOWN: readonly KnownFailure[] = [
  {
    pattern: /pod cidr not assigned/i,
    cause: 'the node has no podCIDR',
    // the range itself is podcidr-unset's fix (it names a free one); once the Node has it, a restart takes the lease
    fix: 'Restart the flannel pod on <node> once the Node has a podCIDR (podcidr-unset names a free range to patch onto it; where kube-controller-manager allocates ranges, --allocate-node-cidrs=true --cluster-cidr=<Network>, it gives one).',
  },
  {
    pattern: /doesn't contain .* PodCIDR/,
    cause: "the node's podCIDR is outside net-conf.json's Network",
    fix: "Restart the flannel pod on <node> once its podCIDR lies inside net-conf.json's Network (podcidr-outside-network says how: the Node registered again for a range of the Network, or, when every node's range is outside, Network made equal to the cluster CIDR).",
  },
  {
    pattern: /Failed to check br_netfilter/,
    cause: 'br_netfilter is not loaded',
    fix: 'On <node>: modprobe br_netfilter, then restart the flannel pod (persist br_netfilter in /etc/modules-load.d/)',
  },
  {
    pattern: /could not create wireguard interface/,
    cause: 'the kernel lacks WireGuard',
    fix: 'Use a kernel >= 5.6 or install the wireguard module, or choose another backend.',
  },
  {
    pattern: /Error registering network: operation not supported/,
    cause: "the kernel lacks the backend's module (vxlan)",
    fix: 'Install the kernel modules package with vxlan (e.g. linux-modules-extra-$(uname -r)) and modprobe vxlan.',
  },
  {
    pattern: /dial tcp [^ ]+:443: (i\/o timeout|connect: connection refused)/,
    cause: 'flanneld cannot reach the API server through the kubernetes Service VIP',
    fix: 'Check kube-proxy on the node (its pod and the KUBE-SERVICES rules), or set KUBERNETES_SERVICE_HOST/PORT in the DaemonSet.',
  },
  {
    pattern: /forbidden|does not allow access/i,
    cause: 'flanneld lacks RBAC permissions',
    fix: 'Apply the ClusterRole of the flannel manifest matching your version (pods get; nodes get/list/watch; nodes/status patch) bound to the flannel ServiceAccount.',
  },
  {
    pattern: /mac address wanted: .* but got/,
    cause: 'udev or NetworkManager rewrote the flannel.1 MAC',
    fix: 'Add a .link file with MACAddressPolicy=none for flannel* (or NetworkManager unmanaged-devices), then ip link delete flannel.1 and restart.',
  },
  {
    pattern: /PublicIP differs from interface IP/,
    cause: 'host-gw does not support a public IP other than the interface address (NAT)',
    fix: 'Remove --public-ip / node-public-ip, or use vxlan.',
  },
  {
    pattern: /password is too short/,
    cause: 'the IPsec PSK is shorter than 96 characters',
    fix: 'Set Backend.PSK to at least 96 characters (e.g. `dd if=/dev/urandom count=48 bs=1 | xxd -p -c 48`).',
  },
  {
    pattern: /no valid charon executable/,
    cause: 'the image has no strongSwan charon',
    fix: 'Use the upstream flannel image, which ships strongSwan, for the ipsec backend.',
  },
  {
    pattern: /error waiting for nodeController to sync/,
    cause: 'the Node informer did not sync within 10 minutes (large cluster)',
    fix: 'Raise EVENT_QUEUE_DEPTH or set CONT_WHEN_CACHE_NOT_READY=true in the DaemonSet.',
  },
  {
    pattern: /link has incompatible addresses/,
    cause: 'flannel.1 holds addresses old flannel cannot reconcile',
    fix: 'ip link delete flannel.1 on the node and upgrade flannel.',
  },
  {
    pattern: /no interface with given IP found/,
    cause: 'the public IP (--public-ip or node-public-ip) is not an address of this node',
    fix: 'Fix node-public-ip or --public-ip to an address the node holds.',
  },
  {
    // before the --iface entry: flanneld wraps the v6 error in "Failed to find any valid interface to use"
    pattern: /default v6 (route|interface)|v6 default route interface/,
    cause: 'dual-stack needs an IPv6 default route on the same interface as the IPv4 one',
    fix: 'Add an IPv6 default route on the IPv4 default interface, or disable EnableIPv6.',
  },
  {
    pattern: /Failed to find (any valid interface|interface to use)/,
    cause: 'no interface matches --iface / --iface-regex',
    fix: 'Correct --iface/--iface-regex in the DaemonSet args.',
  },
];

export function diagnoseLog(
  lines: readonly string[],
  terminationReason: string | null,
): { cause: string; fix: string; line: string } | null {
  if (terminationReason === 'OOMKilled')
    return {
      cause: 'the container was OOMKilled',
      fix: 'Raise the kube-flannel container memory limit (old manifests set 50Mi).',
      line: 'lastState.terminated.reason: OOMKilled',
    };
  for (let i = lines.length - 1; i >= 0; i--) {
    const k = KNOWN.find((x) => x.pattern.test(lines[i]!));
    if (k) return { cause: k.cause, fix: k.fix, line: lines[i]! };
  }
  return null;
}
