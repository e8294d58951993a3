import { normalizeIP } from '../../net/cidr.js';
import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'public-ip-duplicate',
  severity: 'error',
  title: 'Every node publishes a different public-ip',
  failureModes: [19],
  docs: {
    meaning:
      'Several Nodes carry the same flannel.alpha.coreos.com/public-ip annotation. flanneld picked the interface of the default route, and on these nodes it holds the same (NAT) address, as with Vagrant/VirtualBox 10.0.2.15.',
    impact:
      "Peers send every node's tunnel traffic (fdb dst, host-gw gateway, WireGuard endpoint, IPsec endpoint) to one address, so cross-node pod traffic fails.",
    fix: 'Start flanneld with --iface=<nic> or --iface-regex, or annotate each node with its own address: kubectl annotate node <node> flannel.alpha.coreos.com/node-public-ip=<address>, then restart the flannel pods.',
  },
  scope: 'cluster',
  run({ model }, report) {
    for (const key of ['publicIP', 'publicIPv6'] as const) {
      const byIP = new Map<string, string[]>();
      for (const n of model.nodes) {
        const ip = n[key] ? normalizeIP(n[key]!) : null;
        if (ip) byIP.set(ip, [...(byIP.get(ip) ?? []), n.name]);
      }
      for (const [ip, names] of byIP) {
        if (names.length < 2) continue;
        const label = key === 'publicIP' ? 'public-ip' : 'public-ipv6';
        for (const name of names) {
          report({
            node: name,
            message: `${label} ${ip} is also published by ${names.filter((x) => x !== name).join(', ')}`,
            evidence: names.map((n) => `${n}: ${label}=${ip}`),
          });
        }
      }
    }
  },
});
