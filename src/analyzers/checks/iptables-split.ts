import { defineCheck } from '../check.js';
import { dumpsOf, holdsFlannel, holdsKubeProxy } from '../iptables.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'iptables-split',
  severity: 'warning',
  title: "flannel's iptables rules live in the same backend (legacy or nft) as kube-proxy's",
  failureModes: [32],
  docs: {
    meaning:
      "The flannel image picks iptables-legacy or iptables-nft at first use (iptables-wrapper). Here flannel's FLANNEL-* chains sit in one backend while kube-proxy's KUBE-* chains sit in the other.",
    impact:
      'Both rule sets are evaluated, but in an order neither agent expects: masquerading or forward accepts can be skipped or applied twice, and flanneld may keep re-creating rules it believes missing.',
    fix: "Make every agent on <node> use one backend: set the host's iptables alternative (update-alternatives --set iptables /usr/sbin/iptables-nft), delete the stray chains from the other backend, and restart kube-proxy and flannel pods.",
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    if (model.netConf?.enableNFTables) return;
    const fw = ok(n.host?.firewall);
    if (!fw) return;
    const dumps = dumpsOf(fw, 'inet');
    const flannel = dumps.filter(holdsFlannel);
    const kube = dumps.filter(holdsKubeProxy);
    if (flannel.length === 0 || kube.length === 0) return;
    if (flannel.some((d) => kube.includes(d))) return;
    report({
      node: n.name,
      message: `FLANNEL-* chains are in iptables-${flannel.map((d) => d.backend).join('+')} but KUBE-* chains are in iptables-${kube.map((d) => d.backend).join('+')}`,
      evidence: [
        ...flannel.map((d) => `iptables-${d.backend}-save: FLANNEL-* chains present`),
        ...kube.map((d) => `iptables-${d.backend}-save: KUBE-* chains present`),
      ],
    });
  },
});
