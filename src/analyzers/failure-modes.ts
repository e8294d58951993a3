/**
 * The failure-mode catalog of flannel-internals.md §11, by number, with the reason a mode
 * is not covered where the collected data cannot reveal it. Checks cite these numbers.
 */
export interface FailureMode {
  readonly n: number;
  readonly title: string;
  /** Why no check covers it; only for modes no check lists. */
  readonly notCovered?: string;
}

export const FAILURE_MODES: readonly FailureMode[] = [
  { n: 1, title: 'podCIDR not assigned' },
  { n: 2, title: 'Network does not contain the podCIDR' },
  { n: 3, title: 'br_netfilter not loaded' },
  { n: 4, title: 'Kernel lacks the vxlan module' },
  { n: 5, title: 'Kernel lacks WireGuard' },
  { n: 6, title: 'Cannot reach the API server through the Service VIP' },
  { n: 7, title: 'RBAC or manifest mismatch' },
  { n: 8, title: 'udev/networkd rewrites the flannel.1 MAC' },
  { n: 9, title: 'host-gw with a NAT or public IP' },
  { n: 10, title: 'IPsec PSK too short, or charon missing' },
  { n: 11, title: 'Flannel pod OOMKilled' },
  { n: 12, title: 'Node informer sync times out in large clusters' },
  { n: 13, title: '(Old flannel) link has incompatible addresses' },
  { n: 14, title: '/run/flannel/subnet.env missing' },
  { n: 15, title: 'cni0 already has an IP address different from the podCIDR gateway' },
  {
    n: 16,
    title: 'host-local IP leak',
    notCovered:
      'needs the file count of /var/lib/cni/networks/cbr0 and the pods per node, which the collector does not gather yet',
  },
  { n: 17, title: 'Missing CNI binaries in /opt/cni/bin' },
  {
    n: 18,
    title: 'IPv6 disabled in the kernel',
    notCovered: "only the bridge plugin's error in kubelet events shows it; events are not collected",
  },
  { n: 19, title: 'All nodes share a NAT address (10.0.2.15)' },
  { n: 20, title: 'Multi-NIC node: flannel picked the wrong NIC' },
  {
    n: 21,
    title:
      "Overlay UDP port blocked (the node's own INPUT rules; a filter elsewhere on the path shows only in traffic)",
  },
  {
    n: 22,
    title: 'VXLAN TX checksum offload bug',
    notCovered: 'needs `ethtool -k flannel.1` and the kernel version; not collected yet',
  },
  { n: 23, title: 'VtepMAC mismatch or stale neigh/fdb' },
  { n: 24, title: 'Node IP change' },
  { n: 25, title: 'Stale routes for deleted nodes, or a route shadowing the own podCIDR' },
  { n: 26, title: 'Backend mismatch between nodes' },
  { n: 27, title: 'host-gw across an L3 boundary' },
  { n: 28, title: 'DirectRouting "not effective"' },
  { n: 29, title: 'FORWARD policy DROP' },
  { n: 30, title: 'A REJECT or DROP rule before the FLANNEL-FWD jump' },
  { n: 31, title: 'net.ipv4.ip_forward=0' },
  { n: 32, title: 'iptables legacy vs nft split-brain' },
  { n: 33, title: 'Pod CIDR overlaps a real network' },
  { n: 34, title: 'Underlay MTU smaller than assumed' },
  { n: 35, title: 'Stale tunnel MTU after an MTU change' },
  { n: 36, title: 'IPv6 VXLAN needs 70 bytes of overhead' },
  { n: 37, title: 'No masquerade' },
  {
    n: 38,
    title: 'Client source IP replaced by the cni0 gateway or a node IP',
    notCovered:
      'the cause is not settled upstream (rule 7 or kube-proxy masquerade-all); needs conntrack and rule counters',
  },
  {
    n: 39,
    title: 'Service ClusterIP fails while pod IPs work (br_netfilter part; IPVS and hairpin are kube-proxy matters)',
  },
  { n: 40, title: 'WireGuard endpoint is private or NATed, no handshake' },
  { n: 41, title: 'IPsec: policies present but traffic fails' },
  {
    n: 42,
    title: 'NetworkManager or networkd manages flannel devices',
    notCovered:
      'needs nmcli/networkd state; its visible effect (a rewritten MAC, a stripped address) is caught by vtep-mac and flannel-device',
  },
  { n: 43, title: 'public-ip-overwrite behaves unexpectedly' },
  { n: 44, title: 'Dual-stack misconfiguration' },
];
