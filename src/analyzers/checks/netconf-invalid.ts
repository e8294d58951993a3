import { defineCheck } from '../check.js';

const DUAL_STACK_BACKENDS: ReadonlySet<string> = new Set(['vxlan', 'host-gw', 'wireguard']);

export default defineCheck({
  id: 'netconf-invalid',
  severity: 'error',
  title: 'net-conf.json is readable and flanneld can start with it',
  failureModes: [10, 44],
  docs: {
    meaning:
      "The kube-flannel-cfg ConfigMap's net-conf.json is missing, is not JSON, lacks Network (or IPv6Network with EnableIPv6), names a backend flannel does not have, sets an IPsec PSK shorter than 96 characters, or enables IPv6 on a backend that is IPv4-only. Keys flanneld ignores (e.g. ipMasq) are reported as warnings.",
    impact:
      'flanneld exits at start-up on every node (or silently runs with defaults you did not mean, e.g. the udp backend when Backend is absent).',
    fix: 'Edit the ConfigMap (kubectl -n kube-flannel edit cm kube-flannel-cfg), then restart the flannel pods: kubectl -n kube-flannel rollout restart ds/kube-flannel-ds.',
  },
  scope: 'cluster',
  run({ model }, report) {
    const f = model.snapshot.cluster.flannel;
    if (f.status !== 'ok') return;
    const nc = f.data.netConf;
    if (nc.status !== 'ok') {
      if (nc.status === 'failed')
        report({
          node: null,
          message: `net-conf.json cannot be used: ${nc.error}`,
          evidence: [
            f.data.netConfRaw ? `net-conf.json: ${f.data.netConfRaw.slice(0, 300)}` : 'net-conf.json: (absent)',
          ],
        });
      return;
    }
    const c = nc.data;
    const ev = [`net-conf.json: ${f.data.netConfRaw?.replace(/\s+/g, ' ').slice(0, 300) ?? ''}`];
    if (c.enableIPv4 && !c.network)
      report({ node: null, message: 'net-conf.json has no Network although IPv4 is enabled', evidence: ev });
    if (c.enableIPv6 && !c.ipv6Network)
      report({ node: null, message: 'net-conf.json has EnableIPv6 but no IPv6Network', evidence: ev });
    if (c.backend.type === 'other')
      report({
        node: null,
        severity:
          c.backend.name === 'alloc' || c.backend.name === 'extension' || c.backend.name === 'tencent-vpc'
            ? 'info'
            : 'error',
        message: `backend "${c.backend.name}" is ${['alloc', 'extension', 'tencent-vpc'].includes(c.backend.name) ? 'not analysed by kubectl-flannel' : 'not a flannel backend'}`,
        evidence: ev,
      });
    if (c.backend.type === 'ipsec' && c.backend.pskLength < 96)
      report({
        node: null,
        message: `the IPsec PSK has ${c.backend.pskLength} characters; flanneld needs at least 96 (\`config error, password is too short\`)`,
        evidence: [`Backend.PSK length: ${c.backend.pskLength}`],
      });
    if (c.enableIPv6 && !DUAL_STACK_BACKENDS.has(c.backend.type))
      report({
        node: null,
        severity: 'warning',
        message: `EnableIPv6 has no effect with the ${c.backend.type} backend: flannel forces its lease to IPv4 only`,
        evidence: ev,
      });
    for (const w of c.warnings)
      report({ node: null, severity: 'warning', message: `net-conf.json: ${w}`, evidence: ev });
  },
});
