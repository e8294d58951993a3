import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'flannel-pod-missing',
  severity: 'error',
  title: 'Every node runs a flannel pod',
  failureModes: [14],
  docs: {
    meaning:
      'No kube-flannel pod is scheduled on the node. The manifest tolerates only NoSchedule taints, so a NoExecute taint, a nodeSelector or an affinity keeps the DaemonSet off the node.',
    impact:
      "The node has no flanneld: no subnet.env (pods fail with `failed to load flannel 'subnet.env' file`), no annotations, no routes toward it.",
    fix: "Add a toleration for the node's taints to the DaemonSet (operator: Exists) or remove the taint, then check `kubectl -n kube-flannel get ds kube-flannel-ds` reaches the node.",
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const pods = model.snapshot.cluster.flannelPods;
    if (pods.status !== 'ok' || model.snapshot.cluster.flannel.status !== 'ok') return;
    const withPod = new Set(pods.data.map((p) => p.node));
    if (withPod.has(n.name)) return;
    report({
      node: n.name,
      message: 'no flannel pod runs on this node',
      evidence: [
        `flannel pods on: ${[...withPod].filter(Boolean).sort().join(', ') || '(none)'}`,
        `taints: ${n.kube.taints.map((t) => `${t.key}:${t.effect}`).join(', ') || '(none)'}`,
      ],
    });
  },
});
