import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'node-not-registered',
  severity: 'error',
  title: 'Every node carries the annotations flanneld publishes',
  failureModes: [14, 26],
  docs: {
    meaning:
      'The Node lacks flannel.alpha.coreos.com/kube-subnet-manager="true", public-ip, backend-type or (for vxlan/wireguard) backend-data. flanneld writes them when it acquires its lease; every other flanneld ignores a node without them.',
    impact:
      'No peer programs a route, fdb entry, tunnel peer or policy toward this node, so its pods are unreachable from other nodes.',
    fix: 'Restart the flannel pod on <node> (once it has its lease it writes the annotations itself; if it does not, read kubectl -n kube-flannel logs <pod>).',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    if (!model.backend) return;
    const needsData = model.backend.type === 'vxlan' || model.backend.type === 'wireguard';
    const a = n.kube.flannelAnnotations;
    const missing: string[] = [];
    if (a['kube-subnet-manager'] !== 'true') missing.push('kube-subnet-manager');
    if (model.netConf?.enableIPv4 !== false && !a['public-ip']) missing.push('public-ip');
    if (model.netConf?.enableIPv6 && !a['public-ipv6']) missing.push('public-ipv6');
    if (a['backend-type'] === undefined) missing.push('backend-type');
    // backend-data is only read from leases of the configured type; another type is backend-type-mismatch's finding.
    // IPv6-only: flanneld writes no v4 backend-data for vxlan (kube.go skips a "null" one); the v6 lease is what counts.
    const v4 = model.netConf?.enableIPv4 !== false;
    const has = v4 ? n.vxlan || n.wireguard : n.vxlanV6 || n.wireguardV6;
    if (needsData && a['backend-type'] === model.backend.type && !has && !n.backendDataError)
      missing.push(v4 ? 'backend-data' : 'backend-v6-data');
    if (n.backendDataError) missing.push(`backend-data (${n.backendDataError})`);
    if (missing.length === 0) return;
    report({
      node: n.name,
      message: `flannel annotations missing or unreadable: ${missing.join(', ')}`,
      evidence: Object.keys(a).length
        ? Object.entries(a).map(([k, v]) => `flannel.alpha.coreos.com/${k}: ${v}`)
        : ['no flannel.alpha.coreos.com/* annotations'],
    });
  },
});
