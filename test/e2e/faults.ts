/**
 * The doctor-expectation table for the lab's faults (lab/faults.sh): for each fault, which kernel or API state it
 * changes and on which node, how the test proves the fault really breaks something, and what doctor must report.
 *
 * Roles: `node` is the node the fault is injected on; `peer` is the next lab node (the one whose entries a per-peer
 * fault touches, see peer_of in lab/faults.sh); `third` is the node after that.
 *
 * `doctor.checks` are check IDs from docs/checks.md (main @ 47a8719) that cover the failure; the test accepts any
 * one of them on the expected node. `doctor: 'clean'` means flannel is unaffected and doctor must report no error;
 * `doctor: { notCovered }` names why no check can see it yet (the test then only proves the fault).
 */
import { inNode, kubectlJSON, type Lab, type LabPod, run } from './lab.js';

export type Role = 'node' | 'peer' | 'third';
export type Backend = 'vxlan' | 'vxlan-directrouting' | 'host-gw' | 'udp';

export type Effect =
  /** pings between the two roles' test pods fail */
  | { kind: 'unreachable'; from: Role; to: Role }
  /** small pings pass, 1400-byte pings with DF set fail */
  | { kind: 'big-packets-dropped'; from: Role; to: Role }
  /** a new pod on the role's node cannot be wired: CNI ADD fails */
  | { kind: 'cni-add-fails'; on: Role }
  /** traffic is unaffected; the state probe proves the fault is in place */
  | { kind: 'reachable'; from: Role; to: Role };

export interface StateProbe {
  /** what the probe looks at, for messages */
  what: string;
  /** true while the fault is in place, false once healed */
  check: (ctx: FaultContext) => boolean;
}

export interface FaultContext {
  lab: Lab;
  node: string;
  peer: string;
  third: string;
  pods: LabPod[];
}

export type DoctorExpectation =
  | { checks: string[]; on: Role | 'any'; severity: 'error' | 'warning'; evidence?: (ctx: FaultContext) => string[] }
  | 'clean'
  | { notCovered: string };

export interface FaultSpec {
  name: string;
  /** what changes, and where */
  changes: string;
  backends: Backend[];
  effect: Effect;
  /** where a backend changes the effect (udp: flanneld itself carries the traffic) */
  effectOn?: Partial<Record<Backend, Effect>>;
  probe?: StateProbe;
  doctor: DoctorExpectation;
  /** Needs the kube-flannel packaging (flannel pods, ConfigMap, health server): not run on --flavor k3s. */
  kubeFlannelOnly?: true;
  /** Why the fault does not apply in nftables mode, when it does not. */
  notInNftables?: string;
  /** Only in nftables mode (lab/lab up --nftables). */
  nftablesOnly?: true;
  /** Only on a dual-stack lab (lab/lab up --ip-family dual). */
  dualOnly?: true;
  /** Where a dual-stack lab changes the effect. */
  effectOnDual?: Effect;
  /**
   * Faults only packets reveal: `trace --probe` from the `from` role's pod to the `to` role's must see its probe
   * last on `lastSeenOn`'s uplink (eth0 in the lab) and nowhere after it. Plain doctor must report nothing at all;
   * `doctor --probe` exactly one underlay-probe error, on node `dropped.from` with peer `dropped.to` (the sender for
   * a drop in the underlay, the receiver for a drop on arrival).
   */
  packets?: { from: Role; to: Role; lastSeenOn: Role; dropped: { from: Role; to: Role } };
  /**
   * MTU faults (effect big-packets-dropped): `trace --probe` along the effect's direction must see its small echoes
   * arrive and its FLANNEL_MTU-sized UDP probe vanish at this hop (the device whose MTU is below FLANNEL_MTU, or the
   * first hop after the one that cannot carry it), i.e. `node/iface` of the role's node.
   */
  mtuHop?: { on: Role; iface: string };
}

const vx: Backend[] = ['vxlan'];
const all: Backend[] = ['vxlan', 'vxlan-directrouting', 'host-gw', 'udp'];
const routed: Backend[] = ['vxlan', 'vxlan-directrouting', 'host-gw'];

export const FAULTS: FaultSpec[] = [
  {
    name: 'route-deleted',
    changes: 'kernel: route to peer podCIDR deleted on node',
    backends: routed,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['peer-routes'], on: 'node', severity: 'error' },
  },
  {
    name: 'route-wrong-via',
    changes: 'kernel: route to peer podCIDR via 10.250.X.99 dev eth0 on node',
    backends: routed,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['peer-routes', 'hostgw-not-onlink'], on: 'node', severity: 'error' },
  },
  {
    name: 'fdb-deleted',
    changes: "kernel: flannel.1 fdb entry for peer's VtepMAC deleted on node",
    backends: vx,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['vxlan-fdb'], on: 'node', severity: 'error' },
  },
  {
    name: 'fdb-wrong-dst',
    changes: "kernel: fdb entry for peer's VtepMAC -> dst 10.250.X.99 on node",
    backends: vx,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['vxlan-fdb'], on: 'node', severity: 'error' },
  },
  {
    name: 'neigh-deleted',
    changes: "kernel: permanent neighbour for peer's 10.244.X.0 deleted on node",
    backends: vx,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['vxlan-neighbours'], on: 'node', severity: 'error' },
  },
  {
    name: 'neigh-wrong-mac',
    changes: "kernel: neighbour for peer's 10.244.X.0 -> lladdr 02:00:00:00:00:99 on node",
    backends: vx,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['vxlan-neighbours'], on: 'node', severity: 'error' },
  },
  {
    name: 'mtu-flannel',
    changes: 'kernel: flannel.1 MTU 1350 on node (subnet.env FLANNEL_MTU=1450)',
    backends: vx,
    effect: { kind: 'big-packets-dropped', from: 'node', to: 'peer' },
    doctor: { checks: ['mtu', 'mtu-mixed'], on: 'node', severity: 'error' },
    mtuHop: { on: 'node', iface: 'flannel.1' },
  },
  {
    name: 'mtu-underlay',
    changes: 'kernel: eth0 MTU 1400 on node',
    backends: ['vxlan', 'vxlan-directrouting', 'host-gw'],
    effect: { kind: 'big-packets-dropped', from: 'peer', to: 'node' },
    doctor: { checks: ['mtu', 'mtu-mixed'], on: 'node', severity: 'error' },
    mtuHop: { on: 'node', iface: 'eth0' },
  },
  {
    name: 'flanneld-stopped',
    changes: 'process: flanneld on node stopped; API: its pod not ready (CrashLoopBackOff)',
    backends: all,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    effectOn: { udp: { kind: 'unreachable', from: 'node', to: 'peer' } },
    probe: { what: 'flanneld healthz on node:8081', check: (c) => !healthz(c, c.node) },
    doctor: { checks: ['flannel-pod-unhealthy'], on: 'node', severity: 'error' },
    kubeFlannelOnly: true,
  },
  {
    name: 'route6-deleted',
    changes: "kernel: IPv6 route to peer's IPv6 podCIDR deleted on node (dual-stack); IPv4 keeps working",
    backends: routed,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    probe: {
      what: "node's IPv6 route to the peer's podCIDR",
      check: (c) => !routeExists(c.node, nodeJSON(c, c.peer).spec.podCIDRs?.[1] ?? 'none', true),
    },
    doctor: { checks: ['peer-routes'], on: 'node', severity: 'error' },
    dualOnly: true,
  },
  {
    name: 'nft-postrtg-flushed',
    changes: 'kernel: nft chain ip flannel-ipv4 postrtg flushed on node (nftables mode)',
    backends: all,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    probe: {
      what: 'postrtg rules on node',
      check: (c) => !/masquerade/.test(inNodeOut(c.node, ['nft', 'list', 'chain', 'ip', 'flannel-ipv4', 'postrtg'])),
    },
    doctor: {
      checks: ['nftables-rules'],
      on: 'node',
      severity: 'error',
      evidence: () => ['meta mark 0x00004000 return'],
    },
    nftablesOnly: true,
  },
  {
    name: 'flanneld-hung',
    changes: 'process: flanneld on node SIGSTOPped; its pod stays Running and ready',
    backends: all,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    effectOn: { udp: { kind: 'unreachable', from: 'node', to: 'peer' } },
    probe: { what: 'flanneld healthz on node:8081', check: (c) => !healthz(c, c.node) },
    doctor: { checks: ['flanneld-health'], on: 'node', severity: 'error' },
    kubeFlannelOnly: true,
  },
  // Real flanneld (0.28.9) watches its device: it re-creates flannel.1 at once, with the same VtepMAC, but does not
  // re-add the peer routes, fdb and neighbour entries. The table first expected flannel-device; the lab showed
  // the device is back and what is really missing.
  {
    name: 'vxlan-device-deleted',
    changes:
      'kernel: flannel.1 deleted on node; flanneld re-creates it (same MAC) without peer routes, fdb, neighbours',
    backends: vx,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    probe: { what: "node's route to peer's podCIDR", check: (c) => !routeExists(c.node, podCIDR(c, c.peer)) },
    doctor: { checks: ['peer-routes', 'vxlan-fdb', 'vxlan-neighbours'], on: 'node', severity: 'error' },
  },
  {
    name: 'public-ip-wrong',
    changes: 'API: node annotation flannel.alpha.coreos.com/public-ip=10.250.X.99; peers re-point their fdb/routes',
    backends: all,
    effect: { kind: 'unreachable', from: 'peer', to: 'node' },
    // Dual-stack: flanneld v0.28.9 ignores a Node update that changes only the IPv4 lease (kube.go
    // handleUpdateLeaseEvent: an unchanged IPv6 lease resets `changed`), so peers keep the old fdb and traffic
    // flows; the lab showed it. The annotation is still wrong, and doctor must still say so.
    effectOnDual: { kind: 'reachable', from: 'peer', to: 'node' },
    probe: {
      what: "node's public-ip annotation",
      check: (c) => nodeAnnotation(c, c.node, 'flannel.alpha.coreos.com/public-ip')?.endsWith('.99') === true,
    },
    doctor: { checks: ['public-ip-not-local'], on: 'node', severity: 'error' },
  },
  {
    name: 'duplicate-vtepmac',
    changes: "API: node's backend-data VtepMAC = peer's VtepMAC; third node's fdb for that MAC re-pointed",
    backends: vx,
    effect: { kind: 'unreachable', from: 'third', to: 'peer' },
    doctor: { checks: ['vtep-mac'], on: 'node', severity: 'error' },
  },
  // Real flanneld ignores a node whose kube-subnet-manager annotation disappears (kube.go handleUpdateLeaseEvent
  // returns early), so peers keep their entries and traffic still flows: the lab showed this, the fault was first
  // written expecting the peers to drop the node.
  {
    name: 'annotations-removed',
    changes:
      "process+API: flanneld on node stopped (pod not ready), node's flannel annotations removed; peers keep their entries",
    backends: all,
    effect: { kind: 'reachable', from: 'peer', to: 'node' },
    effectOn: { udp: { kind: 'unreachable', from: 'peer', to: 'node' } },
    probe: {
      what: "node's flannel annotations",
      check: (c) => nodeAnnotation(c, c.node, 'flannel.alpha.coreos.com/public-ip') === undefined,
    },
    doctor: { checks: ['node-not-registered', 'flannel-pod-unhealthy'], on: 'node', severity: 'error' },
    kubeFlannelOnly: true,
  },
  {
    name: 'vxlan-port-blocked',
    changes: 'kernel: iptables INPUT -p udp --dport 8472 -j DROP on node',
    backends: ['vxlan', 'udp'],
    effect: { kind: 'unreachable', from: 'peer', to: 'node' },
    doctor: { checks: ['overlay-port-blocked'], on: 'node', severity: 'error' },
    notInNftables: "overlay-port-blocked reads iptables' INPUT chain, which is not where an nftables host filters",
  },
  {
    name: 'forward-policy-drop',
    changes: 'kernel: iptables -P FORWARD DROP on node (FLANNEL-FWD accept rules intact)',
    backends: all,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    probe: {
      what: 'FORWARD policy on node',
      check: (c) => /-P FORWARD DROP/.test(inNodeOut(c.node, ['iptables', '-S', 'FORWARD'])),
    },
    doctor: 'clean',
    notInNftables:
      "flannel's accept rules live in its own nft table there; iptables' FORWARD DROP policy still drops pod traffic",
  },
  {
    name: 'forward-drop-rule',
    changes: 'kernel: iptables -I FORWARD 1 -j DROP on node, ahead of the FLANNEL-FWD jump',
    backends: all,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['forward-drop'], on: 'node', severity: 'error' },
    notInNftables: 'forward-drop judges the rule against the FLANNEL-FWD jump, which does not exist in nftables mode',
  },
  {
    name: 'ip-forward-off',
    changes: 'kernel: net.ipv4.ip_forward=0 on node',
    backends: all,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['ip-forward'], on: 'node', severity: 'error' },
  },
  {
    name: 'cni0-wrong-address',
    changes: 'kernel: cni0 address 10.244.99.1/24 instead of the podCIDR gateway on node',
    backends: all,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['cni0-address'], on: 'node', severity: 'error' },
  },
  {
    name: 'subnet-env-removed',
    changes: "file: node's /run/flannel/subnet.env removed",
    backends: all,
    effect: { kind: 'cni-add-fails', on: 'node' },
    doctor: { checks: ['subnet-env'], on: 'node', severity: 'error' },
  },
  {
    name: 'cni-conf-removed',
    changes: "file: node's 10-flannel.conflist removed (/etc/cni/net.d; k3s: agent/etc/cni/net.d)",
    backends: all,
    effect: { kind: 'cni-add-fails', on: 'node' },
    doctor: { checks: ['cni-config'], on: 'node', severity: 'error' },
  },
  {
    name: 'stale-node-entries',
    changes:
      'kernel: route (+ neighbour, fdb on vxlan) for 10.244.250.0/24 at 10.250.X.250, a node that no longer exists, on node',
    backends: routed,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    probe: { what: 'route to 10.244.250.0/24 on node', check: (c) => routeExists(c.node, '10.244.250.0/24') },
    doctor: { checks: ['stale-routes'], on: 'node', severity: 'warning', evidence: () => ['10.244.250.0/24'] },
  },
  {
    name: 'network-unavailable',
    changes: 'API: node condition NetworkUnavailable=True',
    backends: all,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    probe: {
      what: 'NetworkUnavailable condition',
      check: (c) => conditionStatus(c, c.node, 'NetworkUnavailable') === 'True',
    },
    doctor: { checks: ['node-network-unavailable'], on: 'node', severity: 'error' },
  },
  {
    name: 'netconf-drift',
    changes: 'API: kube-flannel-cfg net-conf.json Backend changed; flanneld not restarted (cluster-wide)',
    backends: all,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    // not compared with the node's backend-type annotation: flanneld's udp backend publishes backend-type "" and
    // backend-data "null" (seen in the lab), so a doctor check must not read "" as a mismatch either
    probe: {
      what: 'ConfigMap backend vs the backend flanneld runs',
      check: (c) => configMapBackend(c) !== runningType(c),
    },
    doctor: { checks: ['backend-type-mismatch'], on: 'any', severity: 'error' },
    kubeFlannelOnly: true,
  },
  {
    name: 'underlay-drop',
    changes: "underlay: the lab bridge (root netns, nft bridge family) drops the overlay's packets from node to peer",
    backends: all,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: 'clean',
    packets: { from: 'node', to: 'peer', lastSeenOn: 'node', dropped: { from: 'node', to: 'peer' } },
  },
  {
    name: 'arrival-drop',
    changes: "kernel: nft netdev ingress on node's eth0 drops the overlay's packets from peer (no table doctor reads)",
    backends: all,
    effect: { kind: 'unreachable', from: 'peer', to: 'node' },
    doctor: 'clean',
    packets: { from: 'peer', to: 'node', lastSeenOn: 'node', dropped: { from: 'node', to: 'peer' } },
  },
  // Issue 9: something other than flannel's entries decides the packet's fate. Appended, so earlier faults keep their nodes.
  {
    name: 'policy-rule-other-table',
    changes: 'kernel: ip rule pref 100 to <peer podCIDR> lookup 100; table 100 routes it via 10.250.X.99 on node',
    backends: all,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['route-decision'], on: 'node', severity: 'error' },
  },
  {
    name: 'podcidr-shadowed',
    changes: "kernel: <peer podCIDR network>/25 via 10.250.X.99 dev eth0 onlink on node (shadows the test pod's half)",
    backends: all,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['route-decision'], on: 'node', severity: 'error' },
  },
  {
    name: 'blackhole-local-table',
    changes: 'kernel: blackhole <peer podCIDR> table local on node',
    backends: all,
    effect: { kind: 'unreachable', from: 'node', to: 'peer' },
    doctor: { checks: ['route-decision'], on: 'node', severity: 'error' },
  },
  {
    name: 'cni0-mtu-low',
    changes: 'kernel: cni0 MTU 1400 on node (FLANNEL_MTU 1450 for vxlan, 1500 for host-gw)',
    backends: ['vxlan', 'vxlan-directrouting', 'host-gw'],
    effect: { kind: 'big-packets-dropped', from: 'peer', to: 'node' },
    doctor: { checks: ['mtu'], on: 'node', severity: 'error' },
    mtuHop: { on: 'node', iface: 'cni0' },
  },
  {
    name: 'uplink-mtu-differs',
    changes: 'kernel: eth0 MTU 9000 on node; the underlay bridge and the other nodes carry 1500',
    backends: all,
    effect: { kind: 'reachable', from: 'node', to: 'peer' },
    probe: {
      what: "node's eth0 MTU",
      check: (c) => inNode(c.node, ['cat', '/sys/class/net/eth0/mtu']).stdout.trim() === '9000',
    },
    doctor: { checks: ['mtu-mixed'], on: 'node', severity: 'warning' },
  },
];

// --- state probes ----------------------------------------------------------------------------------------------

function inNodeOut(node: string, cmd: string[]): string {
  return inNode(node, cmd).stdout;
}
function routeExists(node: string, cidr: string, ipv6 = false): boolean {
  return inNodeOut(node, ['ip', ...(ipv6 ? ['-6'] : []), 'route', 'show', cidr]).trim() !== '';
}
interface NodeJSON {
  metadata: { annotations?: Record<string, string> };
  spec: { podCIDR?: string; podCIDRs?: string[] };
  status: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] };
}
function nodeJSON(c: FaultContext, node: string): NodeJSON {
  return kubectlJSON<NodeJSON>(c.lab, ['get', 'node', node]);
}
function podCIDR(c: FaultContext, node: string): string {
  return nodeJSON(c, node).spec.podCIDR ?? '';
}
function conditionStatus(c: FaultContext, node: string, type: string): string | undefined {
  return nodeJSON(c, node).status.conditions?.find((x) => x.type === type)?.status;
}
function nodeAnnotation(c: FaultContext, node: string, key: string): string | undefined {
  return nodeJSON(c, node).metadata.annotations?.[key];
}
function runningType(c: FaultContext): string {
  return c.lab.backend === 'vxlan-directrouting' ? 'vxlan' : c.lab.backend;
}
function configMapBackend(c: FaultContext): string | undefined {
  const cm = kubectlJSON<{ data: Record<string, string> }>(c.lab, [
    '-n',
    'kube-flannel',
    'get',
    'configmap',
    'kube-flannel-cfg',
  ]);
  const netconf = JSON.parse(cm.data['net-conf.json'] ?? '{}') as { Backend?: { Type?: string } };
  return netconf.Backend?.Type;
}
function healthz(c: FaultContext, node: string): boolean {
  const ip = nodeJSON(c, node).status.addresses?.find((a) => a.type === 'InternalIP')?.address;
  return ip !== undefined && run('curl', ['-fs', '--max-time', '2', `http://${ip}:8081/healthz`]).code === 0;
}
