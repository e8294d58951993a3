/**
 * iptables-save rules (legacy or nft backend: the same text) compiled into the netfilter IR.
 * Each match module the kernel would consult becomes a function of the packet; a module or
 * option the model cannot decide offline (set, recent, limit, owner, …) becomes a match that
 * answers null, so the evaluator tries both outcomes instead of guessing.
 */
import type { IptablesDump } from '../../snapshot/types.js';
import { ifaceMatches, markMatcher, PORT_PROTOS, parsePortRanges, portIn, prefixMatcher, protoName } from './match.js';
import type { Action, BaseChain, Hook, MatchFn, NfChain, NfFamily, NfRule, Writer } from './types.js';

/** Splits a rule into words, keeping quoted strings whole. */
function words(spec: string): string[] {
  return [...spec.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

const unknown = (): MatchFn => () => null;
const not =
  (f: MatchFn, negated: boolean): MatchFn =>
  (p, e) => {
    const r = f(p, e);
    return r === null ? null : r !== negated;
  };

/** Targets that neither decide nor change what later rules see. */
// NOTRACK and CT are not here: an untracked packet skips NAT, which the model does not follow.
const NOOP_TARGETS: ReadonlySet<string> = new Set(['LOG', 'NFLOG', 'ULOG', 'TRACE', 'TCPMSS', 'CHECKSUM', 'AUDIT']);

function stateMatcher(list: string): MatchFn {
  const states = list.split(',').map((s) => s.toUpperCase());
  // SNAT/DNAT are conntrack "virtual" states, true only once a NAT mapping exists: not decidable here.
  if (states.some((s) => s === 'SNAT' || s === 'DNAT')) return unknown();
  return (p) => states.includes(p.ctState ?? 'NEW');
}

interface Cursor {
  readonly w: readonly string[];
  i: number;
}

/** The words that follow an option up to the next option: its arguments. */
function argsOf(c: Cursor): string[] {
  const out: string[] = [];
  while (c.i + 1 < c.w.length && !c.w[c.i + 1]!.startsWith('-') && c.w[c.i + 1] !== '!') out.push(c.w[++c.i]!);
  return out;
}

function targetAction(target: string, opts: readonly string[], isGoto: boolean, chains: ReadonlySet<string>): Action {
  if (chains.has(target)) return { kind: isGoto ? 'goto' : 'jump', chain: target };
  const opt = (name: string): string | null => {
    const i = opts.indexOf(name);
    return i >= 0 ? (opts[i + 1] ?? null) : null;
  };
  switch (target) {
    case 'ACCEPT':
      return { kind: 'accept' };
    case 'DROP':
      return { kind: 'drop' };
    case 'REJECT':
      return { kind: 'reject' };
    case 'RETURN':
      return { kind: 'return' };
    case 'MARK':
      return markAction(opts) ?? { kind: 'unknown', name: `MARK ${opts.join(' ')}` };
    case 'MASQUERADE':
      return { kind: 'nat', nat: { kind: 'masquerade' } };
    case 'SNAT':
    case 'DNAT': {
      const to = opt(target === 'SNAT' ? '--to-source' : '--to-destination');
      const m = to ? /^\[?([0-9a-fA-F.:]+?)\]?(?::(\d+)(?:-\d+)?)?$/.exec(to) : null;
      if (!m) return { kind: 'unknown', name: `${target} ${opts.join(' ')}` };
      // A range of addresses or ports: which one the kernel picks is not decidable; the first is the model's.
      return {
        kind: 'nat',
        nat: {
          kind: target === 'SNAT' ? 'snat' : 'dnat',
          addr: m[1]!.split('-')[0]!,
          port: m[2] ? Number(m[2]) : null,
        },
      };
    }
    case 'REDIRECT': {
      const p = opt('--to-ports');
      return { kind: 'nat', nat: { kind: 'redirect', port: p ? Number(p.split('-')[0]) : null } };
    }
    case 'CONNMARK':
      // Saving the packet's mark changes nothing a later rule of this packet reads; restoring it does.
      return opts.includes('--save-mark') || opts.includes('--set-xmark') || opts.includes('--set-mark')
        ? { kind: 'continue' }
        : { kind: 'unknown', name: `CONNMARK ${opts.join(' ')}` };
    default:
      if (NOOP_TARGETS.has(target)) return { kind: 'continue' };
      return { kind: 'unknown', name: target };
  }
}

function markAction(opts: readonly string[]): Action | null {
  const [opt, val] = opts;
  if (!opt || !val) return null;
  const [v, m] = val.split('/');
  const value = Number(v) >>> 0;
  const mask = m === undefined ? 0xffffffff : Number(m) >>> 0;
  if (!Number.isFinite(value) || !Number.isFinite(mask)) return null;
  // xt_MARK: mark = (mark & ~mask) ^ value, the one form every variant reduces to.
  switch (opt) {
    case '--set-xmark':
      return { kind: 'mark', and: ~mask >>> 0, xor: value };
    case '--set-mark':
      return { kind: 'mark', and: ~mask >>> 0, xor: value & mask };
    case '--or-mark':
      return { kind: 'mark', and: ~value >>> 0, xor: value };
    case '--and-mark':
      return { kind: 'mark', and: value, xor: 0 };
    case '--xor-mark':
      return { kind: 'mark', and: 0xffffffff, xor: value };
    default:
      return null;
  }
}

/** Compiles one `-A CHAIN spec` rule. */
export function compileIptablesRule(
  chain: string,
  spec: string,
  family: NfFamily,
  chains: ReadonlySet<string> = new Set(),
): NfRule {
  const c: Cursor = { w: words(spec), i: 0 };
  const matches: MatchFn[] = [];
  let module = '';
  let proto: string | null = null;
  let action: Action = { kind: 'continue' };
  for (; c.i < c.w.length; c.i++) {
    let negated = false;
    if (c.w[c.i] === '!') {
      negated = true;
      c.i++;
    }
    const opt = c.w[c.i] ?? '';
    if (opt === '-j' || opt === '--jump' || opt === '-g' || opt === '--goto') {
      const target = c.w[c.i + 1] ?? '';
      action = targetAction(target, c.w.slice(c.i + 2), opt === '-g' || opt === '--goto', chains);
      break;
    }
    if (opt === '-m' || opt === '--match') {
      module = c.w[++c.i] ?? '';
      continue;
    }
    const args = argsOf(c);
    const a0 = args[0] ?? '';
    switch (opt) {
      case '-s':
      case '--source':
      case '-d':
      case '--destination': {
        const m = prefixMatcher(a0, family);
        const src = opt === '-s' || opt === '--source';
        matches.push(m ? not((p) => m(src ? p.src : p.dst), negated) : unknown());
        continue;
      }
      case '-i':
      case '--in-interface':
        matches.push(not((p) => ifaceMatches(a0, p.iif), negated));
        continue;
      case '-o':
      case '--out-interface':
        matches.push(not((p) => ifaceMatches(a0, p.oif), negated));
        continue;
      case '-p':
      case '--protocol': {
        const name = protoName(a0);
        if (!negated) proto = name;
        matches.push(not((p) => name === 'all' || p.proto === name, negated));
        continue;
      }
      case '-f':
      case '--fragment':
        // The model's packet is never a second fragment.
        matches.push(() => negated);
        continue;
    }
    matches.push(moduleOption(module, opt, args, negated, proto));
  }
  return { text: `-A ${chain} ${spec}`.trimEnd(), matches, action };
}

function moduleOption(
  module: string,
  opt: string,
  args: readonly string[],
  negated: boolean,
  proto: string | null,
): MatchFn {
  const a0 = args[0] ?? '';
  if (opt === '--comment') return () => true;
  const ports = (which: 'sport' | 'dport' | 'any') => {
    const ranges = parsePortRanges(a0);
    if (!ranges) return unknown();
    return not((p) => {
      if (!PORT_PROTOS.has(p.proto)) return false;
      if (which === 'any') return portIn(ranges, p.sport) || portIn(ranges, p.dport);
      return portIn(ranges, which === 'sport' ? p.sport : p.dport);
    }, negated);
  };
  switch (opt) {
    case '--dport':
    case '--destination-port':
    case '--dports':
    case '--destination-ports':
      return ports('dport');
    case '--sport':
    case '--source-port':
    case '--sports':
    case '--source-ports':
      return ports('sport');
    case '--ports':
      return ports('any');
    case '--syn':
      // The first packet of a TCP flow is its SYN.
      return not((p) => p.proto === 'tcp', negated);
    case '--mark': {
      if (module !== 'mark') break;
      const m = markMatcher(a0);
      return m ? not(m, negated) : unknown();
    }
    case '--ctstate':
    case '--state':
      return not(stateMatcher(a0), negated);
    case '--physdev-in':
      return not((p) => (p.physIn ? ifaceMatches(a0, p.physIn) : false), negated);
    case '--physdev-out':
      return not((p) => (p.physOut ? ifaceMatches(a0, p.physOut) : false), negated);
    case '--physdev-is-in':
      return not((p) => !!p.physIn, negated);
    case '--physdev-is-out':
      return not((p) => !!p.physOut, negated);
    case '--physdev-is-bridged':
      return not((p) => !!p.physIn && !!p.physOut, negated);
    case '--src-type':
    case '--dst-type':
      return not(addrtype(a0, opt === '--src-type'), negated);
  }
  // An option of a protocol module for another protocol cannot match (iptables requires -p for it anyway).
  if ((module === 'tcp' || module === 'udp' || module === 'icmp' || module === 'icmp6') && proto && proto !== module)
    return () => false;
  return unknown();
}

function addrtype(types: string, src: boolean): MatchFn {
  const list = types.split(',').map((t) => t.toUpperCase());
  return (p, env) => {
    const local = env.localAddresses.has(src ? p.src : p.dst);
    if (list.includes('LOCAL') && local) return true;
    // A local address has type LOCAL and no other; any other address's type needs the route table.
    if (local) return false;
    if (list.length === 1 && list[0] === 'LOCAL') return false;
    return null;
  };
}

/** Legacy iptables' and iptables-nft's fixed priorities (include/uapi/linux/netfilter_ipv4.h, NF_IP_PRI_*). */
const PRIORITY: Readonly<Record<string, number>> = { raw: -300, mangle: -150, nat: -100, filter: 0, security: 50 };

const HOOK_OF: Readonly<Record<string, Hook>> = {
  PREROUTING: 'prerouting',
  INPUT: 'input',
  FORWARD: 'forward',
  OUTPUT: 'output',
  POSTROUTING: 'postrouting',
};

/** The base chains one iptables-save dump registers, with their priorities. */
export function iptablesBaseChains(dump: IptablesDump): BaseChain[] {
  const writer: Writer = dump.backend === 'legacy' ? 'iptables-legacy' : 'iptables-nft';
  const out: BaseChain[] = [];
  for (const [table, t] of Object.entries(dump.tables)) {
    const byChain = new Map<string, NfRule[]>();
    for (const name of Object.keys(t.chains)) byChain.set(name, []);
    const names = new Set(byChain.keys());
    for (const r of t.rules) {
      let list = byChain.get(r.chain);
      if (!list) byChain.set(r.chain, (list = []));
      list.push(compileIptablesRule(r.chain, r.spec, dump.family, names));
    }
    const chains = new Map<string, NfChain>();
    for (const [name, rules] of byChain) {
      const policy = t.chains[name]?.policy;
      chains.set(name, {
        name,
        rules,
        policy: name in HOOK_OF ? (policy === 'DROP' ? 'drop' : 'accept') : null,
      });
    }
    for (const [name, hook] of Object.entries(HOOK_OF)) {
      const chain = chains.get(name);
      if (!chain || !(table in PRIORITY)) continue;
      // nat's source-NAT hooks (POSTROUTING, INPUT) sit at +100, its destination-NAT hooks at -100.
      const priority = table === 'nat' && (hook === 'postrouting' || hook === 'input') ? 100 : PRIORITY[table]!;
      const type = table === 'nat' ? 'nat' : table === 'mangle' && hook === 'output' ? 'route' : 'filter';
      out.push({ writer, family: dump.family, table, hook, priority, type, chain, chains });
    }
  }
  return out;
}
