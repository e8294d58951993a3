/**
 * Every fault doctor is tested against, once: what it changes, where it is injected (the simulated cluster of
 * test/sim, the real-flanneld lab of lab/), how the lab proves its effect on traffic, and exactly what doctor must
 * report. Adding a fault is one entry here plus, where its packaging needs a new kind of injection, one function
 * (test/sim/inject.ts; inject_<name> in lab/faults.sh). Shape and roles: types.ts.
 */
import { type FaultEntry, type LabBackend, rx } from './types.js';

const vx: LabBackend[] = ['vxlan'];
const all: LabBackend[] = ['vxlan', 'vxlan-directrouting', 'host-gw', 'udp'];
/**
 * A fault in the API objects (a Node registered again) reaches every backend the same way, through the lease; the
 * backend only decides which entries follow the lease: a route, neighbour and fdb entry (vxlan) or a route (host-gw).
 * Each run registers a Node again and waits for flanneld to exit or take a lease (~40 s a fault).
 */
const API_FAULT_BACKENDS: LabBackend[] = ['vxlan', 'host-gw'];
const routed: LabBackend[] = ['vxlan', 'vxlan-directrouting', 'host-gw'];

/** mtu-underlay's consequence: the other nodes' larger uplinks toward the node (mtu-mixed, on each of them). */
const uplinkMixed = (['peer', 'third'] as const).map((node) => ({
  check: 'mtu-mixed',
  node,
  peer: 'node' as const,
  severity: 'warning' as const,
  evidence: /eth0 MTU 1500 exceeds the 1400 of /,
  reason: "the other nodes' host packets of 1401-1500 bytes toward the node are dropped by its smaller uplink",
}));

/**
 * The host-side veth of the node's pod below FLANNEL_MTU (1400): cni0 takes a FLANNEL_MTU packet, the bridge drops
 * it at the port. cni0, whose MTU the bridge CNI sets at creation, not by hand, follows its narrowest port down to
 * 1400: both are below FLANNEL_MTU, each with its own fix (the kernel's bridge, not a second fault). `size`: the
 * ICMP payload of a FLANNEL_MTU packet.
 */
function podVethMtuLow(id: string, backend: 'vxlan' | 'host-gw', changes: string, size: number): FaultEntry {
  return {
    id,
    changes,
    sim: {
      backend,
      on: 'node2',
      // the pod's own 1450-byte packets die at the same veth on their way out (a veth drops what its receiving end
      // cannot take)
      breaks: [
        { from: 'third', to: 'node', size },
        { from: 'peer', to: 'node', size },
        { from: 'node', to: 'peer', size },
      ],
      expect: [
        {
          check: 'mtu',
          node: 'node',
          severity: 'error',
          count: 2,
          evidence: /^(cni0|veth[0-9a-f]+) mtu 1400( master cni0)?$/,
        },
      ],
    },
  };
}

export const FAULT_CATALOG: readonly FaultEntry[] = [
  // --- routes, fdb, neighbours ---------------------------------------------------------------------------------
  {
    id: 'route-deleted',
    changes: "kernel: the node's route to the peer's podCIDR deleted by hand",
    sim: {
      backend: 'vxlan',
      on: 'node1',
      breaks: [
        { from: 'node', to: 'peer' },
        { from: 'peer', to: 'node' },
      ],
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /expected: 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      // host-gw's flanneld adds a deleted route back within 10 s (RouteNetwork.routeCheck, flannel
      // pkg/backend/route_network.go): there the fault heals itself, and a collection that starts later sees nothing.
      // vxlan never re-adds one.
      backends: ['vxlan', 'vxlan-directrouting'],
      inject: 'route_deleted',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`expected: ${v.peer.podCIDR} via `,
        },
      ],
    },
  },
  {
    id: 'route-wrong-via',
    changes: "kernel: the node's route to the peer's podCIDR points at 10.250.X.99 dev eth0, an address no node has",
    lab: {
      fixRestores: true,
      backends: routed,
      inject: 'route_wrong_via',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`${v.peer.podCIDR} via 10\.250\.\d+\.99 dev eth0`,
        },
      ],
    },
  },
  {
    id: 'directrouting-route-missing',
    changes: 'kernel: the node lost its DirectRouting route to the peer',
    sim: {
      backend: 'vxlan-directrouting',
      on: 'node2',
      breaks: [
        { from: 'third', to: 'node' },
        { from: 'node', to: 'third' },
      ],
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /10\.244\.1\.0\/24 via 192\.168\.56\.11/,
        },
      ],
    },
  },
  {
    id: 'ipv6-route-deleted',
    changes: 'kernel: the node lost its IPv6 route to the peer while IPv4 works',
    sim: {
      backend: 'vxlan-dualstack',
      on: 'node1',
      breaks: [
        { from: 'node', to: 'peer', ipv6: true },
        { from: 'peer', to: 'node', ipv6: true },
      ],
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /fd00:10:244:2::\/64 via fd00:10:244:2:: dev flannel-v6\.1 onlink/,
        },
      ],
    },
  },
  {
    id: 'hostgw-route-deleted',
    changes: 'kernel: the node lost its host-gw route to the peer',
    sim: {
      backend: 'host-gw',
      on: 'node3',
      breaks: [
        { from: 'peer', to: 'node' },
        { from: 'node', to: 'peer' },
      ],
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /expected: 10\.244\.1\.0\/24 via 192\.168\.56\.11/,
        },
      ],
    },
  },
  {
    id: 'hostgw-peer-behind-router',
    changes: 'kernel: the node reaches the third node only through a router (an L3 boundary)',
    sim: {
      backend: 'host-gw',
      on: 'node1',
      expect: [
        {
          check: 'hostgw-not-onlink',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /ip route get 192\.168\.56\.13: 192\.168\.56\.13 via 192\.168\.56\.12/,
        },
      ],
    },
  },
  {
    id: 'ipip-route-deleted',
    changes: 'kernel: the node lost its ipip route to the peer',
    sim: {
      backend: 'ipip',
      on: 'node2',
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /expected: 10\.244\.3\.0\/24 via 192\.168\.56\.13 dev flannel\.ipip onlink/,
        },
      ],
    },
  },
  {
    id: 'fdb-deleted',
    changes: "kernel: the node's flannel.1 fdb entry for the peer's VtepMAC deleted",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      breaks: [
        { from: 'node', to: 'peer' },
        { from: 'peer', to: 'node' },
      ],
      expect: [
        {
          check: 'vxlan-fdb',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /expected: .* dev flannel\.1 dst 192\.168\.56\.13 self permanent/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: vx,
      inject: 'fdb_deleted',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'vxlan-fdb',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`expected: .* dev flannel\.1 dst ${v.peer.ip} self permanent`,
        },
      ],
    },
  },
  {
    id: 'fdb-wrong-dst',
    changes: "kernel: the node's fdb entry for the peer's VtepMAC points at 10.250.X.99",
    lab: {
      fixRestores: true,
      backends: vx,
      inject: 'fdb_wrong_dst',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'vxlan-fdb',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /dev flannel\.1 dst 10\.250\.\d+\.99/,
        },
      ],
    },
  },
  {
    id: 'neigh-deleted',
    changes: "kernel: the node's permanent neighbour for the peer's flannel.1 address deleted",
    lab: {
      fixRestores: true,
      backends: vx,
      inject: 'neigh_deleted',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'vxlan-neighbours',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`expected: ${v.peer.podNet} dev flannel\.1 lladdr `,
        },
      ],
    },
  },
  {
    id: 'neigh-wrong-mac',
    changes: "kernel: the node's neighbour for a peer's flannel.1 address has lladdr 02:00:00:00:00:99",
    sim: {
      backend: 'vxlan',
      on: 'node1',
      breaks: [
        { from: 'node', to: 'third' },
        { from: 'third', to: 'node' },
      ],
      expect: [
        {
          check: 'vxlan-neighbours',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /actual: 10\.244\.3\.0 dev flannel\.1 lladdr 02:00:00:00:00:99 PERMANENT/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: vx,
      inject: 'neigh_wrong_mac',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'vxlan-neighbours',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`actual: ${v.peer.podNet} dev flannel\.1 lladdr 02:00:00:00:00:99 PERMANENT`,
        },
      ],
    },
  },
  {
    id: 'stale-node-entries',
    changes:
      'kernel: the route, neighbour and fdb entry of a node deleted while flanneld was down stay on the node (10.244.4.0/24 in the simulator, 10.244.250.0/24 in the lab)',
    sim: {
      backend: 'vxlan',
      on: 'node1',
      expect: [
        {
          check: 'stale-routes',
          node: 'node',
          severity: 'warning',
          evidence: /10\.244\.4\.0\/24 via 10\.244\.4\.0 dev flannel\.1/,
        },
        {
          check: 'vxlan-neighbours',
          node: 'node',
          severity: 'warning',
          evidence: /10\.244\.4\.0 dev flannel\.1 lladdr 0a:58:0a:f4:04:00/,
        },
        {
          check: 'vxlan-fdb',
          node: 'node',
          severity: 'warning',
          evidence: /0a:58:0a:f4:04:00 dev flannel\.1 dst 192\.168\.56\.14/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: routed,
      inject: 'stale_node_entries',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      probe: 'stale-route-present',
      expect: [
        { check: 'stale-routes', node: 'node', severity: 'warning', evidence: /10\.244\.250\.0\/24 via / },
        {
          check: 'vxlan-neighbours',
          node: 'node',
          severity: 'warning',
          evidence: /10\.244\.250\.0 dev flannel\.1 lladdr 0a:fa:fa:fa:fa:fa/,
        },
        {
          check: 'vxlan-fdb',
          node: 'node',
          severity: 'warning',
          evidence: /0a:fa:fa:fa:fa:fa dev flannel\.1 dst 10\.250\.\d+\.250/,
        },
      ],
      findingsOn: {
        'host-gw': {
          expect: [{ check: 'stale-routes', node: 'node', severity: 'warning', evidence: /10\.244\.250\.0\/24 via / }],
        },
      },
    },
  },
  {
    id: 'own-podcidr-shadowed',
    changes:
      "kernel: a route sends the node's own podCIDR to the peer (left from host-gw days, when the peer owned the range)",
    sim: {
      backend: 'vxlan',
      on: 'node1',
      expect: [
        {
          check: 'own-podcidr-route',
          node: 'node',
          severity: 'error',
          evidence: /10\.244\.1\.0\/24 via 192\.168\.56\.12 dev eth0 metric 50/,
        },
      ],
    },
  },
  // --- devices and MTU ------------------------------------------------------------------------------------------
  {
    id: 'vtep-mac-rewritten',
    changes: "kernel: udev rewrote the node's flannel.1 MAC after flanneld created it",
    sim: {
      backend: 'vxlan',
      on: 'node3',
      breaks: [
        { from: 'peer', to: 'node' },
        { from: 'third', to: 'node' },
        { from: 'node', to: 'peer' },
        { from: 'node', to: 'third' },
      ],
      expect: [
        { check: 'vtep-mac', node: 'node', severity: 'error', evidence: /flannel\.1: link\/ether 02:42:ac:11:00:02/ },
      ],
    },
  },
  {
    id: 'duplicate-vtepmac',
    changes: "API: the node's backend-data VtepMAC is the peer's; the third node's fdb for that MAC re-pointed",
    lab: {
      // The peers' fdb entries for the node's real VtepMAC are kept, not reported: vtep-mac's fix (a restart, which
      // publishes the device's MAC again) makes them carry traffic again, and deleting them would cut it.
      fixRestores: true,
      backends: vx,
      inject: 'duplicate_vtepmac',
      effect: { kind: 'unreachable', from: 'third', to: 'peer' },
      expect: [{ check: 'vtep-mac', node: 'node', severity: 'error', evidence: /VtepMAC/ }],
      consequences: [
        {
          check: 'vxlan-fdb',
          node: 'third',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`actual: .* dev flannel\.1 dst ${v.node.ip} self permanent`,
          reason: "the third node's flanneld re-pointed the duplicated MAC at the node, away from the peer",
        },
      ],
    },
  },
  {
    id: 'vxlan-device-deleted',
    changes:
      'kernel: flannel.1 deleted on the node; real flanneld (0.28.9) re-creates it with the same VtepMAC but without the peer routes, fdb and neighbours',
    lab: {
      fixRestores: true,
      backends: vx,
      inject: 'vxlan_device_deleted',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      probe: 'peer-route-missing',
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`expected: ${v.peer.podCIDR} via`,
        },
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: (v) => rx`expected: ${v.third.podCIDR} via`,
        },
        {
          check: 'vxlan-fdb',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`dst ${v.peer.ip} self permanent`,
        },
        {
          check: 'vxlan-fdb',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: (v) => rx`dst ${v.third.ip} self permanent`,
        },
        {
          check: 'vxlan-neighbours',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`expected: ${v.peer.podNet} dev flannel\.1`,
        },
        {
          check: 'vxlan-neighbours',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: (v) => rx`expected: ${v.third.podNet} dev flannel\.1`,
        },
      ],
    },
  },
  {
    id: 'vxlan-port-differs',
    changes: 'kernel: flannel.1 on the node re-created by hand with dstport 4789',
    sim: {
      backend: 'vxlan',
      on: 'node3',
      breaks: [
        { from: 'peer', to: 'node' },
        { from: 'third', to: 'node' },
        { from: 'node', to: 'peer' },
        { from: 'node', to: 'third' },
      ],
      expect: [
        { check: 'vxlan-port-mismatch', node: 'node', severity: 'error', evidence: /node3: VNI 1 dstport 4789/ },
        { check: 'flannel-device', node: 'node', severity: 'error', evidence: /dstport 4789/ },
      ],
      consequences: [
        ...(['peer', 'third'] as const).flatMap((peer) =>
          (['peer-routes', 'vxlan-neighbours', 'vxlan-fdb'] as const).map((check) => ({
            check,
            node: 'node' as const,
            peer,
            severity: 'error' as const,
            evidence: /expected: /,
            reason: "deleting the device took flanneld's peer entries with it; they are not replayed",
          })),
        ),
      ],
    },
  },
  {
    id: 'leftover-udp-device',
    changes: 'kernel: the node still has flannel0 from the udp backend it used before',
    sim: {
      backend: 'vxlan',
      on: 'node1',
      expect: [{ check: 'leftover-backend-device', node: 'node', severity: 'warning', evidence: /flannel0: tun/ }],
    },
  },
  {
    id: 'udp-device-down',
    changes: 'kernel: flannel0 on the node set down',
    sim: {
      backend: 'udp',
      on: 'node2',
      expect: [
        {
          check: 'flannel-device',
          node: 'node',
          severity: 'error',
          evidence: /flannel0: <[A-Z,]*> mtu \d+ state DOWN/,
        },
      ],
      consequences: [
        {
          check: 'peer-routes',
          node: 'node',
          severity: 'error',
          evidence: /expected: 10\.244\.0\.0\/16 dev flannel0/,
          reason: 'the whole-Network route through flannel0 goes with the link',
        },
      ],
    },
  },
  {
    id: 'mtu-underlay',
    changes: "kernel: the node's uplink eth0 MTU lowered to 1400 after flannel.1 was created (flannel.1 keeps 1450)",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      // a FLANNEL_MTU packet (1422 + 28) is 1500 bytes in VXLAN: node2's eth0 drops the frame on arrival
      breaks: [
        { from: 'peer', to: 'node', size: 1422 },
        { from: 'third', to: 'node', size: 1422 },
      ],
      expect: [{ check: 'mtu', node: 'node', severity: 'error', count: 2, evidence: /eth0 \(uplink\) mtu 1400/ }],
      consequences: uplinkMixed,
    },
    lab: {
      fixRestores: true,
      backends: routed,
      inject: 'mtu_underlay',
      effect: { kind: 'big-packets-dropped', from: 'peer', to: 'node' },
      // the peer's full-size packet is too big for the node's eth0: the veth drops it before the node sees it
      mtuHop: { on: 'node', iface: 'eth0' },
      expect: [{ check: 'mtu', node: 'node', severity: 'error', count: 2, evidence: /eth0 \(uplink\) mtu 1400/ }],
      consequences: uplinkMixed,
      // dual-stack: flannel-v6.1 (1430) exceeds the lowered uplink too, and has the same fix
      findingsOnDual: {
        expect: [{ check: 'mtu', node: 'node', severity: 'error', count: 3, evidence: /eth0 \(uplink\) mtu 1400/ }],
        consequences: uplinkMixed,
      },
      // host-gw has no tunnel device, and DirectRouting's on-link peers never use flannel.1: only FLANNEL_MTU
      // exceeds the lowered uplink
      findingsOn: {
        'host-gw': {
          expect: [{ check: 'mtu', node: 'node', severity: 'error', evidence: /eth0 \(uplink\) mtu 1400/ }],
          consequences: uplinkMixed,
        },
        'vxlan-directrouting': {
          expect: [{ check: 'mtu', node: 'node', severity: 'error', evidence: /eth0 \(uplink\) mtu 1400/ }],
          consequences: uplinkMixed,
        },
      },
    },
  },
  {
    id: 'mtu-flannel',
    changes: 'kernel: flannel.1 MTU 1350 on the node while subnet.env says FLANNEL_MTU=1450',
    lab: {
      fixRestores: true,
      backends: vx,
      inject: 'mtu_flannel',
      effect: { kind: 'big-packets-dropped', from: 'node', to: 'peer' },
      mtuHop: { on: 'node', iface: 'flannel.1' },
      expect: [{ check: 'mtu', node: 'node', severity: 'error', evidence: /flannel\.1 mtu 1350/ }],
    },
  },
  {
    id: 'flannel-mtu-differs',
    changes: "file: the node's flanneld started while its NIC had MTU 1400 and wrote FLANNEL_MTU=1400",
    sim: {
      backend: 'host-gw',
      on: 'node3',
      expect: [
        { check: 'mtu-mixed', node: 'node', severity: 'warning', evidence: /node3: FLANNEL_MTU=1400/ },
        { check: 'mtu', node: 'node', severity: 'error', evidence: /veth[0-9a-f]+ mtu 1500 master cni0/ },
      ],
    },
  },
  // --- firewall and sysctls --------------------------------------------------------------------------------------
  {
    id: 'ip-forward-off',
    changes: 'kernel: net.ipv4.ip_forward=0 on the node (a security baseline)',
    sim: {
      backend: 'vxlan',
      on: 'node2',
      breaks: [
        { from: 'third', to: 'node' },
        { from: 'node', to: 'third' },
        { from: 'node', to: 'peer' },
        { from: 'peer', to: 'node' },
      ],
      expect: [{ check: 'ip-forward', node: 'node', severity: 'error', evidence: /net\.ipv4\.ip_forward = 0/ }],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'ip_forward_off',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [{ check: 'ip-forward', node: 'node', severity: 'error', evidence: /net\.ipv4\.ip_forward = 0/ }],
    },
  },
  {
    id: 'forward-reject-first',
    changes: "kernel: firewalld's REJECT rule inserted ahead of FLANNEL-FWD in the node's FORWARD chain",
    sim: {
      backend: 'vxlan',
      on: 'node3',
      breaks: [
        { from: 'peer', to: 'node' },
        { from: 'third', to: 'node' },
        { from: 'node', to: 'peer' },
        { from: 'node', to: 'third' },
      ],
      expect: [
        {
          check: 'forward-drop',
          node: 'node',
          severity: 'error',
          evidence: /-A FORWARD -j REJECT --reject-with icmp-host-prohibited/,
        },
      ],
    },
  },
  {
    id: 'forward-drop-rule',
    changes: 'kernel: iptables -I FORWARD 1 -j DROP on the node, ahead of the FLANNEL-FWD jump',
    lab: {
      fixRestores: true,
      notInNftables: 'forward-drop judges the rule against the FLANNEL-FWD jump, which does not exist in nftables mode',
      backends: all,
      inject: 'forward_drop_rule',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [{ check: 'forward-drop', node: 'node', severity: 'error', evidence: /-A FORWARD .*-j DROP/ }],
    },
  },
  {
    id: 'forward-policy-drop-no-flannel-fwd',
    changes: 'kernel: the node runs with FORWARD policy DROP and its FLANNEL-FWD jump was flushed',
    sim: {
      backend: 'host-gw',
      on: 'node1',
      breaks: [
        { from: 'node', to: 'peer' },
        { from: 'node', to: 'third' },
        { from: 'peer', to: 'node' },
        { from: 'third', to: 'node' },
      ],
      expect: [{ check: 'forward-drop', node: 'node', severity: 'error', evidence: /:FORWARD DROP/ }],
    },
  },
  {
    id: 'forward-policy-drop',
    changes: "kernel: iptables -P FORWARD DROP on the node; flannel's FLANNEL-FWD accept rules still pass pod traffic",
    lab: {
      notInNftables:
        "flannel's accept rules live in its own nft table there; iptables' FORWARD DROP policy still drops pod traffic",
      backends: all,
      inject: 'forward_policy_drop',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      probe: 'forward-policy-drop',
      // flannel tolerates it: doctor must report nothing at all
      expect: [],
    },
  },
  {
    id: 'masquerade-flushed',
    changes: "kernel: another agent flushed the node's nat table",
    sim: {
      backend: 'vxlan',
      on: 'node1',
      expect: [{ check: 'masquerade-rules', node: 'node', severity: 'error', evidence: /FLANNEL_IPMASQ=true/ }],
    },
  },
  {
    id: 'vxlan-port-blocked',
    changes: "kernel: the node's INPUT chain drops the overlay port (UDP 8472; udp backend 8285)",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      breaks: [
        { from: 'third', to: 'node' },
        { from: 'node', to: 'third' },
        { from: 'node', to: 'peer' },
        { from: 'peer', to: 'node' },
      ],
      expect: [
        {
          check: 'overlay-port-blocked',
          node: 'node',
          severity: 'error',
          evidence: /-A INPUT -p udp -m udp --dport 8472 -j DROP/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      notInNftables: "overlay-port-blocked reads iptables' INPUT chain, which is not where an nftables host filters",
      backends: ['vxlan', 'udp'],
      inject: 'vxlan_port_blocked',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      expect: [{ check: 'overlay-port-blocked', node: 'node', severity: 'error', evidence: /--dport (8472|8285)/ }],
    },
  },
  {
    id: 'wireguard-input-policy-drop',
    changes: "kernel: the node's INPUT policy is DROP and nothing accepts UDP 51820",
    sim: {
      backend: 'wireguard',
      on: 'node3',
      expect: [{ check: 'overlay-port-blocked', node: 'node', severity: 'error', evidence: /:INPUT DROP/ }],
    },
  },
  {
    id: 'bridge-nf-call-off',
    changes: 'kernel: net.bridge.bridge-nf-call-iptables=0 on the node',
    sim: {
      backend: 'vxlan',
      on: 'node1',
      expect: [
        {
          check: 'br-netfilter',
          node: 'node',
          severity: 'warning',
          evidence: /net\.bridge\.bridge-nf-call-iptables = 0/,
        },
      ],
    },
  },
  {
    id: 'iptables-legacy-nft-split',
    changes: "kernel: kube-proxy on the node writes iptables-legacy while flannel's rules are in iptables-nft",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      expect: [
        {
          check: 'iptables-split',
          node: 'node',
          severity: 'warning',
          evidence: /iptables-legacy-save: KUBE-\* chains present/,
        },
      ],
    },
  },
  // --- files: subnet.env, cni0, CNI config ------------------------------------------------------------------------
  {
    id: 'subnet-env-removed',
    changes: "file: the node's /run/flannel/subnet.env removed (CNI ADD fails there)",
    sim: {
      backend: 'vxlan',
      on: 'node3',
      expect: [{ check: 'subnet-env', node: 'node', severity: 'error', evidence: /No such file or directory/ }],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'subnet_env_removed',
      effect: { kind: 'cni-add-fails', on: 'node' },
      expect: [{ check: 'subnet-env', node: 'node', severity: 'error', evidence: /No such file or directory/ }],
    },
  },
  {
    id: 'subnet-env-stale',
    changes: "file: the node's subnet.env still names an old podCIDR",
    sim: {
      backend: 'host-gw',
      on: 'node2',
      expect: [{ check: 'subnet-env', node: 'node', severity: 'error', evidence: /FLANNEL_SUBNET=10\.244\.7\.1\/24/ }],
    },
  },
  {
    id: 'cni0-wrong-address',
    changes: "kernel: cni0 on the node keeps a gateway address outside the node's podCIDR",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      expect: [{ check: 'cni0-address', node: 'node', severity: 'error', evidence: /cni0: 10\.244\.42\.1\/24/ }],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'cni0_wrong_address',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [{ check: 'cni0-address', node: 'node', severity: 'error', evidence: /cni0: 10\.244\.99\.1\/24/ }],
    },
  },
  {
    id: 'cni-conf-removed',
    changes:
      "file: the node's 10-flannel.conflist removed (/etc/cni/net.d; k3s: agent/etc/cni/net.d): CNI ADD fails there",
    sim: {
      backend: 'host-gw',
      on: 'node1',
      expect: [{ check: 'cni-config', node: 'node', severity: 'error', evidence: /^ls \S+net\.d: \(empty\)$/ }],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'cni_conf_removed',
      effect: { kind: 'cni-add-fails', on: 'node' },
      expect: [{ check: 'cni-config', node: 'node', severity: 'error', evidence: /^ls \S+net\.d: \(empty\)$/ }],
    },
  },
  {
    id: 'other-cni-conf-first',
    changes: "file: a leftover 05-cilium.conflist on the node sorts before flannel's config",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      expect: [
        {
          check: 'cni-config',
          node: 'node',
          severity: 'error',
          evidence: /active: .*05-cilium\.conflist: plugins cilium-cni/,
        },
      ],
    },
  },
  {
    id: 'cni-plugin-missing',
    changes: 'file: the portmap plugin is missing from /opt/cni/bin on the node',
    sim: {
      backend: 'udp',
      on: 'node3',
      expect: [
        {
          check: 'cni-config',
          node: 'node',
          severity: 'error',
          evidence: /ls .*bin: bandwidth bridge flannel host-local loopback$/,
        },
      ],
    },
  },
  // --- the API: nodes, annotations, pods, ConfigMap --------------------------------------------------------------
  {
    id: 'vagrant-shared-nat-ip',
    changes:
      'API+kernel: every node published the VirtualBox NAT address 10.0.2.15, and flanneld pointed every fdb entry at it',
    sim: {
      backend: 'vxlan',
      on: 'node1',
      breaks: [
        { from: 'node', to: 'peer' },
        { from: 'node', to: 'third' },
        { from: 'peer', to: 'node' },
        { from: 'peer', to: 'third' },
        { from: 'third', to: 'node' },
        { from: 'third', to: 'peer' },
      ],
      expect: (['node', 'peer', 'third'] as const).flatMap((node) => [
        { check: 'public-ip-duplicate', node, severity: 'error' as const, evidence: /public-ip=10\.0\.2\.15/ },
        { check: 'public-ip-not-local', node, severity: 'error' as const, evidence: /public-ip: 10\.0\.2\.15/ },
      ]),
    },
  },
  {
    id: 'public-ip-wrong',
    changes:
      "API: the node's flannel.alpha.coreos.com/public-ip names 10.250.X.99; peers re-point their fdb and routes",
    lab: {
      fixRestores: true,
      // Dual-stack: flanneld v0.28.9 ignores a Node update that changes only the IPv4 lease (kube.go
      // handleUpdateLeaseEvent: an unchanged IPv6 lease resets `changed`), so peers keep the old fdb and traffic
      // flows; the lab showed it. The annotation is still wrong, and doctor must still say so.
      effectOnDual: { kind: 'reachable', from: 'peer', to: 'node' },
      probe: 'public-ip-99',
      backends: all,
      inject: 'public_ip_wrong',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      expect: [
        { check: 'public-ip-not-local', node: 'node', severity: 'error', evidence: /public-ip: 10\.250\.\d+\.99/ },
      ],
    },
  },
  {
    id: 'podcidr-outside-network',
    changes:
      "API: the node's podCIDR comes from kubeadm's --pod-network-cidr 10.224.0.0/16, not flannel's Network; in the lab the Node is registered again with 10.224.X.0/24 and its flanneld, restarted, publishes its lease and exits (Network doesn't contain the PodCIDR)",
    lab: {
      fixRestores: true,
      kubeFlannelOnly: true,
      backends: API_FAULT_BACKENDS,
      inject: 'podcidr_outside_network',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      expect: [{ check: 'podcidr-outside-network', node: 'node', severity: 'error', evidence: /10\.224\.\d+\.0\/24/ }],
      consequences: [
        {
          check: 'flannel-pod-unhealthy',
          node: 'node',
          severity: 'error',
          evidence: /doesn't contain "10\.224\.\d+\.0\/24" PodCIDR/,
          reason: 'flanneld, restarted on the registered-again Node, exits: its podCIDR is outside the Network',
        },
      ],
    },
    sim: {
      backend: 'vxlan',
      on: 'node3',
      expect: [{ check: 'podcidr-outside-network', node: 'node', severity: 'error', evidence: /10\.224\.3\.0\/24/ }],
      // The node's own state (subnet.env, cni0, flannel.1) still follows the old 10.244.3.0/24, and the peers' entries
      // toward it follow its new lease: the checks that judge them leave them to this finding (PODCIDR_WRONG,
      // PEER_PODCIDR_WRONG), whose fix registers the Node again, re-creates that state and has the peers re-program it.
      consequences: [
        ...(['peer', 'third'] as const).flatMap((node) => [
          {
            check: 'stale-routes',
            node,
            severity: 'warning' as const,
            evidence: /10\.244\.3\.0\/24/,
            reason: 'the route to the old podCIDR now leads to a subnet no node owns',
          },
          {
            check: 'vxlan-neighbours',
            node,
            severity: 'warning' as const,
            evidence: /10\.244\.3\.0 dev flannel\.1/,
            reason: 'the neighbour for the old podCIDR belongs to no current node',
          },
        ]),
      ],
    },
  },
  {
    id: 'podcidr-unset',
    changes:
      'API: the node is registered without a podCIDR (kube-controller-manager never allocated one); in the lab the Node is registered again without one and its flanneld, restarted, exits (pod cidr not assigned)',
    lab: {
      fixRestores: true,
      // the crash-looping flannel pod is the lab's pod status patch (pod_terminated), which k3s has no pod for
      kubeFlannelOnly: true,
      backends: API_FAULT_BACKENDS,
      inject: 'podcidr_unset',
      // the peers' flanneld dropped the node's routes when its Node was deleted, and the new Node has no lease
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      probe: 'podcidr-empty',
      expect: [{ check: 'podcidr-unset', node: 'node', severity: 'error', evidence: /spec\.podCIDRs: \[\]/ }],
      consequences: [
        {
          check: 'flannel-pod-unhealthy',
          node: 'node',
          severity: 'error',
          evidence: /pod cidr not assigned/,
          reason: 'flanneld, restarted on the registered-again Node, exits: it takes its lease from the podCIDR',
        },
        {
          check: 'node-not-registered',
          node: 'node',
          severity: 'error',
          evidence: /no flannel\.alpha\.coreos\.com\/\* annotations/,
          reason: 'a Node registered again has none of the annotations flanneld writes once it has a lease',
        },
      ],
    },
    sim: {
      backend: 'host-gw',
      on: 'node2',
      expect: [{ check: 'podcidr-unset', node: 'node', severity: 'error', evidence: /spec\.podCIDRs: \[\]/ }],
      consequences: (['peer', 'third'] as const).map((node) => ({
        check: 'stale-routes',
        node,
        severity: 'warning' as const,
        evidence: /10\.244\.2\.0\/24/,
        reason: "the peers' routes to the node's old range now lead to a subnet no node owns",
      })),
    },
  },
  {
    id: 'podcidr-overlap',
    changes:
      "API: the node was given the same podCIDR as the third node; in the lab the Node is registered again with the third node's range and its flanneld, restarted, takes it as its lease while its pods stay in the old one",
    lab: {
      fixRestores: true,
      kubeFlannelOnly: true,
      backends: API_FAULT_BACKENDS,
      inject: 'podcidr_overlap',
      // The node's old lease went with its Node: no peer routes the range its pods still live in. (Toward the shared
      // range the peers' routes lead to the node, which on host-gw still forwards it to the third node: a detour.)
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      // reported on the node that moves (its cni0 is still in its old range), naming the one that keeps the range
      expect: [
        {
          check: 'podcidr-overlap',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /spec\.podCIDRs: \["10\.244\.\d+\.0\/24"\]/,
        },
      ],
    },
    sim: {
      backend: 'host-gw',
      on: 'node3',
      expect: [
        {
          check: 'podcidr-overlap',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /node3 spec\.podCIDRs: \["10\.244\.2\.0\/24"\]/,
        },
      ],
      // The node's own state (subnet.env, cni0, the route to its own range) still follows its old 10.244.3.0/24, and
      // the peers route the shared range to it: left to this finding (PODCIDR_WRONG, PEER_PODCIDR_WRONG), whose fix
      // registers the Node again with a fresh range and restarts the flannel pods that replay the leases.
      consequences: [
        ...(['peer', 'third'] as const).flatMap((node) => [
          {
            check: 'stale-routes',
            node,
            severity: 'warning' as const,
            evidence: /10\.244\.3\.0\/24/,
            reason: "the route to the node's old range now leads to a subnet no node owns",
          },
        ]),
      ],
    },
  },
  {
    id: 'backend-type-mismatch',
    changes: 'API: the node still carries backend-type host-gw from before a backend switch',
    sim: {
      backend: 'vxlan',
      on: 'node2',
      expect: [
        { check: 'backend-type-mismatch', node: 'node', severity: 'error', evidence: /backend-type: "host-gw"/ },
      ],
      consequences: (['peer', 'third'] as const).map((node) => ({
        check: 'vxlan-fdb',
        node,
        peer: 'node' as const,
        severity: 'info' as const,
        evidence: /dst 192\.168\.56\.12 self permanent/,
        reason: "peers ignore the node's lease; their fdb entry toward it still carries traffic",
      })),
    },
  },
  {
    id: 'netconf-drift',
    changes: "API: kube-flannel-cfg's net-conf.json Backend changed (cluster-wide); flanneld not restarted",
    lab: {
      fixRestores: true,
      kubeFlannelOnly: true,
      backends: all,
      inject: 'netconf_drift',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      probe: 'netconf-backend-differs',
      expect: (['node', 'peer', 'third'] as const).map((node) => ({
        check: 'backend-type-mismatch',
        node,
        severity: 'error' as const,
        evidence: /net-conf\.json Backend\.Type: /,
      })),
    },
  },
  {
    id: 'node-not-registered',
    changes: 'API: the node joined but its flanneld never acquired a lease: no flannel annotations',
    sim: {
      backend: 'vxlan',
      on: 'node3',
      expect: [
        {
          check: 'node-not-registered',
          node: 'node',
          severity: 'error',
          evidence: /no flannel\.alpha\.coreos\.com\/\* annotations/,
        },
      ],
      // The peers' fdb entries from before are kept, not reported: they still carry traffic to the node (vxlan-fdb).
    },
  },
  {
    id: 'annotations-removed',
    changes:
      "process+API: flanneld on the node stopped (pod not ready) and the node's flannel annotations removed; running peers ignore this and keep their entries (kube.go handleUpdateLeaseEvent returns early)",
    lab: {
      fixRestores: true,
      kubeFlannelOnly: true,
      backends: all,
      inject: 'annotations_removed',
      effect: { kind: 'reachable', from: 'peer', to: 'node' },
      effectOn: { udp: { kind: 'unreachable', from: 'peer', to: 'node' } },
      probe: 'annotations-gone',
      expect: [
        { check: 'node-not-registered', node: 'node', severity: 'error', evidence: /no flannel\.alpha\.coreos\.com/ },
        { check: 'flannel-pod-unhealthy', node: 'node', severity: 'error', evidence: /CrashLoopBackOff/ },
      ],
      // The running peers keep the node's fdb entry, and it still carries their traffic to it: vxlan-fdb keeps it
      // (deleting it would cut the peer -> node traffic that still works).
    },
  },
  {
    id: 'flannel-crashloop-br-netfilter',
    changes: "API: the node's flannel pod crash-loops: br_netfilter is not loaded",
    sim: {
      backend: 'vxlan',
      on: 'node3',
      expect: [
        {
          check: 'flannel-pod-unhealthy',
          node: 'node',
          severity: 'error',
          evidence: /log: .*Failed to check br_netfilter/,
        },
      ],
    },
  },
  {
    id: 'flanneld-stopped',
    changes: 'process: flanneld on the node stopped; API: its pod not ready (CrashLoopBackOff)',
    lab: {
      fixRestores: true,
      kubeFlannelOnly: true,
      backends: all,
      inject: 'flanneld_stopped',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      effectOn: { udp: { kind: 'unreachable', from: 'node', to: 'peer' } },
      probe: 'flanneld-healthz-down',
      expect: [{ check: 'flannel-pod-unhealthy', node: 'node', severity: 'error', evidence: /CrashLoopBackOff/ }],
      findingsOn: {
        udp: {
          expect: [{ check: 'flannel-pod-unhealthy', node: 'node', severity: 'error', evidence: /CrashLoopBackOff/ }],
          // udp's flannel0 is a TUN device held open by flanneld: it and its route go with the process
          consequences: [
            {
              check: 'flannel-device',
              node: 'node',
              severity: 'error',
              evidence: /flannel0 does not exist/,
              reason: 'flannel0 is the TUN device flanneld holds open; the kernel removes it when flanneld exits',
            },
            {
              check: 'peer-routes',
              node: 'node',
              severity: 'error',
              evidence: /route to the Network 10\.244\.0\.0\/16 is missing/,
              reason: "the Network's route is on flannel0 and left with it",
            },
          ],
        },
      },
    },
  },
  {
    id: 'flannel-pod-missing',
    changes: 'API: the node has a NoExecute taint the DaemonSet does not tolerate: no flannel pod there',
    sim: {
      backend: 'vxlan',
      on: 'node3',
      expect: [
        { check: 'flannel-pod-missing', node: 'node', severity: 'error', evidence: /taints: dedicated:NoExecute/ },
      ],
    },
  },
  {
    id: 'network-unavailable',
    changes: "API: the node's NetworkUnavailable condition is True (a cloud route controller reset it)",
    sim: {
      backend: 'host-gw',
      on: 'node2',
      expect: [
        {
          check: 'node-network-unavailable',
          node: 'node',
          severity: 'error',
          evidence: /NetworkUnavailable=True reason=NoRouteCreated/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'network_unavailable',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      probe: 'network-unavailable',
      expect: [
        {
          check: 'node-network-unavailable',
          node: 'node',
          severity: 'error',
          evidence: /NetworkUnavailable=True reason=NoRouteCreated/,
        },
      ],
    },
  },
  {
    id: 'networkpolicy-present',
    changes: 'API: a default-deny NetworkPolicy exists, which flannel does not enforce',
    sim: {
      backend: 'vxlan',
      on: 'node1',
      expect: [
        {
          check: 'network-policy-unenforced',
          node: null,
          severity: 'warning',
          evidence: /networkpolicy prod\/default-deny/,
        },
      ],
    },
  },
  {
    id: 'ipsec-psk-short',
    changes: 'API: the IPsec PSK in net-conf.json has 32 characters',
    sim: {
      backend: 'ipsec',
      on: 'node1',
      expect: [{ check: 'netconf-invalid', node: null, severity: 'error', evidence: /Backend\.PSK length: 32/ }],
    },
  },
  {
    id: 'network-overlaps-lan',
    changes: "API: net-conf.json Network 192.168.0.0/16 swallows the nodes' own LAN",
    sim: {
      backend: 'host-gw',
      on: 'node1',
      expect: (['node', 'peer', 'third'] as const).map((node) => ({
        check: 'network-overlap',
        node,
        severity: 'error' as const,
        evidence: /address 192\.168\.56\.1[123]/,
      })),
      consequences: (['node', 'peer', 'third'] as const).flatMap((node) =>
        (['podcidr-outside-network', 'subnet-env', 'masquerade-rules'] as const).map((check) => ({
          check,
          node,
          severity: 'error' as const,
          evidence: /10\.244\./,
          reason: 'nothing else of the cluster fits the new Network either',
        })),
      ),
    },
  },
  // --- wireguard, ipsec ------------------------------------------------------------------------------------------
  {
    id: 'wireguard-peer-missing',
    changes: "kernel: the node's WireGuard device has no peer for the third node and a stale peer from a rebooted node",
    sim: {
      backend: 'wireguard',
      on: 'node1',
      expect: [
        {
          check: 'wireguard-peers',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /expected: peer .* endpoint 192\.168\.56\.13:51820 allowed-ips 10\.244\.3\.0\/24/,
        },
        { check: 'wireguard-peers', node: 'node', severity: 'warning', evidence: /peer OLDKEY.* allowed-ips \(none\)/ },
      ],
    },
  },
  {
    id: 'ipsec-policy-deleted',
    changes: "kernel: the node's out policy toward the third node deleted by hand (flannel never restores it)",
    sim: {
      backend: 'ipsec',
      on: 'node2',
      expect: [
        {
          check: 'ipsec-policies',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence:
            /expected: src 10\.244\.2\.0\/24 dst 10\.244\.1\.0\/24 dir out tmpl src 192\.168\.56\.12 dst 192\.168\.56\.11/,
        },
      ],
    },
  },
  {
    id: 'ipsec-sa-absent',
    changes: 'kernel: IKE between the node and the third node never completed: no SAs, policies only',
    sim: {
      backend: 'ipsec',
      on: 'node1',
      expect: [
        {
          check: 'ipsec-sa',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /no SA 192\.168\.56\.11 -> 192\.168\.56\.13/,
        },
        {
          check: 'ipsec-sa',
          node: 'third',
          peer: 'node',
          severity: 'error',
          evidence: /no SA 192\.168\.56\.13 -> 192\.168\.56\.11/,
        },
      ],
    },
  },
  {
    id: 'ipsec-sa-key-mismatch',
    changes: 'kernel: after a rekey the node holds a different key for its SA toward the peer than the peer does',
    sim: {
      backend: 'ipsec',
      on: 'node2',
      expect: [
        {
          check: 'ipsec-sa',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /node2: src 192\.168\.56\.12 dst 192\.168\.56\.13 proto esp/,
        },
      ],
    },
  },
  {
    id: 'ipsec-sa-departed-node',
    changes: 'kernel: the node still holds the SAs of a node deleted while its charon was down',
    sim: {
      backend: 'ipsec',
      on: 'node1',
      expect: [
        {
          check: 'ipsec-sa',
          node: 'node',
          severity: 'warning',
          evidence: /src 192\.168\.56\.11 dst 192\.168\.56\.14 proto esp spi 0xc0ffee01/,
        },
      ],
    },
  },
  // --- collection ----------------------------------------------------------------------------------------------
  {
    id: 'node-unreachable',
    changes: "kernel: the node's network namespace vanished before collection (as when exec into its pod fails)",
    sim: {
      backend: 'host-gw',
      on: 'node3',
      // one per collected part: cni, fdb, firewall, links, neighbours, routeGets, routes, subnetEnv, sysctls
      expect: [
        {
          check: 'collection-incomplete',
          node: 'node',
          severity: 'warning',
          count: 9,
          evidence: /^\w+: failed: [\s\S]*Cannot open network namespace/,
        },
      ],
    },
  },
  // --- packagings and modes (issue 11): nftables mode, Canal, k3s, IPv6-only, dual-stack host-gw -------------------
  // lab entries are appended last so that the lab's earlier faults keep their nodes
  {
    id: 'nft-postrtg-flushed',
    changes:
      "kernel: the node's flannel-ipv4 postrtg chain flushed (a firewall service reloading nftables); pods lose masquerading",
    sim: {
      backend: 'vxlan-nftables',
      on: 'node2',
      expect: [
        {
          check: 'nftables-rules',
          node: 'node',
          severity: 'error',
          evidence: /postrtg: missing rules: meta mark 0x00004000 return/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'nft_postrtg_flushed',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      probe: 'nft-postrtg-no-masquerade',
      nftablesOnly: true,
      expect: [{ check: 'nftables-rules', node: 'node', severity: 'error', evidence: /meta mark 0x00004000 return/ }],
    },
  },
  {
    id: 'nft-forward-rule-changed',
    changes: "kernel: the node's nftables forward chain accepts only the node's own podCIDR instead of the Network",
    sim: {
      backend: 'vxlan-nftables',
      on: 'node3',
      expect: [
        {
          check: 'nftables-rules',
          node: 'node',
          severity: 'error',
          evidence: /forward: missing rule: ip saddr 10\.244\.0\.0\/16 accept/,
        },
      ],
    },
  },
  {
    id: 'iptables-chains-left-in-nft-mode',
    changes: 'kernel: the node still has iptables-mode FLANNEL-POSTRTG from before the switch to nftables mode',
    sim: {
      backend: 'vxlan-nftables',
      on: 'node1',
      expect: [
        { check: 'firewall-mode-conflict', node: 'node', severity: 'warning', evidence: /chain FLANNEL-POSTRTG/ },
      ],
    },
  },
  {
    id: 'blackhole-route-deleted',
    changes: "kernel: the node's blackhole route for its podCIDR deleted (flanneld runs with --ip-blackhole-route)",
    sim: {
      backend: 'vxlan-canal',
      on: 'node3',
      expect: [{ check: 'blackhole-route', node: 'node', severity: 'warning', evidence: /--ip-blackhole-route/ }],
    },
  },
  {
    id: 'networkpolicy-enforced-by-calico',
    changes: 'API: NetworkPolicies exist; in Canal Calico enforces them, so doctor must report nothing',
    sim: { backend: 'vxlan-canal', on: 'node1', expect: [] },
  },
  {
    id: 'canal-fdb-deleted',
    changes: "kernel: the node's fdb entry for the third node's VtepMAC deleted (flannel's overlay under Calico's CNI)",
    sim: {
      backend: 'vxlan-canal',
      on: 'node2',
      breaks: [
        { from: 'node', to: 'third' },
        { from: 'third', to: 'node' },
      ],
      expect: [
        {
          check: 'vxlan-fdb',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /dst 192\.168\.56\.11 self permanent/,
        },
      ],
    },
  },
  {
    id: 'k3s-peer-route-deleted',
    changes: 'kernel: the node (k3s, embedded flannel) lost its route to the peer',
    sim: {
      backend: 'vxlan-k3s',
      on: 'node1',
      breaks: [
        { from: 'node', to: 'peer' },
        { from: 'peer', to: 'node' },
      ],
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /expected: 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink/,
        },
      ],
    },
  },
  {
    id: 'k3s-cni-conf-removed',
    changes: "file: the node's k3s CNI config (agent/etc/cni/net.d/10-flannel.conflist) removed",
    sim: {
      backend: 'vxlan-k3s',
      on: 'node2',
      expect: [{ check: 'cni-config', node: 'node', severity: 'error', evidence: /^ls \S+net\.d: \(empty\)$/ }],
    },
  },
  {
    id: 'ipv6only-fdb-deleted',
    changes: "kernel: IPv6-only: the node's fdb entry for the third node's v6 VtepMAC deleted",
    sim: {
      backend: 'vxlan-ipv6',
      on: 'node3',
      breaks: [
        { from: 'third', to: 'node', ipv6: true },
        { from: 'node', to: 'third', ipv6: true },
      ],
      expect: [
        {
          check: 'vxlan-fdb',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /dev flannel-v6\.1 dst fd00:56::12 self permanent/,
        },
      ],
    },
  },
  {
    id: 'hostgw-ipv6-route-deleted',
    changes: 'kernel: dual-stack host-gw: the node lost its IPv6 route to the peer while IPv4 works',
    sim: {
      backend: 'host-gw-dualstack',
      on: 'node2',
      breaks: [
        { from: 'node', to: 'peer', ipv6: true },
        { from: 'peer', to: 'node', ipv6: true },
      ],
      expect: [
        {
          check: 'peer-routes',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /fd00:10:244:3::\/64 via fd00:56::13/,
        },
      ],
    },
  },
  {
    id: 'flanneld-hung',
    changes:
      'process: flanneld on the node hung (SIGSTOP): its pod still shows Running and ready, /healthz never answers',
    sim: {
      backend: 'vxlan-nftables',
      on: 'node3',
      expect: [{ check: 'flanneld-health', node: 'node', severity: 'error', evidence: /healthz: no answer/ }],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'flanneld_hung',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      effectOn: { udp: { kind: 'unreachable', from: 'node', to: 'peer' } },
      probe: 'flanneld-healthz-down',
      kubeFlannelOnly: true,
      expect: [{ check: 'flanneld-health', node: 'node', severity: 'error', evidence: /healthz: no answer/ }],
    },
  },
  {
    id: 'route6-deleted',
    changes: "kernel: dual-stack: the node's IPv6 route to the peer's IPv6 podCIDR deleted; IPv4 keeps working",
    lab: {
      fixRestores: true,
      backends: routed,
      inject: 'route6_deleted',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      probe: 'route6-missing',
      dualOnly: true,
      expect: [
        { check: 'peer-routes', node: 'node', peer: 'peer', severity: 'error', evidence: /expected: \S+::\/\d+ via / },
      ],
    },
  },
  // --- faults only packets reveal (issue 10): lab entries appended last, so earlier faults keep their nodes -------
  {
    id: 'underlay-drops-vxlan',
    changes:
      "underlay: the node's VXLAN probes never reach the peer's uplink (a filter between them); the counts are doctor --probe's, as recorded on the lab's underlay-drop fault",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      expect: [
        {
          check: 'underlay-probe',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /seen 0 on node3's uplink/,
        },
      ],
    },
  },
  {
    id: 'underlay-drops-vxlan-samples',
    changes:
      "underlay: an nft filter on the underlay bridge drops the node's VXLAN packets to the peer while the pods ping; bundle's tcpdump samples show them leave and never arrive",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      sampled: true,
      expect: [
        {
          check: 'underlay-samples',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /^node3 eth0: captured .*, 0 packets from node2, \d+ received by filter, 0 dropped by kernel$/,
        },
      ],
    },
  },
  {
    id: 'underlay-drop',
    changes:
      "underlay: the lab bridge (root netns, nft bridge family) drops the overlay's packets from the node to the peer",
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'underlay_drop',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      // no table doctor reads shows it: plain doctor must report nothing; doctor --probe names the pair
      expect: [],
      packets: { from: 'node', to: 'peer', lastSeenOn: 'node', dropped: { from: 'node', to: 'peer' } },
    },
  },
  {
    id: 'arrival-drop',
    changes:
      "kernel: nft netdev ingress on the node's eth0 drops the overlay's packets from the peer (below every iptables and routing table; the walk reads the uplink's ingress hook)",
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'arrival_drop',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      // with --probe, underlay-probe names the same rule on the node and the walk's finding is left to it
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /\(hook ingress device eth0\): .*drop/,
        },
      ],
      packets: { from: 'peer', to: 'node', lastSeenOn: 'node', dropped: { from: 'node', to: 'peer' } },
    },
  },
  // --- something other than flannel's entries decides the packet's fate (issue 9) ---------------------------------
  {
    id: 'policy-rule-other-table',
    changes:
      "kernel: a policy rule (pref 100) on the node sends the peer's podCIDR to table 100, whose route leads to an absent host",
    sim: {
      backend: 'vxlan',
      on: 'node1',
      breaks: [{ from: 'node', to: 'peer' }],
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence:
            /decided by: rule 100 \(from all to 10\.244\.2\.0\/24 lookup 100\), route 10\.244\.2\.0\/24 via 192\.168\.56\.99 dev eth0 table 100/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'policy_rule_other_table',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`decided by: rule 100 \(from all to ${v.peer.podCIDR} lookup 100\)`,
        },
      ],
    },
  },
  {
    id: 'hostgw-policy-rule-other-table',
    changes:
      "kernel: host-gw: a policy rule on the node sends the peer's podCIDR to table 100, whose route leads nowhere",
    sim: {
      backend: 'host-gw',
      on: 'node1',
      breaks: [{ from: 'node', to: 'peer' }],
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /decided by: rule 100 \(from all to 10\.244\.2\.0\/24 lookup 100\)/,
        },
      ],
    },
  },
  {
    id: 'peer-podcidr-shadowed',
    changes: "kernel: a more specific route on the node (a /25) takes half of a peer's podCIDR off flannel's route",
    sim: {
      backend: 'vxlan',
      on: 'node1',
      // the test pod (.2) is in the lower half, which still works: the ping goes to an address of the upper half
      breaks: [{ from: 'node', to: 'third', toHost: 130 }],
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence:
            /10\.244\.3\.0\/24 \(10\.244\.3\.254\) leaves via 192\.168\.56\.99 dev eth0 .*route 10\.244\.3\.128\/25 via 192\.168\.56\.99 dev eth0/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'podcidr_shadowed',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`route ${v.peer.podNet}/25 via 10\.250\.\d+\.99 dev eth0`,
        },
      ],
    },
  },
  {
    id: 'blackhole-in-local-table',
    changes: "kernel: a blackhole route for a peer's podCIDR in the node's local table (consulted before main)",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      breaks: [{ from: 'node', to: 'third' }],
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /decided by: rule 0 \(from all lookup local\), route blackhole 10\.244\.1\.0\/24 table local/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'blackhole_local_table',
      effect: { kind: 'unreachable', from: 'node', to: 'peer' },
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`route blackhole ${v.peer.podCIDR} table local`,
        },
      ],
    },
  },
  {
    id: 'prohibit-for-forwarded-pods',
    changes:
      "kernel: a rule on the node sends forwarded pod traffic (iif cni0) to table 200, where a peer's podCIDR is prohibit",
    sim: {
      backend: 'vxlan',
      on: 'node3',
      breaks: [{ from: 'node', to: 'third' }],
      expect: [
        {
          check: 'route-decision',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /kernel: ip route get 10\.244\.2\.1 from 10\.244\.3\.2 iif cni0: Permission denied/,
        },
      ],
    },
  },
  podVethMtuLow(
    'pod-veth-mtu-low',
    'vxlan',
    "kernel: the host-side veth of the node's pod (its port on cni0) at MTU 1400, below FLANNEL_MTU; the pod's eth0 keeps 1450",
    1422,
  ),
  podVethMtuLow(
    'pod-veth-mtu-low-host-gw',
    'host-gw',
    "kernel: host-gw, the host-side veth of the node's pod at MTU 1400, below FLANNEL_MTU 1500",
    1472,
  ),
  {
    id: 'pod-eth0-mtu-low',
    changes:
      "kernel: the node's pod's own eth0 at MTU 1400 (set inside the pod); its host-side veth keeps FLANNEL_MTU 1450",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      // a 1450-byte packet toward the pod passes cni0 and the veth, and dies as the veth hands it to eth0
      breaks: [
        { from: 'third', to: 'node', size: 1422 },
        { from: 'peer', to: 'node', size: 1422 },
      ],
      expect: [{ check: 'pod-eth0-mtu', node: 'node', severity: 'error', evidence: /: eth0@if\d+ mtu 1400$/ }],
    },
  },
  {
    id: 'pod-eth0-mtu-high',
    changes:
      "kernel: the node's test pod's own eth0 raised to MTU 1500 (a process in the pod with NET_ADMIN); its host-side veth keeps FLANNEL_MTU",
    lab: {
      fixRestores: true,
      // host-gw's FLANNEL_MTU is already 1500: nothing changes there
      backends: ['vxlan', 'vxlan-directrouting', 'udp'],
      inject: 'pod_eth0_mtu',
      // the pod's 1498-byte DF echo leaves its eth0 and dies at its host veth (FLANNEL_MTU 1450, udp 1472), no ICMP
      effect: { kind: 'big-packets-dropped', from: 'node', to: 'peer', size: 1470 },
      expect: [{ check: 'pod-eth0-mtu', node: 'node', severity: 'error', evidence: /: eth0@if\d+ mtu 1500$/ }],
    },
  },
  {
    id: 'cni0-mtu-below-flannel-mtu',
    changes: "kernel: cni0 MTU 1400 on the node, below FLANNEL_MTU: large packets into the node's pods die",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      breaks: [
        { from: 'third', to: 'node', size: 1422 },
        { from: 'peer', to: 'node', size: 1422 },
      ],
      expect: [
        {
          check: 'mtu',
          node: 'node',
          severity: 'error',
          evidence: /cni0 MTU 1400 is below FLANNEL_MTU 1450: pod packets of 1401-1450 bytes toward node2's pods die/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: routed,
      inject: 'cni0_mtu_low',
      effect: { kind: 'big-packets-dropped', from: 'peer', to: 'node' },
      mtuHop: { on: 'node', iface: 'cni0' },
      expect: [{ check: 'mtu', node: 'node', severity: 'error', evidence: /cni0 MTU 1400 is below FLANNEL_MTU/ }],
    },
  },
  {
    id: 'uplink-mtu-differs',
    changes: "kernel: the node's eth0 MTU raised to 9000 while the underlay and the other nodes carry 1500",
    sim: {
      backend: 'vxlan',
      on: 'node3',
      expect: [
        {
          check: 'mtu-mixed',
          node: 'node',
          severity: 'warning',
          evidence:
            /eth0 MTU 9000 exceeds the 1500 of node1, node2: host packets of 1501-9000 bytes from node3 to node1, node2 are dropped/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'uplink_mtu_differs',
      effect: { kind: 'reachable', from: 'node', to: 'peer' },
      probe: 'eth0-mtu-9000',
      expect: [
        { check: 'mtu-mixed', node: 'node', severity: 'warning', evidence: /eth0 MTU 9000 exceeds the 1500 of / },
      ],
    },
  },
  // --- the path walk's own faults (issue 9 item 6): lab entries appended last, so earlier faults keep their nodes ---
  {
    id: 'raw-drop-peer-podcidr',
    changes:
      "kernel: a raw-table DROP on the node for a peer's podCIDR, where no flannel check looks (only the path walk)",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      breaks: [{ from: 'third', to: 'node' }],
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          peer: 'third',
          severity: 'error',
          evidence: /raw chain PREROUTING: -A PREROUTING -s 10\.244\.1\.0\/24 -j DROP/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'raw_drop_peer_podcidr',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`raw chain PREROUTING: -A PREROUTING -s ${v.peer.podCIDR} -j DROP`,
        },
      ],
    },
  },
  {
    id: 'hostgw-mangle-drop-peer-podcidr',
    changes: "kernel: a mangle-table DROP on the node for a peer's podCIDR (host-gw: the routed pod packet)",
    sim: {
      backend: 'host-gw',
      on: 'node1',
      breaks: [{ from: 'peer', to: 'node' }],
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: /mangle chain PREROUTING: -A PREROUTING -s 10\.244\.2\.0\/24 -j DROP/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'mangle_drop_peer_podcidr',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          peer: 'peer',
          severity: 'error',
          evidence: (v) => rx`mangle chain PREROUTING: -A PREROUTING -s ${v.peer.podCIDR} -j DROP`,
        },
      ],
    },
  },
  {
    id: 'nft-table-drops-pods',
    changes:
      'kernel: a native nftables table on the node drops traffic to its pods at priority -300, before any flannel rule',
    sim: {
      backend: 'vxlan',
      on: 'node3',
      breaks: [
        { from: 'peer', to: 'node' },
        { from: 'third', to: 'node' },
      ],
      expect: [{ check: 'pod-path', node: 'node', severity: 'error', evidence: /nft inet kfl_guard pre handle \d+/ }],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'nft_table_drops_pods',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      // both peers' traffic stops at the same rule: one finding naming no single peer
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          severity: 'error',
          evidence: (v) => rx`nft inet kfl_guard pre handle \d+: ip daddr ${v.node.podCIDR} drop`,
        },
      ],
    },
  },
  {
    id: 'dnat-pod-traffic',
    changes: "kernel: a DNAT on the node rewrites a peer's pod traffic to an address no pod has",
    sim: {
      backend: 'vxlan',
      on: 'node2',
      breaks: [{ from: 'third', to: 'node' }],
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          peer: 'third',
          severity: 'warning',
          evidence: /DNAT --to-destination 10\.244\.2\.99/,
        },
      ],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'dnat_pod_traffic',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      expect: [
        {
          check: 'pod-path',
          node: 'node',
          peer: 'peer',
          severity: 'warning',
          evidence: (v) => rx`DNAT --to-destination ${v.node.podNet.replace(/\.0$/, '.99')}`,
        },
      ],
    },
  },
  {
    id: 'cni0-port-disabled',
    changes: "kernel: the node's pod port on cni0 set to the disabled state",
    sim: {
      backend: 'vxlan',
      on: 'node3',
      breaks: [
        { from: 'peer', to: 'node' },
        { from: 'third', to: 'node' },
      ],
      expect: [{ check: 'pod-path', node: 'node', severity: 'error', evidence: /master cni0 state disabled/ }],
    },
    lab: {
      fixRestores: true,
      backends: all,
      inject: 'cni0_port_disabled',
      effect: { kind: 'unreachable', from: 'peer', to: 'node' },
      expect: [{ check: 'pod-path', node: 'node', severity: 'error', evidence: /master cni0 state disabled/ }],
    },
  },
];
