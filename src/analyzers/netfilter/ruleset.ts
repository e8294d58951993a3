/** A node's netfilter rules, every writer's base chains grouped by family and hook in priority order. */
import type { Firewall } from '../../snapshot/types.js';
import { hookChains } from './evaluate.js';
import { iptablesBaseChains } from './iptables-compile.js';
import { nftBaseChains } from './nft-compile.js';
import type { BaseChain, Hook, HookChains, NfFamily } from './types.js';

export interface Ruleset {
  /** Base chains of one family and hook, with the orders they may run in (worked out once per hook). */
  hook(family: NfFamily, hook: Hook): HookChains;
  /** Why part of the rules could not be read (e.g. nft JSON that does not parse); the walk then says unknown. */
  readonly gaps: readonly string[];
}

/** `nft -j list ruleset` as collected, when it was. */
export function rulesetOf(fw: Firewall, nftJson: string | null): Ruleset {
  const bases: BaseChain[] = [];
  const gaps: string[] = [];
  const nftTables = new Set<string>();
  for (const dump of fw.iptables) {
    bases.push(...iptablesBaseChains(dump));
    if (dump.backend === 'nft')
      for (const t of Object.keys(dump.tables)) nftTables.add(`${dump.family === 'inet' ? 'ip' : 'ip6'} ${t}`);
  }
  if (nftJson) {
    try {
      bases.push(...nftBaseChains(nftJson, nftTables));
    } catch (e) {
      gaps.push(`nft -j list ruleset could not be read: ${(e as Error).message}`);
    }
  } else if (fw.nftRuleset && /\bhook\b/.test(fw.nftRuleset) && !onlyIptablesNft(fw.nftRuleset, nftTables)) {
    // Native tables exist but only as text: their rules are not evaluated, so the walk cannot claim a verdict.
    gaps.push('native nftables tables were collected as text only (nft -j unavailable)');
  }
  const order = { 'iptables-legacy': 0, 'iptables-nft': 1, nft: 2 } as const;
  const by = new Map<string, BaseChain[]>();
  for (const b of bases) {
    const k = `${b.family} ${b.hook}`;
    const list = by.get(k) ?? [];
    by.set(k, list);
    list.push(b);
  }
  const hooks = new Map<string, HookChains>();
  for (const [k, list] of by) {
    list.sort((a, b) => a.priority - b.priority || order[a.writer] - order[b.writer]);
    hooks.set(k, hookChains(list));
  }
  const none = hookChains([]);
  return { hook: (family, hook) => hooks.get(`${family} ${hook}`) ?? none, gaps };
}

/** True when every table in the nft text is one iptables-nft wrote (so the iptables-save dumps cover it). */
function onlyIptablesNft(text: string, nftTables: ReadonlySet<string>): boolean {
  for (const m of text.matchAll(/^table (\S+) (\S+) \{/gm)) if (!nftTables.has(`${m[1]} ${m[2]}`)) return false;
  return true;
}
