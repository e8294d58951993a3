import { covers } from '../../net/cidr.js';
import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'podcidr-outside-network',
  severity: 'error',
  title: "Every podCIDR lies inside net-conf.json's Network",
  failureModes: [2],
  docs: {
    meaning:
      "The Node's podCIDR is not inside the Network (or IPv6Network) of flannel's net-conf.json, typically because kubeadm --pod-network-cidr differs from the flannel ConfigMap.",
    impact:
      "Current flanneld refuses to start (`subnet ... specified in the flannel net config doesn't contain ... PodCIDR`); older flanneld wrote an inconsistent subnet.env, breaking routing and masquerading.",
    fix: 'Make kube-flannel-cfg net-conf.json Network equal the cluster CIDR (kube-controller-manager --cluster-cidr), then restart the flannel pods: kubectl -n kube-flannel rollout restart ds/kube-flannel-ds.',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    for (const [cidr, net, label] of [
      [n.podCIDR, model.network, 'Network'],
      [n.podCIDRv6, model.network6, 'IPv6Network'],
    ] as const) {
      if (!cidr || !net || covers(net, cidr)) continue;
      report({
        node: n.name,
        message: `podCIDR ${cidr.text} is outside ${label} ${net.text}`,
        evidence: [`spec.podCIDRs: ${JSON.stringify(n.kube.podCIDRs)}`, `net-conf.json ${label}: ${net.text}`],
      });
    }
  },
});
