// Issue 9's "Done when": trace names the breaking hop (or the detour, or the egress) for every catalog fault that
// breaks traffic. For each simulator fault, every ordered pod pair of its fixture is traced (both families on a
// dual-stack cluster). A ping needs the request and the reply, so a pair the catalog's `breaks` says is broken (sim-live
// proves it with real pings) must have at least one of its two one-way traces broken, and every broken one must stop
// at the node where that fault kills the packet, at the hop HOP names; every pair the fault does not break must
// trace as reaching (zero false positives). trace follows the largest packet the source sends (FLANNEL_MTU from a
// pod, the uplink's MTU from a node), so a fault that kills only large packets breaks the pairs it kills them for.
// Each node's pod is also traced out of the cluster network: it leaves (masqueraded) unless EGRESS names the node
// and hop where the fault stops it; and every node is traced to every other node's address (host packets): they
// arrive unless HOST names the directions and the hop.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Role } from '../../src/analyzers/fault-catalog/types.js';
import { type TraceResult, trace } from '../../src/analyzers/trace/trace.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import { rolesOf } from '../catalog/match.js';
import type { SimBackend } from '../sim/cluster.js';
import { FAULTS } from '../sim/faults.js';
import { fixturePath } from '../sim/scenario.js';

const SIM_NODES = ['node1', 'node2', 'node3'] as const;

/** Where the packet dies: a role's node, or the traced direction's own sender or receiver. */
type At = Role | 'source' | 'destination';

interface Named {
  readonly at: At;
  /** the hop (Hop.step) where trace must break */
  readonly step: RegExp;
}

const route: Named = { at: 'node', step: /^route lookup$/ };
const netfilter: Named = { at: 'node', step: /^netfilter$/ };
const health: Named = { at: 'node', step: /^(source|destination) node health$/ };

/** For every fault that breaks pod traffic: the node and hop where trace must say the packet dies. */
const HOP: Readonly<Record<string, Named>> = {
  'route-deleted': route,
  'directrouting-route-missing': route,
  'ipv6-route-deleted': route,
  'hostgw-route-deleted': route,
  'k3s-peer-route-deleted': route,
  'hostgw-ipv6-route-deleted': route,
  'ipip-route-deleted': route,
  // the decided-elsewhere faults (issue 9): a rule, another table, the local table, a prohibit route
  'policy-rule-other-table': route,
  'hostgw-policy-rule-other-table': route,
  'blackhole-in-local-table': route,
  'prohibit-for-forwarded-pods': route,
  'fdb-deleted': { at: 'node', step: /^fdb$/ },
  'ipv6only-fdb-deleted': { at: 'node', step: /^fdb$/ },
  'canal-fdb-deleted': { at: 'node', step: /^fdb$/ },
  // the neighbour names a MAC no fdb entry knows
  'neigh-wrong-mac': { at: 'node', step: /^fdb$/ },
  'vtep-mac-rewritten': { at: 'node', step: /^decapsulate$/ },
  // flannel.1 recreated with another port: its routes went with the old device; peers' packets reach a closed port
  'vxlan-port-differs': { at: 'node', step: /^(route lookup|decapsulate)$/ },
  // every node published and pointed its fdb at 10.0.2.15, an address no node holds: each sender's outer packet dies
  'vagrant-shared-nat-ip': { at: 'source', step: /^underlay$/ },
  'ip-forward-off': health,
  'forward-reject-first': health,
  'forward-policy-drop-no-flannel-fwd': health,
  // INPUT drops what arrives over the overlay; the node's own sends leave
  'vxlan-port-blocked': { at: 'node', step: /^destination node health$/ },
  'wireguard-input-policy-drop': { at: 'node', step: /^destination node health$/ },
  'raw-drop-peer-podcidr': netfilter,
  'hostgw-mangle-drop-peer-podcidr': netfilter,
  'nft-table-drops-pods': netfilter,
  'dnat-pod-traffic': netfilter,
  // a FLANNEL_MTU packet is routed into cni0 (mtu 1400) on node2 and does not fit
  'cni0-mtu-below-flannel-mtu': { at: 'node', step: /^route lookup$/ },
  // cni0 follows its narrowest port (the pod's veth, 1400) down: the route out of cni0 is the first that is too small
  // toward the pod, the route's device (its veth) is too small; from it, the veth drops the pod's packet on the way in
  'pod-veth-mtu-low': { at: 'node', step: /^(route lookup|pod -> cni0)$/ },
  'pod-veth-mtu-low-host-gw': { at: 'node', step: /^(route lookup|pod -> cni0)$/ },
  'pod-eth0-mtu-low': { at: 'node', step: /^cni0 -> pod$/ },
  // the 1500-byte VXLAN packet toward node2 does not fit its eth0 (mtu 1400); node2's own leaves in fragments
  'mtu-underlay': { at: 'node', step: /^uplink$/ },
  'cni0-port-disabled': { at: 'node', step: /^cni0 -> pod$/ },
  'cni0-wrong-address': { at: 'node', step: /^pod -> cni0$/ },
  // flannel0 down took its routes with it; what flanneld brings in has no device to enter
  'udp-device-down': { at: 'node', step: /^(route lookup|destination node health)$/ },
  'wireguard-peer-missing': { at: 'node', step: /^wireguard peer$/ },
  // no out policy: nothing selects the packet for ESP and flannel installs no route for ipsec
  'ipsec-policy-deleted': route,
  // both ends lack the SAs: each sender has none to encrypt with
  'ipsec-sa-absent': { at: 'source', step: /^xfrm state$/ },
  // the node encrypts with a key the peer does not hold: the peer's ICV check drops it
  'ipsec-sa-key-mismatch': { at: 'peer', step: /^xfrm state \(receive\)$/ },
  // lost between the nodes, in no table: the snapshot's packet evidence (doctor --probe's probes, a bundle's
  // samples) is where trace reads it, on the sender
  'underlay-drops-vxlan': { at: 'node', step: /^underlay$/ },
  'underlay-drops-vxlan-samples': { at: 'node', step: /^underlay$/ },
  // trace cannot replay a node it has no state for: it stops there and says so (an incomplete trace is not clean)
  'node-unreachable': { at: 'node', step: /^(source|receive)$/ },
};

/**
 * Faults that break pod traffic but declare no `breaks`: the simulator cannot carry the traffic (no ipip, WireGuard
 * or ESP in this kernel; the simulated udp backend has no flanneld) or cannot ping it. The pairs are what the fault
 * breaks by construction.
 */
const WITHOUT_PINGS: Readonly<Record<string, { readonly reason: string; readonly pairs: readonly string[] }>> = {
  'ipip-route-deleted': { reason: 'no ipip in this kernel', pairs: ['node2 <-> node3'] },
  'udp-device-down': {
    reason: 'the simulated udp backend has no flanneld',
    pairs: ['node1 <-> node2', 'node2 <-> node3'],
  },
  'wireguard-input-policy-drop': {
    reason: 'no WireGuard in this kernel',
    pairs: ['node1 <-> node3', 'node2 <-> node3'],
  },
  'wireguard-peer-missing': { reason: 'no WireGuard in this kernel', pairs: ['node1 <-> node3'] },
  'ipsec-policy-deleted': { reason: 'no ESP in this kernel', pairs: ['node1 <-> node2'] },
  'ipsec-sa-absent': { reason: 'no ESP in this kernel', pairs: ['node1 <-> node3'] },
  'ipsec-sa-key-mismatch': { reason: 'no ESP in this kernel', pairs: ['node2 <-> node3'] },
  'cni0-wrong-address': {
    reason:
      "a ping right after the fault still passes on the pod's cached neighbour entry for its gateway 10.244.2.1; it fails once that entry is probed, as no address answers",
    pairs: ['node1 <-> node2', 'node2 <-> node3'],
  },
  'underlay-drops-vxlan': {
    reason:
      "the loss is the lab's: its probe counts are added to the snapshot while the simulator's underlay still carries the packets",
    pairs: ['node2 <-> node3'],
  },
  'underlay-drops-vxlan-samples': {
    reason:
      "sim-live pings only faults without bundle samples; the nft drop on the simulator's switch stops node2's VXLAN to node3",
    pairs: ['node2 <-> node3'],
  },
  'node-unreachable': {
    reason: "node3's namespace is gone: its pod cannot be pinged, and none of its state was collected",
    pairs: ['node1 <-> node3', 'node2 <-> node3'],
  },
};

/** Faults that break what leaves the cluster network from one node's pods: the hop where trace must say so. */
const EGRESS: Readonly<Record<string, Named>> = {
  'masquerade-flushed': { at: 'node', step: /^masquerade$/ },
  'nft-postrtg-flushed': { at: 'node', step: /^masquerade$/ },
  // what stops the node's pods sending at all stops their egress too
  'ip-forward-off': { at: 'node', step: /^source node health$/ },
  'forward-reject-first': { at: 'node', step: /^source node health$/ },
  'forward-policy-drop-no-flannel-fwd': { at: 'node', step: /^source node health$/ },
  'cni0-wrong-address': { at: 'node', step: /^pod -> cni0$/ },
  'node-unreachable': { at: 'node', step: /^source$/ },
  // a FLANNEL_MTU packet with DF from node2's pods does not fit its eth0 (mtu 1400) on the way out
  'mtu-underlay': { at: 'node', step: /^route lookup$/ },
  // the pod's own FLANNEL_MTU packet does not fit its host veth (mtu 1400) on the way in
  'pod-veth-mtu-low': { at: 'node', step: /^pod -> cni0$/ },
  'pod-veth-mtu-low-host-gw': { at: 'node', step: /^pod -> cni0$/ },
};

/**
 * Faults that stop host packets between nodes (a node's own packet to another node's address, as large as its
 * uplink's MTU): the directions they break (sender, receiver) and where. flannel-mtu-differs (host-gw, node3's
 * subnet.env says FLANNEL_MTU=1400) is in no table: every device still has MTU 1500, so no packet of any pair dies
 * (mtu and mtu-mixed name the inconsistency), and trace must say every pair reaches.
 */
const HOST: Readonly<Record<string, { readonly dirs: readonly (readonly [Role, Role])[]; readonly named: Named }>> = {
  // node3's eth0 was raised to 9000: its 9000-byte host packets die on arrival at the others' 1500-byte eth0
  'uplink-mtu-differs': {
    dirs: [
      ['node', 'peer'],
      ['node', 'third'],
    ],
    named: { at: 'destination', step: /^uplink$/ },
  },
  // node2's eth0 was lowered to 1400: the others' 1500-byte host packets die on arrival there
  'mtu-underlay': {
    dirs: [
      ['peer', 'node'],
      ['third', 'node'],
    ],
    named: { at: 'node', step: /^uplink$/ },
  },
  'node-unreachable': {
    dirs: [
      ['node', 'peer'],
      ['node', 'third'],
      ['peer', 'node'],
      ['third', 'node'],
    ],
    named: { at: 'node', step: /^(source|receive)$/ },
  },
};

/**
 * Faults where the lease itself is wrong (the node's pods do not live in the podCIDR its Node names): trace resolves
 * addresses by the leases, so the node's pod address is no node's, or another's. Pairs with that node are not
 * compared; the others must reach.
 */
const PREMISE: Readonly<Record<string, string>> = {
  'podcidr-outside-network':
    "node3's podCIDR 10.224.3.0/24 is outside the Network; its pods still live in 10.244.3.0/24",
  'podcidr-unset': 'node2 has no podCIDR: its pod address belongs to no node',
  'podcidr-overlap': "two nodes' podCIDRs overlap: the lease names addresses another node's pods use",
};

type Family = 4 | 6;
const familiesOf = (b: SimBackend): readonly Family[] =>
  b === 'vxlan-ipv6' ? [6] : b === 'vxlan-dualstack' || b === 'host-gw-dualstack' ? [4, 6] : [4];
const podOf = (node: string, f: Family) => (f === 4 ? `10.244.${node.slice(4)}.2` : `fd00:10:244:${node.slice(4)}::2`);
const pairKey = (f: Family, a: string, b: string) => `${f === 6 ? 'IPv6 ' : ''}${[a, b].sort().join(' <-> ')}`;
// on the underlay subnet but no node's address: leaves via eth0
const OUTSIDE = '192.168.56.200';

function show(t: TraceResult): string {
  if (t.brokenAt === null) return `reaches${t.via.length ? `, via ${t.via.join(', ')}` : ''}`;
  const h = t.hops[t.brokenAt]!;
  return `breaks on ${h.node ?? '(no node)'} at "${h.step}": ${h.note} | ${h.entry ?? ''}`;
}

function nodeAt(at: At, roles: Record<Role, string>, from: string, to: string): string {
  return at === 'source' ? from : at === 'destination' ? to : roles[at];
}

/** The unordered pod pairs (per family) the fault breaks with a packet of at most FLANNEL_MTU bytes. */
function brokenPairs(fault: (typeof FAULTS)[number]): Set<string> {
  const byConstruction = WITHOUT_PINGS[fault.id]?.pairs;
  if (byConstruction) return new Set(byConstruction);
  return new Set(
    (fault.breaks ?? [])
      // trace follows the test pods (.2); a break toward another address of a podCIDR is the path walk's
      .filter((b) => b.toHost === undefined)
      .map((b) => pairKey(b.ipv6 || fault.backend === 'vxlan-ipv6' ? 6 : 4, b.from, b.to)),
  );
}

for (const fault of FAULTS) {
  test(`trace coverage: ${fault.backend} ${fault.id}: trace names where each broken pair dies, and only those`, async () => {
    const snap = await readSnapshot(fixturePath(fault.backend, fault));
    const roles = rolesOf(SIM_NODES, fault.sim.on);
    const broken = brokenPairs(fault);
    const named = HOP[fault.id];
    if (broken.size > 0) assert.ok(named, `${fault.id} breaks ${[...broken].join(', ')}: HOP must name its hop`);
    else assert.equal(named, undefined, `${fault.id} breaks no pod pair: its HOP entry is stale`);
    const premise = PREMISE[fault.id] ? roles.node : null;
    const seen = new Set<string>();
    for (const fam of familiesOf(fault.backend))
      for (const a of SIM_NODES)
        for (const b of SIM_NODES) {
          if (a === b || a === premise || b === premise) continue;
          const t = trace(snap, podOf(a, fam), podOf(b, fam));
          const key = pairKey(fam, a, b);
          const what = `${fault.id}: ${podOf(a, fam)} (${a}) -> ${podOf(b, fam)} (${b})`;
          if (!broken.has(key)) {
            assert.equal(t.brokenAt, null, `${what}: the fault does not break ${key}, but trace ${show(t)}`);
            continue;
          }
          if (t.brokenAt === null) continue;
          const hop = t.hops[t.brokenAt]!;
          const want = nodeAt(named!.at, roles, a, b);
          assert.equal(hop.node, want, `${what}: the packet dies on ${want}, but trace ${show(t)}`);
          assert.match(hop.step, named!.step, `${what}: trace ${show(t)}`);
          seen.add(key);
        }
    for (const key of broken)
      assert.ok(seen.has(key), `${fault.id} breaks ${key}, but trace says both directions reach`);
  });

  if (familiesOf(fault.backend).includes(4) && !PREMISE[fault.id])
    test(`trace coverage: ${fault.backend} ${fault.id}: pods leave the cluster network unless the fault stops them`, async () => {
      const snap = await readSnapshot(fixturePath(fault.backend, fault));
      const roles = rolesOf(SIM_NODES, fault.sim.on);
      const named = EGRESS[fault.id];
      for (const n of SIM_NODES) {
        const t = trace(snap, podOf(n, 4), OUTSIDE);
        const what = `${fault.id}: ${podOf(n, 4)} (${n}) -> ${OUTSIDE}`;
        if (named && nodeAt(named.at, roles, n, n) === n) {
          assert.notEqual(t.brokenAt, null, `${what}: the fault stops it, but trace ${show(t)}`);
          assert.equal(t.hops[t.brokenAt!]!.node, n, `${what}: trace ${show(t)}`);
          assert.match(t.hops[t.brokenAt!]!.step, named.step, `${what}: trace ${show(t)}`);
          continue;
        }
        assert.equal(t.brokenAt, null, `${what}: ${show(t)}`);
        assert.equal(t.egress?.dev, 'eth0', `${what}: ${JSON.stringify(t.egress)}`);
        assert.match(t.egress?.masquerade ?? '', /masq/i, `${what}: not masqueraded`);
      }
    });
}

const nodeIP = (n: string) => `192.168.56.1${n.slice(4)}`;

for (const fault of FAULTS.filter((f) => familiesOf(f.backend).includes(4)))
  test(`trace coverage: ${fault.backend} ${fault.id}: host packets between nodes arrive unless the fault stops them`, async () => {
    const snap = await readSnapshot(fixturePath(fault.backend, fault));
    const roles = rolesOf(SIM_NODES, fault.sim.on);
    const host = HOST[fault.id];
    const stopped = new Set((host?.dirs ?? []).map(([a, b]) => `${roles[a]} -> ${roles[b]}`));
    for (const a of SIM_NODES)
      for (const b of SIM_NODES) {
        if (a === b) continue;
        const t = trace(snap, nodeIP(a), nodeIP(b));
        const what = `${fault.id}: ${nodeIP(a)} (${a}) -> ${nodeIP(b)} (${b}), ${t.size ?? '?'} bytes`;
        if (!stopped.has(`${a} -> ${b}`)) {
          assert.equal(t.brokenAt, null, `${what}: the fault does not stop it, but trace ${show(t)}`);
          continue;
        }
        assert.notEqual(t.brokenAt, null, `${what}: the fault stops it, but trace ${show(t)}`);
        const hop = t.hops[t.brokenAt!]!;
        assert.equal(hop.node, nodeAt(host!.named.at, roles, a, b), `${what}: trace ${show(t)}`);
        assert.match(hop.step, host!.named.step, `${what}: trace ${show(t)}`);
      }
  });

test('trace coverage: every listed fault is a simulator fault of the catalog', () => {
  const ids = new Set(FAULTS.map((f) => f.id));
  for (const id of [HOP, WITHOUT_PINGS, EGRESS, HOST, PREMISE].flatMap((t) => Object.keys(t)))
    assert.ok(ids.has(id), `${id} is not a simulator fault of the catalog`);
});

/** Faults that break traffic (pod pairs, what leaves the cluster, host packets): trace names each, or a test fails. */
const breaking = () => FAULTS.filter((f) => brokenPairs(f).size > 0 || EGRESS[f.id] || HOST[f.id]).length;

test("trace coverage: the README's figure is the test's", () => {
  const readme = readFileSync('README.md', 'utf8').replace(/\s+/g, ' ');
  const m =
    /trace names where the packet dies for (all|\d+) (?:of the )?(\d+) simulator faults that break traffic/.exec(
      readme,
    );
  assert.ok(m, 'README states trace coverage as "trace names where the packet dies for all N simulator faults…"');
  assert.equal(m[1], 'all', 'every breaking fault is named (a fault trace misses fails its own test)');
  assert.equal(Number(m[2]), breaking());
});
