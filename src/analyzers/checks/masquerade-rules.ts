import { samePrefix } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { dumpsOf, hasChain, rulesOf } from '../iptables.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'masquerade-rules',
  severity: 'error',
  title: "flanneld's masquerade rules are in place when FLANNEL_IPMASQ=true (iptables mode)",
  failureModes: [37],
  docs: {
    meaning:
      'With --ip-masq (FLANNEL_IPMASQ=true) flanneld installs the nat chain FLANNEL-POSTRTG, jumped to from POSTROUTING, that masquerades pod traffic leaving the Network. The bridge plugin then does not masquerade, so nothing else will.',
    impact:
      'Pods cannot reach anything outside the cluster network (the Internet, node-external services): replies go to pod IPs the outside cannot route.',
    fix: 'Restart the flannel pod on <node> (it re-creates the rules; in iptables mode it re-checks them every 5 s, so rules that keep vanishing point at another agent flushing the nat table or at an iptables legacy/nft split).',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const net = model.network;
    if (!net || model.netConf?.enableIPv4 === false) return;
    const env = ok(n.host?.subnetEnv);
    const fw = ok(n.host?.firewall);
    if (!env || !fw || env.ipMasq !== true) return;
    // nftables mode has its own exact rule set: nftables-rules.
    if (model.netConf?.enableNFTables) return;
    const dumps = dumpsOf(fw, 'inet').filter((d) => d.tables.nat);
    if (dumps.length === 0) return;
    const masq = dumps
      .flatMap((d) => Object.keys(d.tables.nat!.chains).flatMap((c) => rulesOf(d, 'nat', c)))
      .filter((r) => r.target === 'MASQUERADE' && r.src && !r.src.negated && samePrefix(r.src.cidr, net.text));
    const chained = dumps.some((d) => hasChain(d, 'nat', 'FLANNEL-POSTRTG'));
    const jumped = dumps.some((d) => rulesOf(d, 'nat', 'POSTROUTING').some((r) => r.target === 'FLANNEL-POSTRTG'));
    const problems: string[] = [];
    if (masq.length === 0) problems.push(`no MASQUERADE rule for -s ${net.text}`);
    if (chained && !jumped) problems.push('FLANNEL-POSTRTG exists but POSTROUTING does not jump to it');
    if (problems.length === 0) return;
    report({
      node: n.name,
      message: `pod traffic leaving the cluster is not masqueraded: ${problems.join('; ')}`,
      evidence: [
        'FLANNEL_IPMASQ=true',
        ...dumps
          .flatMap((d) =>
            [...rulesOf(d, 'nat', 'POSTROUTING'), ...rulesOf(d, 'nat', 'FLANNEL-POSTRTG')].map(
              (r) => `iptables-${d.backend}: ${r.text}`,
            ),
          )
          .slice(0, 12),
      ],
    });
  },
});
