import { defineCheck } from '../check.js';
import { formatRoute } from '../format.js';

export default defineCheck({
  id: 'hostgw-not-onlink',
  severity: 'error',
  title: 'host-gw peers are on the same L2 segment (on-link)',
  failureModes: [27, 9],
  docs: {
    meaning:
      "host-gw routes each peer's podCIDR via the peer's public-ip as a gateway, which the kernel accepts only when that address is directly reachable. `ip route get <peer public-ip>` returns a route through a router here, so the peer is across an L3 boundary.",
    impact:
      "flanneld fails to add the route (`network is unreachable`), and traffic to that peer's pods follows the default route and is lost.",
    fix: 'Use a backend that tunnels across L3 (vxlan, optionally with DirectRouting: true to keep host-gw speed between on-link peers), or put all nodes on one L2 segment.',
  },
  scope: 'node',
  runNode({ model, node: n, peers }, report) {
    if (model.backend?.type !== 'host-gw') return;
    const gets = n.host?.routeGets;
    if (gets?.status !== 'ok') return;
    for (const p of peers) {
      for (const ip of [p.publicIP, model.netConf?.enableIPv6 ? p.publicIPv6 : null]) {
        const r = ip ? gets.data[ip] : undefined;
        if (!ip || r === undefined) continue;
        if (r !== null && r.gateway === null) continue;
        report({
          node: n.name,
          peer: p.name,
          message: r
            ? `peer ${p.name} (${ip}) is reached through router ${r.gateway}, not on-link`
            : `peer ${p.name} (${ip}) is unreachable from this node`,
          evidence: [`ip route get ${ip}: ${r ? formatRoute(r) : 'network is unreachable'}`],
        });
      }
    }
  },
});
