import { overlaps } from '../../net/cidr.js';
import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'podcidr-overlap',
  severity: 'error',
  title: 'No two nodes have overlapping podCIDRs',
  failureModes: [25],
  docs: {
    meaning:
      'Two Nodes hold the same or overlapping podCIDRs. flanneld uses podCIDRs as they are and never checks for overlap.',
    impact:
      'Both nodes hand out the same pod IPs and every peer gets two routes for one destination; traffic reaches only one of them.',
    fix: 'Give one of the nodes a fresh podCIDR: drain it, `kubectl delete node <node>`, re-register it so kube-controller-manager allocates a new range, then restart its flannel pod.',
  },
  scope: 'cluster',
  run({ model }, report) {
    const nodes = model.nodes;
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const a = nodes[i]!;
        const b = nodes[j]!;
        // Both families by hand: an array of pairs per node pair costs more than the comparisons (500k pairs at 1,000 nodes).
        for (let f = 0; f < 2; f++) {
          const x = f === 0 ? a.podCIDR : a.podCIDRv6;
          const y = f === 0 ? b.podCIDR : b.podCIDRv6;
          if (!x || !y || !overlaps(x, y)) continue;
          report({
            node: b.name,
            peer: a.name,
            message: `podCIDR ${y.text} overlaps ${a.name}'s ${x.text}`,
            evidence: [
              `${a.name} spec.podCIDRs: ${JSON.stringify(a.kube.podCIDRs)}`,
              `${b.name} spec.podCIDRs: ${JSON.stringify(b.kube.podCIDRs)}`,
            ],
          });
        }
      }
    }
  },
});
