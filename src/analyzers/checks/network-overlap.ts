import { contains } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { FLANNEL_DEVICE_PATTERN } from '../expected/index.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'network-overlap',
  severity: 'error',
  title: "The pod Network does not overlap the nodes' own addresses",
  failureModes: [33],
  docs: {
    meaning:
      "A node address (InternalIP, public-ip, or an address on a non-flannel interface) lies inside net-conf.json's Network. The pod network then claims addresses of a real network.",
    impact:
      'Traffic to those real addresses is routed into the overlay (or to cni0) instead of the LAN: nodes, DNS servers or on-premises hosts in that range become unreachable from pods.',
    fix: "Choose a Network that overlaps nothing real (kube-controller-manager --cluster-cidr and net-conf.json together); changing it requires re-creating the nodes' podCIDRs.",
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const nets = [model.network, model.network6].filter((x) => x !== null);
    if (nets.length === 0) return;
    const hits = new Set<string>();
    for (const ip of [...n.kube.internalIPs, n.publicIP, n.publicIPv6])
      if (ip && nets.some((net) => contains(net, ip))) hits.add(ip);
    for (const l of ok(n.host?.links) ?? []) {
      if (FLANNEL_DEVICE_PATTERN.test(l.name) || l.name === 'cni0' || l.master === 'cni0' || l.name.startsWith('cali'))
        continue;
      for (const a of l.addresses)
        if (a.scope !== 'link' && a.scope !== 'host' && nets.some((net) => contains(net, a.local)))
          hits.add(`${a.local} (${l.name})`);
    }
    if (hits.size === 0) return;
    report({
      node: n.name,
      message: `node address ${[...hits].join(', ')} lies inside the pod Network ${nets.map((x) => x.text).join(', ')}`,
      evidence: [...hits].map((h) => `address ${h}`).concat(nets.map((x) => `net-conf.json Network: ${x.text}`)),
    });
  },
});
