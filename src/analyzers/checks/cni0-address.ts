import { firstHost, sameIP } from '../../net/cidr.js';
import { defineCheck, PODCIDR_WRONG } from '../check.js';
import { linkByName } from '../model.js';

export default defineCheck({
  id: 'cni0-address',
  severity: 'error',
  title: "cni0 holds the first address of the node's podCIDR",
  failureModes: [15],
  docs: {
    meaning:
      "The bridge plugin gives cni0 the podCIDR's first host address (10.244.1.1/24) when it creates the bridge and never changes it. A cni0 with another address is left from an earlier podCIDR (node re-joined, kubeadm reset, CNI switched).",
    impact:
      'Every new pod on the node fails with `failed to set bridge addr: "cni0" already has an IP address different from 10.244.X.1/24`.',
    fix: 'On <node>: ip link set cni0 down && ip link delete cni0 (and flannel.1 if its address is stale too), then restart the flannel pod; the next pod re-creates cni0.',
  },
  scope: 'node',
  runNode({ node: n }, report) {
    if (!n.host) return;
    const cni0 = linkByName(n.host, 'cni0');
    // cni0 exists only once the first pod-network pod ran on the node; its absence is normal.
    if (!cni0) return;
    for (const cidr of [n.podCIDR, n.podCIDRv6]) {
      if (!cidr) continue;
      const want = `${firstHost(cidr)}/${cidr.length}`;
      const same = cni0.addresses.filter((a) => a.family === cidr.family && a.scope !== 'link');
      if (same.some((a) => sameIP(a.local, firstHost(cidr)) && a.prefixlen === cidr.length)) continue;
      report({
        node: n.name,
        message: same.length
          ? `cni0 has ${same.map((a) => `${a.local}/${a.prefixlen}`).join(', ')} but the podCIDR ${cidr.text} needs ${want}`
          : `cni0 has no ${cidr.family === 'inet' ? 'IPv4' : 'IPv6'} address; the podCIDR ${cidr.text} needs ${want}`,
        evidence: [
          `cni0: ${cni0.addresses.map((a) => `${a.local}/${a.prefixlen}`).join(', ') || '(no addresses)'}`,
          `spec.podCIDRs: ${JSON.stringify(n.kube.podCIDRs)}`,
        ],
        // The address is replaced in place: deleting cni0 would detach every running pod until it is re-created.
        unless: PODCIDR_WRONG,
        fix: `On ${n.name}: ${[...same.map((a) => `ip addr del ${a.local}/${a.prefixlen} dev cni0`), `ip addr add ${want} dev cni0`].join(' && ')} (if flannel.1 has a stale address too, ip link delete flannel.1 and restart the flannel pod)`,
      });
    }
  },
});
