// Issue 9's "Done when": every catalog fault that breaks traffic is also found by the pair-wide path walk.
// For each simulator fault, the pod-path check runs alone on the fault's fixture (so no other check's finding
// marks a cause explained) and the pod pairs it reports broken must be exactly the pairs the catalog's `breaks`
// says the fault breaks (sim-live proves those with real pings). A ping needs the request and the reply, so a pair
// counts as broken in both directions when either one-way packet stops: the comparison is over unordered pairs.
// Every size counts: the walk follows the largest pod packet (FLANNEL_MTU, DF) as well as a small one. Faults the
// walk cannot see by their nature are listed below with the reason; the test fails if the walk starts seeing one
// (the exception would then be stale) or if a listed fault is not in the catalog.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import { pairsOf, unordered } from '../catalog/walk-pairs.js';
import { FAULTS } from '../sim/faults.js';
import { fixturePath } from '../sim/scenario.js';

/** Why the walk does not report a fault that breaks (or may break) pod traffic. */
const NOT_A_PATH: Readonly<Record<string, string>> = {
  // what no node's collected state holds
  // no `breaks`: deleting the namespace's name leaves it alive while anything still holds it, so pings may pass
  'node-unreachable':
    "node3's state was not collected (its namespace vanished): its half of every path cannot be walked; collection-incomplete names it",
};

/**
 * Faults where the lease itself is wrong (the node's pods do not live in the podCIDR its Node names): the walk
 * follows the lease's addresses, where no pod lives, so its pairs say nothing about the pods' pings. pod-path
 * leaves such a node to the check that names the premise (PREMISE_CHECKS in pod-path.ts); the pairs are not compared.
 */
const PREMISE: Readonly<Record<string, string>> = {
  'podcidr-outside-network':
    "node3's podCIDR 10.224.3.0/24 is outside the Network; its pods still live in 10.244.3.0/24",
  'podcidr-overlap': "two nodes' podCIDRs overlap: the lease names addresses another node's pods use",
};

/**
 * Faults whose break no simulator ping can prove: the simulated udp backend has no flanneld to carry packets
 * through flannel0, so its pods never reach each other, healthy or not. The pairs are what the fault breaks by
 * construction; the lab's udp backend runs real flanneld and proves udp's lab faults.
 */
const WITHOUT_PINGS: Readonly<Record<string, { readonly reason: string; readonly pairs: readonly string[] }>> = {
  'udp-device-down': {
    reason: "flannel0 down on node2: nothing enters or leaves node2's overlay",
    pairs: ['node1 <-> node2', 'node2 <-> node3'],
  },
  // ipip, WireGuard and ESP are not in this kernel: the simulator stands in for them (test/sim/cluster.ts), so
  // no ping crosses these backends' overlay, healthy or not
  'ipip-route-deleted': {
    reason: "node2 lost its route to node3's podCIDR: node2's packets to node3's pods find no route",
    pairs: ['node2 <-> node3'],
  },
  'wireguard-input-policy-drop': {
    reason: "node3's INPUT drops UDP 51820: no peer's WireGuard packet reaches node3's device",
    pairs: ['node1 <-> node3', 'node2 <-> node3'],
  },
  'wireguard-peer-missing': {
    reason: "node1 has no peer for node3: no allowed-ips take node3's pods, and node3's handshake names an unknown key",
    pairs: ['node1 <-> node3'],
  },
  'ipsec-policy-deleted': {
    reason:
      "node2's out policy toward node1 is gone: node2's pod packets to node1 are not encrypted, node1 admits only ESP",
    pairs: ['node1 <-> node2'],
  },
  'ipsec-sa-absent': {
    reason: 'no SAs between node1 and node3: the policies select the packets and nothing encrypts or decrypts them',
    pairs: ['node1 <-> node3'],
  },
  // lost between the nodes, in no table of either: the walk's underlay hop takes its verdict from the snapshot's
  // packets (doctor --probe's counts, a bundle's samples)
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
  'ipsec-sa-key-mismatch': {
    reason: "node2 encrypts toward node3 with a key node3's SA of that SPI does not hold: node3 drops every packet",
    pairs: ['node2 <-> node3'],
  },
};

for (const fault of FAULTS) {
  test(`path coverage: ${fault.backend} ${fault.id}: the walk's broken pairs are the fault's`, async () => {
    const snapshot = await readSnapshot(fixturePath(fault.backend, fault));
    const nodes = (snapshot.cluster.nodes.status === 'ok' ? snapshot.cluster.nodes.data : []).map((n) => n.name);
    const { findings } = analyze(snapshot, { only: ['pod-path'] });
    const walked = unordered(findings.flatMap((f) => pairsOf(f, nodes)));
    // every size: the walk follows the largest pod packet (FLANNEL_MTU, DF) as well as a small one
    const breaks = WITHOUT_PINGS[fault.id]?.pairs ?? unordered(fault.breaks ?? []);
    if (PREMISE[fault.id]) return;
    const reason = NOT_A_PATH[fault.id];
    if (reason) {
      assert.deepEqual(walked, [], `${fault.id} is listed as not a path (${reason}), but the walk reports it`);
      return;
    }
    assert.deepEqual(walked, breaks, `${fault.id}: pairs the walk reports broken vs the pairs the fault breaks`);
  });
}

/**
 * The faults the walk finds by the largest packet and by the snapshot's packets: doctor's normal output names each
 * once, by the check that already explains it on the same node, and pod-path stays silent there (Report.unless).
 */
const EXPLAINED: Readonly<Record<string, { readonly check: string; readonly node: string }>> = {
  'cni0-mtu-below-flannel-mtu': { check: 'mtu', node: 'node2' },
  'mtu-underlay': { check: 'mtu', node: 'node2' },
  'underlay-drops-vxlan': { check: 'underlay-probe', node: 'node2' },
  'underlay-drops-vxlan-samples': { check: 'underlay-samples', node: 'node2' },
};

for (const [id, by] of Object.entries(EXPLAINED))
  test(`path coverage: ${id}: the walk's break is reported once, by ${by.check} on ${by.node}`, async () => {
    const fault = FAULTS.find((f) => f.id === id);
    assert.ok(fault, `${id} is not a simulator fault`);
    const snapshot = await readSnapshot(fixturePath(fault.backend, fault));
    const alone = analyze(snapshot, { only: ['pod-path'] }).findings;
    assert.ok(
      alone.some((f) => f.node === by.node),
      `pod-path alone reports ${id} on ${by.node}: ${alone.map((f) => f.message).join('; ')}`,
    );
    const { findings } = analyze(snapshot);
    assert.ok(
      findings.some((f) => f.check === by.check && f.node === by.node),
      `${by.check} names ${id} on ${by.node}`,
    );
    assert.deepEqual(
      findings.filter((f) => f.check === 'pod-path').map((f) => `${f.node}: ${f.message}`),
      [],
      `${id}: doctor reports the break twice`,
    );
  });

test('path coverage: every listed exception is a catalog fault', () => {
  const ids = new Set(FAULTS.map((f) => f.id));
  for (const id of [...Object.keys(NOT_A_PATH), ...Object.keys(WITHOUT_PINGS)])
    assert.ok(ids.has(id), `${id} is not a simulator fault of the catalog`);
});
