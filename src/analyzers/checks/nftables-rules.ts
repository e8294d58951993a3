import { defineCheck } from '../check.js';
import { type ExpectedNftChain, expectedNftChains } from '../expected/nftables.js';
import { ok } from '../model.js';
import { nftTable } from '../nft.js';

export default defineCheck({
  id: 'nftables-rules',
  severity: 'error',
  title: "In nftables mode, flanneld's tables flannel-ipv4/flannel-ipv6 hold exactly its forward and postrtg rules",
  failureModes: [37],
  docs: {
    meaning:
      "With EnableNFTables, flanneld writes no iptables rules: it owns the tables `ip flannel-ipv4` and `ip6 flannel-ipv6`, with a `forward` filter chain accepting the Network (--iptables-forward-rules, default on) and a `postrtg` nat chain (--ip-masq) of six rules: skip kube-proxy's mark 0x4000, no NAT inside the Network, masquerade what leaves it. Both chains are flushed and rewritten whole, so any other content is not flanneld's. Here a table, chain or rule is missing, changed or out of order.",
    impact:
      'Without postrtg, pod traffic leaving the cluster is not masqueraded (replies go to pod IPs the outside cannot route); without forward, a host firewall with a drop policy drops pod traffic between nodes; a changed rule NATs traffic inside the Network.',
    fix: 'Restart the flannel pod on <node>: flanneld recreates both tables at start. If the rules change again, find the agent rewriting nftables (a firewall service flushing the ruleset: `nft list ruleset` after `systemctl restart <service>`).',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    if (!model.netConf?.enableNFTables) return;
    const fw = ok(n.host?.firewall);
    if (!fw || fw.nftRuleset === null) return;
    const text = fw.nftRuleset;
    // fully-random depends on flanneld's `nft --check` probe: accept either form, one per chain.
    const withRandom = expectedNftChains(model, n, true);
    const plain = expectedNftChains(model, n, false);
    withRandom.forEach((want, i) => {
      const problem = compare(text, want) && compare(text, plain[i]!);
      if (!problem) return;
      report({
        node: n.name,
        message: `nft ${want.family} ${want.table} chain ${want.chain}: ${problem}`,
        evidence: [`expected (in order): ${want.rules.join(' ; ')}`, ...actual(text, want)],
      });
    });
  },
});

/** null when the chain holds exactly the expected rules with the expected hook; else what differs. */
function compare(text: string, want: ExpectedNftChain): string | null {
  const table = nftTable(text, want.family, want.table);
  if (!table) return `table ${want.family} ${want.table} is missing`;
  const chain = table.chains.get(want.chain);
  if (!chain) return `chain ${want.chain} is missing`;
  if (chain.base !== want.hook) return `chain is not hooked as flanneld hooks it (${chain.base ?? 'regular chain'})`;
  const missing = want.rules.filter((r) => !chain.rules.includes(r));
  const extra = chain.rules.filter((r) => !want.rules.includes(r));
  if (missing.length) return `missing rule${missing.length > 1 ? 's' : ''}: ${missing.join(' ; ')}`;
  if (extra.length) return `rule${extra.length > 1 ? 's' : ''} flanneld does not write: ${extra.join(' ; ')}`;
  if (chain.rules.join('\n') !== want.rules.join('\n')) return 'rules are out of order';
  return null;
}

function actual(text: string, want: ExpectedNftChain): string[] {
  const chain = nftTable(text, want.family, want.table)?.chains.get(want.chain);
  if (!chain) return [`nft list ruleset: no ${want.family} ${want.table} ${want.chain}`];
  return [`nft list chain ${want.family} ${want.table} ${want.chain}:`, ...chain.rules.map((r) => `  ${r}`)];
}
