import { defineCheck } from '../check.js';
import { annotationBackendType } from '../model.js';

export default defineCheck({
  id: 'backend-type-mismatch',
  severity: 'error',
  title: "Every node's backend-type matches net-conf.json",
  failureModes: [26],
  docs: {
    meaning:
      "A Node's flannel.alpha.coreos.com/backend-type annotation differs from Backend.Type in net-conf.json, because the ConfigMap was edited without restarting every flannel pod, or the node kept an old annotation.",
    impact:
      'flanneld ignores leases of another backend (`Ignoring non-vxlan subnet`), so no route, fdb or tunnel is programmed between nodes of different backends.',
    fix: 'Restart every flannel pod so all nodes use the configured backend: kubectl -n kube-flannel rollout restart ds/kube-flannel-ds (and remove leftover devices of the old backend).',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    if (!model.backend) return;
    const want = annotationBackendType(model.backend);
    if (!n.managed || n.backendType === null || n.backendType === want) return;
    report({
      node: n.name,
      message: `backend-type is "${n.backendType}" but net-conf.json says ${model.backend.type === 'other' ? model.backend.name : model.backend.type}`,
      evidence: [
        `flannel.alpha.coreos.com/backend-type: "${n.backendType}"`,
        `net-conf.json Backend.Type: ${model.backend.type === 'other' ? model.backend.name : model.backend.type}`,
      ],
    });
  },
});
