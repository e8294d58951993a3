import { defineCheck } from '../check.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'mtu-mixed',
  severity: 'warning',
  title: 'All nodes use the same FLANNEL_MTU',
  failureModes: [34, 35],
  docs: {
    meaning:
      'FLANNEL_MTU differs between nodes, because their uplinks have different MTUs or some flannel pods started before an MTU change.',
    impact:
      "Pods on the node with the larger MTU send packets that the other node's tunnel or pods cannot take: large transfers between those nodes stall while small packets pass.",
    fix: 'Set one MTU for the cluster (Backend.MTU in net-conf.json for vxlan/wireguard, or equal uplink MTUs), then restart the flannel pods and re-create pods.',
  },
  scope: 'cluster',
  run({ model }, report) {
    const byNode = model.nodes.flatMap((n) => {
      const mtu = ok(n.host?.subnetEnv)?.mtu;
      return typeof mtu === 'number' ? [{ name: n.name, mtu }] : [];
    });
    const values = new Set(byNode.map((x) => x.mtu));
    if (values.size < 2) return;
    const counts = [...values]
      .map((v) => ({ v, c: byNode.filter((x) => x.mtu === v).length }))
      .sort((a, b) => b.c - a.c || b.v - a.v);
    const common = counts[0]!.v;
    for (const x of byNode.filter((x) => x.mtu !== common)) {
      report({
        node: x.name,
        message: `FLANNEL_MTU ${x.mtu} differs from the ${common} most nodes use`,
        evidence: byNode.map((y) => `${y.name}: FLANNEL_MTU=${y.mtu}`),
      });
    }
  },
});
