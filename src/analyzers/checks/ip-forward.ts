import { defineCheck } from '../check.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'ip-forward',
  severity: 'error',
  title: 'IP forwarding is on',
  failureModes: [31, 44],
  docs: {
    meaning:
      'net.ipv4.ip_forward (and net.ipv6.conf.all.forwarding with IPv6) is 0. flanneld does not set it; the bridge CNI plugin sets it only on pod ADD, so a sysctl.conf or security baseline applied later turns it off.',
    impact:
      'The node stops routing between cni0 and the overlay: its pods cannot reach other nodes and other nodes cannot reach them.',
    fix: 'On <node>: sysctl -w net.ipv4.ip_forward=1 (and net.ipv6.conf.all.forwarding=1), and make it persistent in /etc/sysctl.d/.',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const s = ok(n.host?.sysctls);
    if (!s) return;
    const keys = [
      model.netConf?.enableIPv4 !== false ? 'net.ipv4.ip_forward' : null,
      model.netConf?.enableIPv6 ? 'net.ipv6.conf.all.forwarding' : null,
    ];
    for (const k of keys) {
      if (!k || s[k] === undefined || s[k] === '1') continue;
      report({
        node: n.name,
        message: `${k} is ${s[k]}`,
        evidence: [`${k} = ${s[k]}`],
        fix: `On ${n.name}: sysctl -w ${k}=1, and persist it in /etc/sysctl.d/`,
      });
    }
  },
});
