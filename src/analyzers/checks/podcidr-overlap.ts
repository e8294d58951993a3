import { firstHost, overlaps, type Prefix, sameIP } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import type { ClusterScope } from '../context.js';
import type { Lease } from '../model.js';
import { reregisterFix } from '../reregister-fix.js';

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
    fix: 'Give one of the nodes a fresh podCIDR (the one whose cni0 is not in the shared range, i.e. whose pods live elsewhere): drain it, `kubectl delete node <node>`, restart its kubelet so it registers the Node again and kube-controller-manager allocates a new range, delete its cni0, then restart its flannel pod and those of every node but the one keeping the range (they dropped their route to the shared range with the deleted lease).',
  },
  scope: 'cluster',
  run(scope, report) {
    const { model } = scope;
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
          // reported on the node that must move (its range is what the fix changes), naming the one that keeps it
          const m = moving(scope, a, x, b, y);
          report({
            node: m.redo.name,
            peer: m.keep.name,
            message: `podCIDR ${m.redoRange.text} overlaps ${m.keep.name}'s ${m.range.text}`,
            evidence: [
              `${a.name} spec.podCIDRs: ${JSON.stringify(a.kube.podCIDRs)}`,
              `${b.name} spec.podCIDRs: ${JSON.stringify(b.kube.podCIDRs)}`,
            ],
            fix: m.fix,
          });
        }
      }
    }
  },
});

/**
 * Which of the two gets a fresh range: the one whose pods do not live in the range it holds (its cni0 has no
 * gateway address in it, e.g. a Node registered again with a range already handed out); with no such sign, the
 * later one. Every other node's flanneld replays the leases afterwards.
 */
function moving(scope: ClusterScope, a: Lease, x: Prefix, b: Lease, y: Prefix) {
  const cni0 = (n: Lease) => scope.summaryOf.get(n.name)?.cni0Addresses ?? [];
  const lives = (n: Lease, p: Prefix) => cni0(n).some((c) => sameIP(c.split('/')[0], firstHost(p)));
  const moveA = lives(b, y) && !lives(a, x);
  const [redo, redoRange, keep, range] = moveA ? [a, x, b, y] : [b, y, a, x];
  const others = scope.model.nodes.filter((n) => n !== redo && n !== keep).map((n) => n.name);
  const why =
    lives(keep, range) && !lives(redo, redoRange)
      ? `${keep.name} keeps ${range.text}, where its pods live; ${redo.name}'s cni0, ${cni0(redo).join(' ') || 'none'}, is not in it`
      : `${keep.name} keeps ${range.text}; ${redo.name} gets a fresh range`;
  return { redo, redoRange, keep, range, fix: reregisterFix(redo.name, others, why) };
}
