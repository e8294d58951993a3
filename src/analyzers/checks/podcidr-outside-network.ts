import { covers } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { reregisterFix } from '../reregister-fix.js';

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
    fix: 'When only some nodes are outside, register those Nodes again: drain <node>, `kubectl delete node <node>`, restart its kubelet (kube-controller-manager allocates a range of its --cluster-cidr), delete its cni0, restart its flannel pod. When every node is outside, make kube-flannel-cfg net-conf.json Network equal the cluster CIDR (kube-controller-manager --cluster-cidr), then restart the flannel pods: kubectl -n kube-flannel rollout restart ds/kube-flannel-ds.',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    // Every node outside: the Network itself is not the cluster's CIDR, and registering Nodes again changes nothing.
    const allOutside = (net: typeof model.network, v6: boolean) =>
      net !== null &&
      model.nodes.every((x) => {
        const p = v6 ? x.podCIDRv6 : x.podCIDR;
        return p !== null && p !== undefined && !covers(net, p);
      });
    for (const [cidr, net, label] of [
      [n.podCIDR, model.network, 'Network'],
      [n.podCIDRv6, model.network6, 'IPv6Network'],
    ] as const) {
      if (!cidr || !net || covers(net, cidr)) continue;
      report({
        node: n.name,
        message: `podCIDR ${cidr.text} is outside ${label} ${net.text}`,
        evidence: [`spec.podCIDRs: ${JSON.stringify(n.kube.podCIDRs)}`, `net-conf.json ${label}: ${net.text}`],
        ...(allOutside(net, label === 'IPv6Network')
          ? {
              fix: `Make kube-flannel-cfg net-conf.json ${label} equal the cluster CIDR (kube-controller-manager --cluster-cidr), then restart the flannel pods: kubectl -n kube-flannel rollout restart ds/kube-flannel-ds.`,
            }
          : {
              fix: reregisterFix(
                n.name,
                [],
                `the other nodes' ranges lie in ${label} ${net.text}, so the cluster CIDR is right and this Node's range came from elsewhere`,
              ),
            }),
      });
    }
  },
});
