import { defineCheck, PEER_PODCIDR_WRONG } from '../check.js';
import { formatExpectedRoute, formatRoute } from '../format.js';
import { satisfies } from '../routes.js';

export default defineCheck({
  id: 'peer-routes',
  severity: 'error',
  title: 'Every node has the route flanneld installs toward each peer',
  failureModes: [23, 27, 28, 44],
  docs: {
    meaning:
      "For each peer lease flanneld installs one route to the peer's podCIDR: vxlan `via <peer subnet address> dev flannel.<VNI> onlink` (or `via <peer public-ip>` with DirectRouting on-link), host-gw `via <peer public-ip> dev <uplink>`, ipip `via <peer public-ip> dev flannel.ipip onlink`; wireguard and udp one route for the whole Network.",
    impact:
      'Pods on this node cannot reach pods on that peer (and replies from it are lost): the packet follows the default route instead of the overlay.',
    fix: 'Restart the flannel pod on <node> (kubectl -n kube-flannel delete pod <pod>): vxlan never re-adds deleted routes by itself. To repair by hand, add the expected route, e.g. ip route replace <expected>.',
  },
  scope: 'node',
  runNode({ node: n, expected, tables }, report) {
    if (!tables?.mainRoutes()) return;
    for (const want of expected.routes) {
      const sameDst = tables.routesTo(want.dst);
      if (sameDst.some((r) => satisfies(r, want))) continue;
      const expected = [want, ...want.alternatives].map(formatExpectedRoute).join(' or ');
      report({
        node: n.name,
        peer: want.peer,
        message: sameDst.length
          ? `route to ${want.peer ?? 'the Network'} ${want.dst} is wrong: ${formatRoute(sameDst[0]!)} instead of ${expected}`
          : `route to ${want.peer ?? 'the Network'} ${want.dst} is missing`,
        evidence: [
          `expected: ${expected}`,
          ...(sameDst.length
            ? sameDst.map((r) => `actual: ${formatRoute(r)}`)
            : [`ip route show ${want.dst}: (nothing)`]),
        ],
        fix: `Restart the flannel pod on ${n.name}, or by hand: ip route replace ${formatExpectedRoute(want)}`,
        ...PEER_PODCIDR_WRONG,
      });
    }
  },
});
