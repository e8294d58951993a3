import { sameIP } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'public-ip-not-local',
  severity: 'error',
  title: "A node's public-ip is an address of that node",
  failureModes: [20, 24, 9],
  docs: {
    meaning:
      "The address in flannel.alpha.coreos.com/public-ip (or public-ipv6) is not configured on any interface of the node, and no public-ip-overwrite annotation explains it. Usually the node's IP changed after flanneld started (DHCP), or a wrong node-public-ip was set.",
    impact:
      'Peers send tunnel traffic, host-gw routes and IPsec/WireGuard endpoints to an address the node does not hold, so traffic toward its pods is lost.',
    fix: 'Restart the flannel pod on <node> so it re-reads its address (kubectl -n kube-flannel delete pod <pod>); if node-public-ip is wrong, fix it: kubectl annotate node <node> --overwrite flannel.alpha.coreos.com/node-public-ip=<address>.',
  },
  scope: 'node',
  runNode({ node: n }, report) {
    const links = ok(n.host?.links);
    if (!links) return;
    const addrs = links.flatMap((l) => l.addresses.map((a) => a.local));
    const a = n.kube.flannelAnnotations;
    for (const [ip, label, overwrite] of [
      [n.publicIP, 'public-ip', a['public-ip-overwrite']],
      [n.publicIPv6, 'public-ipv6', a['public-ipv6-overwrite']],
    ] as const) {
      if (!ip || overwrite) continue;
      if (addrs.some((x) => sameIP(x, ip))) continue;
      report({
        node: n.name,
        message: `${label} ${ip} is not an address of this node`,
        evidence: [
          `flannel.alpha.coreos.com/${label}: ${ip}`,
          `node addresses: ${addrs.filter((x) => !x.startsWith('fe80')).join(', ') || '(none)'}`,
        ],
      });
    }
  },
});
