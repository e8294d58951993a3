import { parsePrefix } from '../../net/cidr.js';
import type { Route } from '../../snapshot/types.js';
import { defineCheck, PODCIDR_WRONG } from '../check.js';
import { formatRoute, formatRouteSpec } from '../format.js';

export default defineCheck({
  id: 'own-podcidr-route',
  severity: 'error',
  title: "A node's own podCIDR is routed to cni0, not into the overlay",
  failureModes: [25],
  docs: {
    meaning:
      "A route sends the node's own podCIDR somewhere other than the local bridge cni0 (via flannel.1, a gateway or eth0). It is left from a time when another node owned this range, or from a backend switch.",
    impact:
      'Traffic to local pods, and replies to remote pods, leave the node instead of reaching the bridge: local pods are unreachable from other nodes.',
    fix: "On <node>: ip route del <route>. The bridge plugin's `<podCIDR> dev cni0 proto kernel scope link` route is the only one that should remain.",
  },
  scope: 'node',
  runNode({ node: n, tables, cluster }, report) {
    const routes = tables?.mainRoutes();
    if (!routes) return;
    const cidrs = [n.podCIDR, n.podCIDRv6];
    const podCIDRs = cluster.podCIDRTexts;
    // One pass over the routes for both families (parsePrefix once per route), each family's in table order.
    const hits: Route[][] = [[], []];
    if (cidrs[0] || cidrs[1])
      for (const r of routes) {
        const mine = r.dst === cidrs[0]?.text || r.dst === cidrs[1]?.text;
        // Another node's podCIDR written canonically (flanneld's route to a peer) is not this node's: no parse.
        if (!mine && podCIDRs.has(r.dst)) continue;
        const text = mine ? r.dst : parsePrefix(r.dst)?.text;
        if (text === undefined) continue;
        if (text === cidrs[0]?.text) hits[0]!.push(r);
        else if (text === cidrs[1]?.text) hits[1]!.push(r);
      }
    for (let f = 0; f < 2; f++) {
      const cidr = cidrs[f];
      if (!cidr) continue;
      for (const r of hits[f]!) {
        if (r.dev === 'cni0' && r.gateway === null) continue;
        report({
          node: n.name,
          message: `own podCIDR ${cidr.text} is routed ${r.gateway ? `via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''} instead of to cni0`,
          evidence: [formatRoute(r)],
          fix: `On ${n.name}: ip route del ${formatRouteSpec(r)}`,
          unless: PODCIDR_WRONG,
        });
      }
    }
  },
});
