import { defineCheck, type Report_ } from '../check.js';
import type { NodeSummary } from '../context.js';
import type { Model } from '../model.js';
import { computedFlannelMTU, encapOverhead } from '../uplink.js';

export default defineCheck({
  id: 'mtu-mixed',
  severity: 'warning',
  title: 'All nodes use the same FLANNEL_MTU and uplink MTU',
  failureModes: [34, 35],
  docs: {
    meaning:
      'FLANNEL_MTU differs between nodes, because their uplinks have different MTUs or some flannel pods started before an MTU change; or the uplinks themselves differ, so a node sends packets that the network and the other nodes cannot take.',
    impact:
      "Pods on the node with the larger MTU send packets that the other node's tunnel or pods cannot take: large transfers between those nodes stall while small packets pass. A larger uplink MTU on one node drops its host packets above the others' MTU silently (no ICMP from a switch or a veth), in the direction from that node.",
    fix: 'Set one MTU for the cluster (Backend.MTU in net-conf.json for vxlan/wireguard, or equal uplink MTUs), then restart the flannel pods and re-create pods.',
  },
  scope: 'cluster',
  run({ model, summaries }, report) {
    const b = model.backend;
    const byNode = summaries.flatMap((n) =>
      n.flannelMTU !== null
        ? [
            {
              name: n.name,
              mtu: n.flannelMTU,
              computed: b && n.uplink ? computedFlannelMTU(b, n.uplink.mtu) : null,
              uplink: n.uplink,
            },
          ]
        : [],
    );
    const values = new Set(byNode.map((x) => x.mtu));
    if (values.size >= 2) {
      const counts = [...values]
        .map((v) => ({ v, c: byNode.filter((x) => x.mtu === v).length }))
        .sort((a, b) => b.c - a.c || b.v - a.v);
      const common = counts[0]!.v;
      for (const x of byNode.filter((x) => x.mtu !== common)) {
        report({
          node: x.name,
          message: `FLANNEL_MTU ${x.mtu} differs from the ${common} most nodes use`,
          evidence: byNode.map((y) => `${y.name}: FLANNEL_MTU=${y.mtu}`),
          // the node's own uplink gives the common MTU: its subnet.env is stale, and a restart rewrites it
          ...(x.computed === common && x.uplink
            ? {
                fix: `Restart the flannel pod on ${x.name} (flanneld computes FLANNEL_MTU ${common} from ${x.uplink.name} MTU ${x.uplink.mtu} and rewrites subnet.env)`,
              }
            : {}),
        });
      }
    }
    uplinksDiffer(model, summaries, report);
  },
});

/**
 * Per ordered pair: a node whose uplink MTU is above a peer's sends host packets the peer's
 * side drops, and pods whose FLANNEL_MTU exceeds the peer's uplink minus the overhead lose
 * their large packets toward it. Reported at the sending node, with the receivers.
 */
function uplinksDiffer(model: Model, summaries: readonly NodeSummary[], report: Report_): void {
  const b = model.backend;
  if (!b) return;
  const overhead = encapOverhead(b);
  const up = summaries.flatMap((n) =>
    n.uplink ? [{ name: n.name, dev: n.uplink.name, mtu: n.uplink.mtu, F: n.flannelMTU }] : [],
  );
  if (new Set(up.map((u) => u.mtu)).size < 2) return;
  for (const u of up) {
    const smaller = up.filter((v) => v.mtu < u.mtu);
    if (smaller.length === 0) continue;
    const groups = [...new Set(smaller.map((v) => v.mtu))]
      .sort((a, c) => a - c)
      .map((mtu) => ({ mtu, names: smaller.filter((v) => v.mtu === mtu).map((v) => v.name) }));
    const evidence = up.map((v) => `${v.name}: ${v.dev} mtu ${v.mtu}`);
    report({
      node: u.name,
      peer: smaller.length === 1 ? smaller[0]!.name : null,
      message: `${u.dev} MTU ${u.mtu} exceeds the ${groups.map((g) => `${g.mtu} of ${g.names.join(', ')}`).join('; ')}: ${groups.map((g) => `host packets of ${g.mtu + 1}-${u.mtu} bytes from ${u.name} to ${g.names.join(', ')} are dropped`).join('; ')}`,
      evidence,
      // lowering the sender below its own FLANNEL_MTU plus the overhead would cut its pods' large packets to every
      // node: then the smaller uplinks are the ones to raise (the mtu finding on those nodes says so)
      fix:
        u.F !== null && u.F > groups[0]!.mtu - overhead
          ? `Leave ${u.dev} on ${u.name} at ${u.mtu}: at ${groups[0]!.mtu} it would carry less than FLANNEL_MTU ${u.F} plus the ${overhead}-byte overhead; raise the uplink of ${groups[0]!.names.join(', ')} to ${u.mtu} instead (or set Backend.MTU ${groups[0]!.mtu - overhead} for every node and restart the flannel pods)`
          : `On ${u.name}: ip link set ${u.dev} mtu ${groups[0]!.mtu} (and in its network configuration, so every node's uplink has the same MTU; or raise the others and the network to ${u.mtu})`,
    });
    const podLimit = (v: { mtu: number }) => v.mtu - overhead;
    // A receiver whose own FLANNEL_MTU exceeds its uplink is mtu's finding there; only a consistent receiver is a victim of this sender.
    const podVictims =
      u.F === null ? [] : smaller.filter((v) => u.F! > podLimit(v) && v.F !== null && v.F <= podLimit(v));
    if (podVictims.length > 0)
      report({
        node: u.name,
        severity: 'error',
        message: `pods on ${u.name} send up to FLANNEL_MTU ${u.F} bytes, more than ${podVictims.map((v) => `${v.name}'s uplink carries (${podLimit(v)} after the ${b.type} overhead ${overhead})`).join(', ')}: pod packets above that from ${u.name} die`,
        evidence,
        fix: `Set FLANNEL_MTU on ${u.name} to ${Math.min(...podVictims.map(podLimit))} (Backend.MTU in net-conf.json, or equal uplink MTUs) and restart its flannel pod.`,
      });
  }
}
