import { defineCheck } from '../check.js';
import { NFT_TABLES } from '../expected/nftables.js';
import { hasChain } from '../iptables.js';
import { ok } from '../model.js';
import { nftTable } from '../nft.js';

const IPTABLES_CHAINS = [
  ['nat', 'FLANNEL-POSTRTG'],
  ['filter', 'FLANNEL-FWD'],
] as const;

export default defineCheck({
  id: 'firewall-mode-conflict',
  severity: 'warning',
  title: "flannel's rules exist in one firewall mode only: iptables chains or nftables tables, not both",
  failureModes: [],
  docs: {
    meaning:
      "flanneld writes its masquerade and forward rules either as iptables chains (FLANNEL-POSTRTG, FLANNEL-FWD) or, with EnableNFTables, as the nftables tables flannel-ipv4/flannel-ipv6, and deletes the other mode's at start (flannel PR #2239). Here both exist: net-conf.json changed mode and flanneld was not restarted, or two flanneld versions ran on the node.",
    impact:
      'Two rule sets masquerade and accept pod traffic; the stale one keeps the old Network or podCIDR and NATs or accepts what the current one would not, and it hides whether the current mode works.',
    fix: "Restart the flannel pod on <node> (flanneld removes the other mode's rules at start); by hand: iptables -t nat -F FLANNEL-POSTRTG && iptables -t nat -X FLANNEL-POSTRTG (and FLANNEL-FWD), or nft delete table ip flannel-ipv4 (and ip6 flannel-ipv6), whichever is not the configured mode.",
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    if (!model.netConf) return;
    const fw = ok(n.host?.firewall);
    if (!fw) return;
    const iptables = fw.iptables.flatMap((d) =>
      IPTABLES_CHAINS.filter(([t, c]) => hasChain(d, t, c)).map(
        ([t, c]) => `ip${d.family === 'inet6' ? '6' : ''}tables-${d.backend} -t ${t}: chain ${c}`,
      ),
    );
    const nft =
      fw.nftRuleset === null
        ? []
        : NFT_TABLES.filter((t) => nftTable(fw.nftRuleset!, t.family, t.name)).map(
            (t) => `nft: table ${t.family} ${t.name}`,
          );
    if (iptables.length === 0 || nft.length === 0) return;
    const mode = model.netConf.enableNFTables ? 'nftables' : 'iptables';
    report({
      node: n.name,
      message: `flannel's rules exist in both iptables and nftables form; net-conf.json selects ${mode} mode, so the ${mode === 'nftables' ? 'iptables chains are' : 'nftables tables are'} stale`,
      evidence: [`EnableNFTables: ${model.netConf.enableNFTables}`, ...iptables, ...nft],
    });
  },
});
