import { covers, parsePrefix, samePrefix } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { formatRoute } from '../format.js';

export default defineCheck({
  id: 'stale-routes',
  severity: 'warning',
  title: 'No routes toward pod subnets that no node owns, and no duplicates',
  failureModes: [25],
  docs: {
    meaning:
      'A route inside the flannel Network leads to a subnet that no current Node holds as its podCIDR (the node was deleted while flanneld was down, so flanneld never saw the removal), or one destination has several routes.',
    impact:
      'Traffic to addresses in that subnet is sent into a tunnel or gateway that no longer belongs to the cluster; when the range is reused, pods on the new node are unreachable from this one.',
    fix: 'On <node>: ip route del <route> (and the matching neighbour and fdb entries); restarting flanneld does not remove stale routes.',
  },
  scope: 'node',
  runNode({ model, node: n, cluster, tables }, report) {
    const nets = [model.network, model.network6].filter((p) => p !== null);
    if (nets.length === 0) return;
    const owned = cluster.podCIDRs;
    const ownedText = cluster.podCIDRTexts;
    const routes = tables?.mainRoutes();
    if (!routes) return;
    const seen = new Map<string, number>();
    for (const r of routes) {
      // Connected routes come from an address on a link, not from a lease; network-overlap covers them.
      if (r.protocol === 'kernel') continue;
      // A route to a podCIDR as written canonically (flanneld's, one per peer): owned, so only counted.
      if (ownedText.has(r.dst)) {
        seen.set(r.dst, (seen.get(r.dst) ?? 0) + 1);
        continue;
      }
      const dst = parsePrefix(r.dst);
      if (!dst) continue;
      seen.set(dst.text, (seen.get(dst.text) ?? 0) + 1);
      const net = nets.find((x) => covers(x, dst));
      // The whole-Network route is wireguard's and udp's; routes outside Network are not flannel's business.
      if (!net || net.text === dst.text) continue;
      if (ownedText.has(dst.text)) continue;
      // A host route to a pod (e.g. by another CNI) inside an owned subnet is not a stale lease route.
      if (owned.some((o) => covers(o, dst))) continue;
      // a gateway that is a current node's address still carries traffic to the pods that node keeps in the
      // subnet (its Node lost or changed its podCIDR): deleting the route would cut them, so the fix is that Node's
      const gw = r.gateway;
      const to = gw ? model.nodes.find((l) => l.publicIP === gw || l.kube.internalIPs.includes(gw)) : undefined;
      report({
        node: n.name,
        message: `route to ${dst.text} leads to a subnet no node owns`,
        evidence: [formatRoute(r), `podCIDRs in the cluster: ${owned.map((o) => o.text).join(', ')}`],
        fix: to
          ? `Keep this route while ${to.name} keeps pods in ${dst.text}: it leads to ${to.name} (${gw}), a current node whose Node does not name this subnet; fix ${to.name}'s podCIDR first, then ip route del ${dst.text} on ${n.name}`
          : `On ${n.name}: ip route del ${dst.text}`,
      });
    }
    for (const [dst, count] of seen) {
      if (count < 2) continue;
      const net = nets.find((x) => covers(x, parsePrefix(dst)!));
      if (!net) continue;
      report({
        node: n.name,
        message: `${count} routes for ${dst}`,
        evidence: routes.filter((r) => samePrefix(r.dst, dst)).map(formatRoute),
        fix: `On ${n.name}: delete the route that is not flannel's (ip route del ${dst} <via/dev of the wrong one>)`,
      });
    }
  },
});
