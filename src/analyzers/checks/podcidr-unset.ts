import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'podcidr-unset',
  severity: 'error',
  title: 'Every node has a podCIDR',
  failureModes: [1, 44],
  docs: {
    meaning:
      'The Node has no spec.podCIDR (or, with EnableIPv6, no IPv6 entry in spec.podCIDRs). flanneld takes its lease from the podCIDR in kube-subnet-mgr mode.',
    impact:
      'flanneld exits with `failed to acquire lease: node "X" pod cidr not assigned`, the flannel pod crash-loops, and pods on the node stay in ContainerCreating.',
    fix: 'Run kube-controller-manager with --allocate-node-cidrs=true --cluster-cidr=<Network> (kubeadm: --pod-network-cidr), or set spec.podCIDR when creating the Node; check Node events for CIDRNotAvailable.',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    // Without net-conf.json the families flanneld needs are unknown: only a node with no podCIDR at all is wrong
    // (an IPv6-only node has no IPv4 one).
    const known = model.netConf !== null;
    const v4 = known ? model.netConf?.enableIPv4 !== false : !n.podCIDR && !n.podCIDRv6;
    const v6 = known && model.netConf?.enableIPv6 === true;
    const missing = [v4 && !n.podCIDR ? 'IPv4' : null, v6 && !n.podCIDRv6 ? 'IPv6' : null].filter(
      (x): x is string => x !== null,
    );
    if (missing.length === 0) return;
    report({
      node: n.name,
      message: `node has no ${missing.join(' or ')} podCIDR`,
      evidence: [`spec.podCIDRs: ${JSON.stringify(n.kube.podCIDRs)}`],
    });
  },
});
