import { defineCheck } from '../check.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'br-netfilter',
  severity: 'error',
  title: 'br_netfilter is loaded and bridged traffic passes iptables',
  failureModes: [3, 39],
  docs: {
    meaning:
      '/proc/sys/net/bridge/bridge-nf-call-iptables is missing (br_netfilter not loaded) or 0. flanneld >= 0.26 refuses to start without the file unless EnableNFTables is set; with the value 0, kube-proxy never sees traffic between pods on the same bridge.',
    impact:
      'Missing: flanneld exits with `Failed to check br_netfilter` and the node has no pod network. 0: Services fail between pods on the same node.',
    fix: 'On <node>: modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1 (persist in /etc/modules-load.d/ and /etc/sysctl.d/).',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const s = ok(n.host?.sysctls);
    if (!s) return;
    const keys = [
      'net.bridge.bridge-nf-call-iptables',
      ...(model.netConf?.enableIPv6 ? ['net.bridge.bridge-nf-call-ip6tables'] : []),
    ];
    for (const k of keys) {
      const v = s[k];
      if (v === undefined) {
        // Only fatal when flanneld checks for it, i.e. in iptables mode.
        if (model.netConf?.enableNFTables) continue;
        report({
          node: n.name,
          message: `/proc/sys/${k.replaceAll('.', '/')} does not exist: br_netfilter is not loaded`,
          evidence: [`cat /proc/sys/${k.replaceAll('.', '/')}: No such file or directory`],
        });
      } else if (v !== '1') {
        report({
          node: n.name,
          severity: 'warning',
          message: `${k} is ${v}: traffic between pods on cni0 bypasses iptables (kube-proxy)`,
          evidence: [`${k} = ${v}`],
        });
      }
    }
  },
});
