/**
 * `nft list ruleset` read into tables, chains and rules, as far as the flannel checks need: which
 * chains exist with which hook, and each rule's statement text with counters and comments removed
 * (flanneld's rules carry neither, but an admin's `nft add rule … counter` must not make them differ).
 */

export interface NftChain {
  readonly name: string;
  /** e.g. `type nat hook postrouting priority srcnat; policy accept;`; null for a regular chain. */
  readonly base: string | null;
  readonly rules: readonly string[];
}

export interface NftTable {
  readonly family: string;
  readonly name: string;
  readonly chains: ReadonlyMap<string, NftChain>;
}

/** Normalises one rule line: no counter, no comment, single spaces. */
export function normaliseNftRule(line: string): string {
  return line
    .replace(/\bcounter packets \d+ bytes \d+/g, '')
    .replace(/\bcounter\b/g, '')
    .replace(/\bcomment "(?:[^"\\]|\\.)*"/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export function parseNftRuleset(text: string): NftTable[] {
  const tables: NftTable[] = [];
  let table: { family: string; name: string; chains: Map<string, NftChain> } | null = null;
  let chain: { name: string; base: string | null; rules: string[] } | null = null;
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const t = /^table (\S+) (\S+) \{$/.exec(line);
    if (t && depth === 0) {
      table = { family: t[1]!, name: t[2]!, chains: new Map() };
      tables.push(table);
      depth = 1;
      continue;
    }
    const c = /^chain (\S+) \{$/.exec(line);
    if (c && depth === 1 && table) {
      chain = { name: c[1]!, base: null, rules: [] };
      table.chains.set(chain.name, chain);
      depth = 2;
      continue;
    }
    if (line.endsWith('{')) {
      // sets, maps, flowtables: skipped whole
      depth++;
      continue;
    }
    if (line === '}') {
      depth--;
      if (depth === 1) chain = null;
      if (depth === 0) table = null;
      continue;
    }
    if (depth !== 2 || !chain) continue;
    if (line.startsWith('comment "')) continue;
    if (/^type \S+ hook /.test(line)) {
      chain.base = line;
      continue;
    }
    chain.rules.push(normaliseNftRule(line));
  }
  return tables;
}

export function nftTable(text: string, family: string, name: string): NftTable | undefined {
  return parseNftRuleset(text).find((t) => t.family === family && t.name === name);
}
