/**
 * Native nftables tables, read from `nft -j list ruleset` into the netfilter IR. Expressions the
 * model evaluates: payload addresses, ports and protocol, meta iif/oif(name), l4proto, nfproto,
 * mark (with a mask), ct state, anonymous and named sets; statements accept, drop, reject,
 * return, jump, goto, meta mark set, snat, dnat, masquerade, redirect. Anything else (an `xt`
 * statement iptables-nft left, limit, quota, fib, …) is undecidable: it answers null.
 */
import { prefixMatcher, protoName } from './match.js';
import type { Action, BaseChain, Hook, MatchFn, NfChain, NfFamily, NfPacket, NfRule } from './types.js';

type Json = unknown;
type Obj = Record<string, Json>;
const isObj = (x: Json): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A value read off the packet: address, name, number, or null when the packet has none (no match). */
type Value = string | number | null;
type Selector = {
  read: (p: NfPacket) => Value;
  kind: 'addr' | 'name' | 'num' | 'proto' | 'ctstate';
  need?: (p: NfPacket) => boolean;
};

const HOOKS: ReadonlySet<string> = new Set(['prerouting', 'input', 'forward', 'output', 'postrouting']);

function ipFamilyOf(tableFamily: string, protocol: string): NfFamily | null {
  if (protocol === 'ip') return 'inet';
  if (protocol === 'ip6') return 'inet6';
  return tableFamily === 'ip' ? 'inet' : tableFamily === 'ip6' ? 'inet6' : null;
}

function selector(left: Json): Selector | null {
  if (!isObj(left)) return null;
  const payload = left['payload'];
  if (isObj(payload)) {
    const proto = String(payload['protocol'] ?? '');
    const field = String(payload['field'] ?? '');
    if ((proto === 'ip' || proto === 'ip6') && (field === 'saddr' || field === 'daddr')) {
      const fam: NfFamily = proto === 'ip' ? 'inet' : 'inet6';
      return { kind: 'addr', read: (p) => (field === 'saddr' ? p.src : p.dst), need: (p) => p.family === fam };
    }
    if ((proto === 'ip' && field === 'protocol') || (proto === 'ip6' && field === 'nexthdr')) {
      const fam: NfFamily = proto === 'ip' ? 'inet' : 'inet6';
      return { kind: 'proto', read: (p) => p.proto, need: (p) => p.family === fam };
    }
    if (['tcp', 'udp', 'sctp', 'udplite', 'dccp', 'th'].includes(proto) && (field === 'sport' || field === 'dport')) {
      const need =
        proto === 'th' ? (p: NfPacket) => p.sport !== null || p.dport !== null : (p: NfPacket) => p.proto === proto;
      return { kind: 'num', read: (p) => (field === 'sport' ? p.sport : p.dport), need };
    }
    return null;
  }
  const meta = left['meta'];
  if (isObj(meta)) {
    switch (meta['key']) {
      case 'iifname':
      case 'iif':
        return { kind: 'name', read: (p) => p.iif };
      case 'oifname':
      case 'oif':
        return { kind: 'name', read: (p) => p.oif };
      case 'l4proto':
        return { kind: 'proto', read: (p) => p.proto };
      case 'mark':
        return { kind: 'num', read: (p) => p.mark };
      case 'nfproto':
        return { kind: 'proto', read: (p) => (p.family === 'inet' ? 'ipv4' : 'ipv6') };
    }
    return null;
  }
  const ct = left['ct'];
  if (isObj(ct) && ct['key'] === 'state' && ct['dir'] === undefined)
    return { kind: 'ctstate', read: (p) => (p.ctState ?? 'NEW').toLowerCase() };
  const and = left['&'];
  if (Array.isArray(and) && and.length === 2 && typeof and[1] === 'number') {
    const inner = selector(and[0]);
    if (inner?.kind !== 'num') return null;
    const mask = and[1] >>> 0;
    return {
      kind: 'num',
      read: (p) => {
        const v = inner.read(p);
        return typeof v === 'number' ? (v & mask) >>> 0 : null;
      },
      ...(inner.need ? { need: inner.need } : {}),
    };
  }
  return null;
}

/** One element of a right-hand side: a test of the packet's value; null when it cannot be evaluated. */
type Elem = (v: string | number, family: NfFamily) => boolean | null;

function element(x: Json, kind: Selector['kind']): Elem | null {
  if (typeof x === 'number') return (v) => (kind === 'proto' ? v === protoName(String(x)) : v === x);
  if (typeof x === 'string') {
    if (kind === 'addr') return (v, fam) => prefixMatcher(x, fam)?.(String(v)) ?? false;
    if (kind === 'name')
      return (v) => {
        const s = String(v);
        if (x.endsWith('\\*')) return s === `${x.slice(0, -2)}*`;
        return x.endsWith('*') ? s.startsWith(x.slice(0, -1)) : s === x;
      };
    if (kind === 'proto') return (v) => v === protoName(x);
    if (kind === 'ctstate') return (v) => v === x;
    if (kind === 'num' && /^(0x[0-9a-f]+|\d+)$/i.test(x)) return (v) => v === Number(x);
    return null;
  }
  if (isObj(x)) {
    const pfx = x['prefix'];
    if (isObj(pfx) && kind === 'addr') {
      const text = `${String(pfx['addr'])}/${String(pfx['len'])}`;
      return (v, fam) => prefixMatcher(text, fam)?.(String(v)) ?? false;
    }
    const range = x['range'];
    if (Array.isArray(range) && range.length === 2 && kind === 'num') {
      const [lo, hi] = range.map(Number) as [number, number];
      return (v) => typeof v === 'number' && v >= lo && v <= hi;
    }
    const elem = x['elem'];
    if (isObj(elem)) return element(elem['val'], kind);
  }
  return null;
}

function rightSide(right: Json, kind: Selector['kind'], sets: ReadonlyMap<string, readonly Json[]>): Elem | null {
  let list: readonly Json[];
  if (typeof right === 'string' && right.startsWith('@')) {
    const s = sets.get(right.slice(1));
    if (!s) return null;
    list = s;
  } else if (isObj(right) && Array.isArray(right['set'])) list = right['set'] as Json[];
  else if (Array.isArray(right)) list = right;
  else list = [right];
  const elems = list.map((e) => element(e, kind));
  if (elems.some((e) => e === null)) return null;
  return (v, fam) => {
    let unsure = false;
    for (const e of elems as Elem[]) {
      const r = e(v, fam);
      if (r === true) return true;
      if (r === null) unsure = true;
    }
    return unsure ? null : false;
  };
}

function compileMatch(m: Obj, tableFamily: string, sets: ReadonlyMap<string, readonly Json[]>): MatchFn {
  const sel = selector(m['left']);
  const op = String(m['op'] ?? '==');
  if (!sel) return () => null;
  const right = m['right'];
  if ((op === '<' || op === '>' || op === '<=' || op === '>=') && typeof right === 'number' && sel.kind === 'num') {
    return (p) => {
      if (sel.need && !sel.need(p)) return false;
      const v = sel.read(p);
      if (typeof v !== 'number') return false;
      return op === '<' ? v < right : op === '>' ? v > right : op === '<=' ? v <= right : v >= right;
    };
  }
  if (op !== '==' && op !== '!=' && op !== 'in') return () => null;
  const test = rightSide(right, sel.kind, sets);
  if (!test) return () => null;
  // In an ip or ip6 table a rule only ever sees its own family.
  const tableFam = tableFamily === 'ip' ? 'inet' : tableFamily === 'ip6' ? 'inet6' : null;
  return (p) => {
    // A payload field the packet does not carry (udp dport of a TCP packet) fails the rule whatever the operator.
    if (sel.need && !sel.need(p)) return false;
    const v = sel.read(p);
    if (v === null) return op === '!=' ? sel.kind === 'name' : false;
    const r = test(v, tableFam ?? p.family);
    return r === null ? null : op === '!=' ? !r : r;
  };
}

function natAction(kind: 'snat' | 'dnat', s: Json): Action {
  if (!isObj(s)) return { kind: 'nat', nat: { kind, addr: null, port: null } };
  const addr = s['addr'];
  const port = s['port'];
  if ((addr !== undefined && typeof addr !== 'string') || (port !== undefined && typeof port !== 'number'))
    return { kind: 'unknown', name: kind };
  return { kind: 'nat', nat: { kind, addr: addr ?? null, port: port ?? null } };
}

export function compileRule(
  expr: readonly Json[],
  text: string,
  tableFamily: string,
  sets: ReadonlyMap<string, readonly Json[]>,
): NfRule {
  const matches: MatchFn[] = [];
  let action: Action = { kind: 'continue' };
  let markSet: Action | null = null;
  for (const e of expr) {
    if (!isObj(e)) continue;
    const [key] = Object.keys(e);
    const v = key === undefined ? undefined : e[key];
    switch (key) {
      case 'match':
        if (isObj(v)) matches.push(compileMatch(v, tableFamily, sets));
        continue;
      case 'counter':
      case 'log':
      case 'comment':
        continue;
      case 'accept':
      case 'drop':
      case 'reject':
      case 'return':
        action = { kind: key };
        break;
      case 'jump':
      case 'goto':
        action = isObj(v) ? { kind: key, chain: String(v['target']) } : { kind: 'unknown', name: key };
        break;
      case 'mangle': {
        const k = isObj(v) ? v['key'] : null;
        const val = isObj(v) ? v['value'] : null;
        // `meta mark set X` does not end the rule: it is this rule's action only when no verdict follows.
        if (isObj(k) && isObj(k['meta']) && k['meta']['key'] === 'mark' && typeof val === 'number') {
          markSet = { kind: 'mark', and: 0, xor: val >>> 0 };
          continue;
        }
        action = { kind: 'unknown', name: 'mangle' };
        break;
      }
      case 'snat':
      case 'dnat':
        action = natAction(key, v);
        break;
      case 'masquerade':
        action = { kind: 'nat', nat: { kind: 'masquerade' } };
        break;
      case 'redirect':
        action = {
          kind: 'nat',
          nat: { kind: 'redirect', port: isObj(v) && typeof v['port'] === 'number' ? v['port'] : null },
        };
        break;
      default:
        // An expression the model does not read, as a match (limit, quota, fib, xt …): undecidable.
        matches.push(() => null);
        continue;
    }
    break;
  }
  if (markSet)
    action = action.kind === 'continue' ? markSet : { kind: 'unknown', name: 'meta mark set, then a verdict' };
  return { text, matches, action };
}

/** One expression as `nft list ruleset` prints it, near enough to find the rule; JSON where it has no short form. */
function exprText(x: Json): string {
  if (typeof x === 'string' || typeof x === 'number') return String(x);
  if (Array.isArray(x)) return `{ ${x.map(exprText).join(', ')} }`;
  if (!isObj(x)) return JSON.stringify(x);
  const [k] = Object.keys(x);
  const v = k === undefined ? null : x[k];
  switch (k) {
    case 'payload':
      return isObj(v) ? `${String(v['protocol'])} ${String(v['field'])}` : JSON.stringify(x);
    case 'meta':
      return isObj(v) ? `meta ${String(v['key'])}` : JSON.stringify(x);
    case 'ct':
      return isObj(v) ? `ct ${String(v['key'])}` : JSON.stringify(x);
    case 'prefix':
      return isObj(v) ? `${String(v['addr'])}/${String(v['len'])}` : JSON.stringify(x);
    case 'range':
      return Array.isArray(v) ? v.map(exprText).join('-') : JSON.stringify(x);
    case 'set':
      return Array.isArray(v) ? `{ ${v.map(exprText).join(', ')} }` : JSON.stringify(x);
    case '&':
      return Array.isArray(v) ? v.map(exprText).join(' & ') : JSON.stringify(x);
    case 'match': {
      if (!isObj(v)) return JSON.stringify(x);
      const op = String(v['op'] ?? '==');
      return `${exprText(v['left'])} ${op === '==' || op === 'in' ? '' : `${op} `}${exprText(v['right'])}`;
    }
    case 'counter':
      return 'counter';
    case 'accept':
    case 'drop':
    case 'return':
    case 'reject':
    case 'masquerade':
      return k;
    case 'jump':
    case 'goto':
      return isObj(v) ? `${k} ${String(v['target'])}` : k;
    case 'snat':
    case 'dnat':
      return isObj(v)
        ? `${k} to ${String(v['addr'] ?? '')}${v['port'] !== undefined ? `:${String(v['port'])}` : ''}`
        : k;
    default:
      return JSON.stringify(x);
  }
}

export function ruleText(r: Obj): string {
  const expr = Array.isArray(r['expr']) ? (r['expr'] as Json[]) : [];
  return `nft ${String(r['family'])} ${String(r['table'])} ${String(r['chain'])} handle ${String(r['handle'])}: ${expr.map(exprText).join(' ')}`;
}

/**
 * The base chains of every native nftables table in `nft -j list ruleset`, except the tables iptables-nft
 * writes (`skipTables`, as `family name`): those are read from iptables-nft-save, whose text the model matches.
 */
export function nftBaseChains(json: string, skipTables: ReadonlySet<string>): BaseChain[] {
  const doc = JSON.parse(json) as Json;
  const items = isObj(doc) && Array.isArray(doc['nftables']) ? (doc['nftables'] as Json[]) : [];
  const sets = new Map<string, Map<string, Json[]>>();
  const chainMeta = new Map<string, Obj>();
  const rules = new Map<string, { rule: NfRule; chain: string }[]>();
  const key = (o: Obj) => `${String(o['family'])} ${String(o['table'])}`;
  for (const it of items) {
    if (!isObj(it)) continue;
    if (isObj(it['set']) || isObj(it['map'])) {
      const s = (it['set'] ?? it['map']) as Obj;
      const k = `${String(s['family'])} ${String(s['table'])}`;
      if (!sets.has(k)) sets.set(k, new Map());
      sets.get(k)!.set(String(s['name']), Array.isArray(s['elem']) ? (s['elem'] as Json[]) : []);
    }
  }
  for (const it of items) {
    if (!isObj(it)) continue;
    const c = it['chain'];
    if (isObj(c)) chainMeta.set(`${key(c)} ${String(c['name'])}`, c);
    const r = it['rule'];
    if (isObj(r) && Array.isArray(r['expr'])) {
      const k = key(r);
      if (skipTables.has(k)) continue;
      const list = rules.get(k) ?? [];
      rules.set(k, list);
      list.push({
        chain: String(r['chain']),
        rule: compileRule(r['expr'] as Json[], ruleText(r), String(r['family']), sets.get(k) ?? new Map()),
      });
    }
  }
  const out: BaseChain[] = [];
  const tables = new Map<string, Map<string, NfChain>>();
  for (const [id, meta] of chainMeta) {
    const tk = key(meta);
    if (skipTables.has(tk)) continue;
    const name = String(meta['name']);
    const own = (rules.get(tk) ?? []).filter((r) => r.chain === name).map((r) => r.rule);
    const hook = typeof meta['hook'] === 'string' && HOOKS.has(meta['hook']) ? (meta['hook'] as Hook) : null;
    const chain: NfChain = { name, rules: own, policy: hook ? (meta['policy'] === 'drop' ? 'drop' : 'accept') : null };
    if (!tables.has(tk)) tables.set(tk, new Map());
    tables.get(tk)!.set(name, chain);
    void id;
  }
  for (const meta of chainMeta.values()) {
    const tk = key(meta);
    if (skipTables.has(tk)) continue;
    const hook = meta['hook'];
    const family = String(meta['family']);
    if (typeof hook !== 'string' || !HOOKS.has(hook)) continue;
    if (family !== 'ip' && family !== 'ip6' && family !== 'inet') continue;
    const chains = tables.get(tk)!;
    const chain = chains.get(String(meta['name']))!;
    const type = meta['type'] === 'nat' ? 'nat' : meta['type'] === 'route' ? 'route' : 'filter';
    const fams: NfFamily[] = family === 'inet' ? ['inet', 'inet6'] : [ipFamilyOf(family, family)!];
    for (const fam of fams)
      out.push({
        writer: 'nft',
        family: fam,
        table: `${family} ${String(meta['table'])}`,
        hook: hook as Hook,
        priority: Number(meta['prio'] ?? 0),
        type,
        chain,
        chains,
      });
  }
  return out;
}
