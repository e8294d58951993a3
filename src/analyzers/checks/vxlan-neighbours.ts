import { normalizeIP } from '../../net/cidr.js';
import { defineCheck, PEER_PODCIDR_WRONG } from '../check.js';
import { FLANNEL_DEVICE_PATTERN } from '../expected/index.js';
import { formatNeighbour } from '../format.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'vxlan-neighbours',
  severity: 'error',
  title: "Each VXLAN peer's subnet address resolves to its VtepMAC",
  failureModes: [23],
  docs: {
    meaning:
      "flanneld adds one PERMANENT neighbour per peer on flannel.<VNI>: the peer subnet's network address (10.244.2.0) -> the peer's VtepMAC. It is the next hop of the onlink route, so the kernel needs it to build the inner Ethernet header. Entries for addresses no node owns are left from departed nodes.",
    impact:
      "Missing or wrong: packets to that peer's pods are dropped (no ARP on a nolearning VXLAN device) or sent to a MAC the peer no longer has.",
    fix: 'Restart the flannel pod on <node> (vxlan has no periodic reconcile), or by hand: ip neigh replace <peer subnet address> lladdr <VtepMAC> dev flannel.<VNI> nud permanent.',
  },
  scope: 'node',
  runNode(ctx, report) {
    const { model, node: n } = ctx;
    if (model.backend?.type !== 'vxlan') return;
    const neigh = ok(n.host?.neighbours);
    if (!neigh) return;
    const owned = ctx.cluster.podCIDRNetworks;
    const expected = ctx.expected.neighbours;
    for (const want of expected) {
      const found = ctx.tables!.neighboursOf(want.dev, want.dst);
      if (found.some((x) => x.lladdr?.toLowerCase() === want.lladdr)) continue;
      const line = `ip neigh replace ${want.dst} lladdr ${want.lladdr} dev ${want.dev} nud permanent`;
      report({
        node: n.name,
        peer: want.peer,
        message: found.length
          ? `neighbour ${want.dst} on ${want.dev} points at ${found[0]!.lladdr ?? '(no lladdr)'} but ${want.peer}'s VtepMAC is ${want.lladdr}`
          : `no neighbour entry for ${want.peer}'s subnet address ${want.dst} on ${want.dev}`,
        evidence: [
          `expected: ${want.dst} dev ${want.dev} lladdr ${want.lladdr} PERMANENT`,
          ...(found.length
            ? found.map((x) => `actual: ${formatNeighbour(x)}`)
            : [`ip neigh show ${want.dst} dev ${want.dev}: (nothing)`]),
        ],
        fix: `Restart the flannel pod on ${n.name}, or by hand: ${line}`,
        ...PEER_PODCIDR_WRONG,
      });
    }
    // Only PERMANENT entries are flanneld's; learned ones (old flannel, many pod IPs on one MAC) are by design.
    for (const x of neigh) {
      if (!FLANNEL_DEVICE_PATTERN.test(x.dev) || !x.state.includes('PERMANENT')) continue;
      // Every expected entry is some node's subnet address, so ownership alone decides staleness.
      if (owned.has(x.dst) || owned.has(normalizeIP(x.dst) ?? x.dst)) continue;
      report({
        node: n.name,
        severity: 'warning',
        message: `neighbour ${x.dst} on ${x.dev} belongs to no current node`,
        evidence: [formatNeighbour(x)],
        fix: `On ${n.name}: ip neigh del ${x.dst} dev ${x.dev}`,
      });
    }
  },
});
