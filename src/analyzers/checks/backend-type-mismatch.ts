import { defineCheck } from '../check.js';
import { annotationBackendType, type Model } from '../model.js';
import { packagingOf } from '../packaging.js';

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
    fix: 'One node behind the others: restart its flannel pod. Every node on one backend and net-conf.json naming another (the ConfigMap was edited): either put the running backend back in kube-flannel-cfg (the finding prints the kubectl patch, which changes nothing running) or move every node to the configured one with kubectl -n kube-flannel rollout restart ds/kube-flannel-ds (and remove leftover devices of the old backend).',
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
      fix:
        configDrifted(model, n.backendType) ??
        `Restart the flannel pod on ${n.name} so it publishes the configured backend (kubectl -n kube-flannel delete pod -l app=flannel --field-selector spec.nodeName=${n.name}).`,
    });
  },
});

/**
 * When every node runs the same backend and net-conf.json names another, the configuration moved, not the nodes:
 * someone edited it and no flannel pod has restarted since. Which backend the cluster should run is the operator's
 * choice, so the fix gives both, the one that changes nothing running first. null when the nodes disagree among
 * themselves (then the odd node restarts).
 */
function configDrifted(model: Model, runs: string): string | null {
  const types = new Set(model.nodes.filter((x) => x.managed && x.backendType !== null).map((x) => x.backendType));
  if (types.size !== 1) return null;
  const type = runs === '' ? 'udp' : runs;
  const configured = model.backend!.type === 'other' ? model.backend!.name : model.backend!.type;
  const p = packagingOf(model);
  if (p.kind === 'embedded')
    return `Every node runs ${type} while ${p.netConfPath} says ${configured}: ${p.distribution === 'k3s' ? 'k3s writes that file from its --flannel-backend flag at start; ' : ''}set the backend in the distribution's configuration (k3s: flannel-backend in /etc/rancher/k3s/config.yaml) on every node, then restart it there (k3s: systemctl restart k3s, k3s-agent on agents).`;
  const f = model.snapshot.cluster.flannel;
  const install = f.status === 'ok' ? f.data : null;
  const ns = install?.namespace ?? 'kube-flannel';
  const ds = install?.daemonSet?.name ?? 'kube-flannel-ds';
  const restart = `kubectl -n ${ns} rollout restart daemonset/${ds}`;
  let netConf: Record<string, unknown> | null = null;
  try {
    netConf = install?.netConfRaw ? (JSON.parse(install.netConfRaw) as Record<string, unknown>) : null;
  } catch {
    netConf = null;
  }
  if (!netConf || typeof netConf !== 'object' || Array.isArray(netConf))
    return `Every node runs ${type} while net-conf.json says ${configured}: set Backend.Type back to ${type} in kubectl -n ${ns} edit configmap kube-flannel-cfg, or move every node to ${configured} with ${restart}.`;
  const patch = JSON.stringify({ data: { 'net-conf.json': JSON.stringify({ ...netConf, Backend: { Type: type } }) } });
  return `In the cluster: kubectl -n ${ns} patch configmap kube-flannel-cfg --type merge -p '${patch.replaceAll("'", "'\\''")}' (every node runs ${type}: this puts it back in net-conf.json and changes nothing running; add back Backend options the nodes started with, such as DirectRouting, VNI or Port, which flanneld does not publish); or, to move every node to ${configured} instead, ${restart} and delete the old backend's devices.`;
}
