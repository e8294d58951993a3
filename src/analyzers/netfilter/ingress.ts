/**
 * nftables chains on a device's ingress hook (netdev family, or inet since Linux 5.10): they see a frame on arrival,
 * after the packet taps (tcpdump sees it) and before the IP stack (no routing table, conntrack or iptables does).
 * A drop there is what doctor --probe observes as "arrives on the uplink, never reaches the flannel device". Read
 * from `nft -j list ruleset` with nft-compile's rule compiler, walked in order (jump, goto, return, verdicts).
 */

import type { HostState } from '../../snapshot/types.js';
import { compileRule, ruleText } from './nft-compile.js';
import type { NfChain, NfPacket } from './types.js';

type Json = unknown;
type Obj = Record<string, Json>;
const isObj = (x: Json): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** One ingress base chain on a device, with its table's chains (jump targets) and each rule's handle. */
export interface IngressChain {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly priority: number;
  readonly devices: readonly string[];
  readonly policy: 'accept' | 'drop';
  readonly chains: ReadonlyMap<string, NfChain & { readonly handles: readonly number[] }>;
}

/** Where an ingress chain drops the packet: the rule to delete, as `nft delete rule` names it. */
export interface IngressDrop {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  /** null: the base chain's policy */
  readonly handle: number | null;
  readonly text: string;
}

/**
 * The devices of each ingress chain from `nft list ruleset`'s text (`family table chain` -> devices): nft 1.0.6's
 * JSON leaves the device out of the chain (seen on Debian 12), the text always has `device "eth0"` or
 * `devices = { … }`.
 */
function devicesFromText(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  let chain = '';
  for (const line of text.split('\n')) {
    const t = /^table (\S+) (\S+) \{/.exec(line);
    if (t) table = `${t[1]} ${t[2]}`;
    const c = /^\s+chain (\S+) \{/.exec(line);
    if (c) chain = c[1]!;
    const d = /hook ingress (?:device "?([^";\s]+)"?|devices = \{([^}]*)\})/.exec(line);
    if (d && table && chain)
      out.set(`${table} ${chain}`, d[1] ? [d[1]] : d[2]!.split(',').map((x) => x.trim().replace(/^"|"$/g, '')));
  }
  return out;
}

export function ingressChains(json: string, text: string | null = null): IngressChain[] {
  let doc: Json;
  try {
    doc = JSON.parse(json);
  } catch {
    return [];
  }
  const items = isObj(doc) && Array.isArray(doc['nftables']) ? (doc['nftables'] as Json[]) : [];
  const metas = items.flatMap((it) => (isObj(it) && isObj(it['chain']) ? [it['chain']] : []));
  const bases = metas.filter((c) => c['hook'] === 'ingress' && (c['family'] === 'netdev' || c['family'] === 'inet'));
  if (bases.length === 0) return [];
  const key = (o: Obj) => `${String(o['family'])} ${String(o['table'])}`;
  const tables = new Map<string, Map<string, { name: string; rules: NfChain['rules'][number][]; handles: number[] }>>();
  for (const c of metas) {
    if (!bases.some((b) => key(b) === key(c))) continue;
    if (!tables.has(key(c))) tables.set(key(c), new Map());
    tables.get(key(c))!.set(String(c['name']), { name: String(c['name']), rules: [], handles: [] });
  }
  for (const it of items) {
    const r = isObj(it) ? it['rule'] : null;
    if (!isObj(r) || !Array.isArray(r['expr'])) continue;
    const chain = tables.get(key(r))?.get(String(r['chain']));
    if (!chain) continue;
    const text = ruleText(r);
    // sets are not resolved here: a rule reading one is undecidable (null), never a guess
    chain.rules.push(compileRule(r['expr'] as Json[], text, String(r['family']), new Map()));
    chain.handles.push(Number(r['handle']));
  }
  const fromText = text ? devicesFromText(text) : new Map<string, string[]>();
  return bases.map((b) => {
    const dev = b['dev'] ?? fromText.get(`${key(b)} ${String(b['name'])}`);
    const chains = new Map(
      [...tables.get(key(b))!].map(([n, c]) => [n, { name: n, rules: c.rules, handles: c.handles, policy: null }]),
    );
    return {
      family: String(b['family']),
      table: String(b['table']),
      chain: String(b['name']),
      priority: Number(b['prio'] ?? 0),
      devices: typeof dev === 'string' ? [dev] : Array.isArray(dev) ? dev.map(String) : [],
      policy: b['policy'] === 'drop' ? 'drop' : 'accept',
      chains,
    };
  });
}

/**
 * What the device's ingress chains do to the packet, in priority order: the rule that drops it, 'pass', or
 * 'unknown' when a rule the model cannot evaluate decides.
 */
export function ingressVerdict(
  chains: readonly IngressChain[],
  device: string,
  packet: NfPacket,
): IngressDrop | 'pass' | 'unknown' {
  const env = { localAddresses: new Set<string>() };
  const on = chains.filter((c) => c.devices.includes(device)).sort((a, b) => a.priority - b.priority);
  for (const base of on) {
    const walk = (name: string, depth: number): IngressDrop | 'accept' | 'unknown' | 'return' => {
      const c = base.chains.get(name);
      if (!c || depth > 16) return 'unknown';
      for (const [i, rule] of c.rules.entries()) {
        let hit: boolean | null = true;
        for (const m of rule.matches) {
          const r = m(packet, env);
          if (r === false) {
            hit = false;
            break;
          }
          if (r === null) hit = null;
        }
        if (hit === false) continue;
        const a = rule.action;
        if (a.kind === 'continue') continue;
        if (hit === null) return 'unknown';
        if (a.kind === 'accept') return 'accept';
        if (a.kind === 'drop' || a.kind === 'reject')
          return { family: base.family, table: base.table, chain: name, handle: c.handles[i] ?? null, text: rule.text };
        if (a.kind === 'return') return 'return';
        if (a.kind === 'jump' || a.kind === 'goto') {
          const r = walk(a.chain, depth + 1);
          if (r !== 'return') return r;
          if (a.kind === 'goto') return 'return';
          continue;
        }
        return 'unknown';
      }
      return 'return';
    };
    const r = walk(base.chain, 0);
    if (r === 'unknown' || typeof r === 'object') return r;
    if (r === 'return' && base.policy === 'drop')
      return { family: base.family, table: base.table, chain: base.chain, handle: null, text: `policy drop` };
  }
  return 'pass';
}

/** The node's ingress chains on its uplink: nearly every node has none, and skips the JSON parse. */
export function uplinkIngressOf(host: HostState | null | undefined, uplink: string | null): IngressChain[] {
  const fw = host?.firewall?.status === 'ok' ? host.firewall.data : null;
  const json = fw?.nftJson;
  // the text form says whether any ingress hook exists
  if (!json || !uplink || !/hook ingress/.test(fw?.nftRuleset ?? 'hook ingress')) return [];
  return ingressChains(json, fw?.nftRuleset ?? null).filter((c) => c.devices.includes(uplink));
}

/** The command that lets the packet through the ingress chain that drops it. */
export function ingressFix(node: string, device: string, v: IngressDrop): string {
  const where = `${v.family} ${v.table} ${v.chain}`;
  return v.handle === null
    ? `On ${node}: nft 'chain ${where} { policy accept; }' (its policy on ${device} ingress drops the packet)`
    : `On ${node}: nft delete rule ${where} handle ${v.handle} (on ${device} ingress it drops the packet: ${v.text.replace(/[()]/g, '')})`;
}
