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
        for (const [x, y] of [
          [a.podCIDR, b.podCIDR],
          [a.podCIDRv6, b.podCIDRv6],
        ] as const) {
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
