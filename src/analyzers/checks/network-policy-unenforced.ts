import { defineCheck } from '../check.js';
import { packagingOf } from '../packaging.js';

export default defineCheck({
  id: 'network-policy-unenforced',
  severity: 'warning',
  title: 'No NetworkPolicy objects exist that flannel would silently ignore',
  failureModes: [],
  docs: {
    meaning:
      'NetworkPolicy objects exist, but flannel implements no NetworkPolicy, and no policy engine (Calico in Canal, kube-router, kube-network-policies) was seen on the nodes.',
    impact:
      'Traffic the policies are meant to block flows freely: the cluster is less isolated than its manifests say.',
    fix: 'Install a NetworkPolicy engine next to flannel (Canal, or kube-network-policies), or delete the policies so they do not promise isolation that is not there.',
  },
  scope: 'cluster',
  run({ model, summaries }, report) {
    const np = model.snapshot.cluster.networkPolicies;
    if (np.status !== 'ok' || np.data.length === 0) return;
    // In Canal, Calico enforces the policies (its cali* veths also show it where the packaging is unknown).
    if (packagingOf(model).kind === 'canal') return;
    if (summaries.some((n) => n.calicoLinks)) return;
    report({
      node: null,
      message: `${np.data.length} NetworkPolicy object${np.data.length > 1 ? 's exist' : ' exists'} but flannel enforces none`,
      evidence: np.data.slice(0, 10).map((p) => `networkpolicy ${p.namespace}/${p.name}`),
    });
  },
});
