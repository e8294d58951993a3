/**
 * Walks a packet through the base chains registered on one hook, in priority order, the way
 * nf_hook_slow does: every chain runs until one drops; ACCEPT ends only its own chain; nat
 * chains run for a flow's first packet until one binds a mapping (nf_nat_inet_fn). A match the
 * model cannot decide is tried both ways: when both give the same verdict that verdict stands,
 * otherwise the hook's verdict is "unknown" naming the rule, never a guess.
 */
import type { BaseChain, HookChains, HookVerdict, Nat, NfChain, NfEnv, NfPacket, NfRule, RuleRef } from './types.js';

/** The model's packet after NAT reads the node's own addresses (MASQUERADE, REDIRECT). */
export interface EvalEnv extends NfEnv {
  /** The first address of the family on a device, as MASQUERADE and REDIRECT pick it; null when unknown. */
  primaryAddress(dev: string | null, family: NfPacket['family']): string | null;
}

/** Undecidable matches tried both ways, nested at most this deep (2^3 walks). */
const MAX_FORKS = 3;
/** A jump loop or a pathological ruleset ends the walk as unknown instead of hanging. */
const MAX_STEPS = 20_000;

class Undecided {
  constructor(readonly rule: NfRule) {}
}

type Oracle = ReadonlyMap<NfRule, boolean>;

type ChainOutcome =
  | { readonly kind: 'accept'; readonly packet: NfPacket; readonly nat: { nat: Nat; by: RuleRef } | null }
  | { readonly kind: 'drop'; readonly by: RuleRef }
  | { readonly kind: 'unknown'; readonly rule: string };

function ref(base: BaseChain, chain: string, rule: string): RuleRef {
  return { writer: base.writer, table: base.table, chain, rule };
}

function applyNat(p: NfPacket, nat: Nat, env: EvalEnv): NfPacket {
  switch (nat.kind) {
    case 'dnat':
      return { ...p, dst: nat.addr ?? p.dst, dport: nat.port ?? p.dport };
    case 'snat':
      return { ...p, src: nat.addr ?? p.src, sport: nat.port ?? p.sport };
    case 'masquerade':
      return { ...p, src: env.primaryAddress(p.oif, p.family) ?? p.src };
    case 'redirect':
      return { ...p, dst: env.primaryAddress(p.iif, p.family) ?? p.dst, dport: nat.port ?? p.dport };
  }
}

function matches(rule: NfRule, p: NfPacket, env: EvalEnv, oracle: Oracle): boolean {
  for (const m of rule.matches) {
    const r = m(p, env);
    if (r === false) return false;
    if (r === null) {
      const assumed = oracle.get(rule);
      if (assumed === undefined) throw new Undecided(rule);
      if (!assumed) return false;
    }
  }
  return true;
}

/** NF_IP_PRI_CONNTRACK: chains before it on PREROUTING and OUTPUT see a packet without a conntrack entry. */
const CONNTRACK_PRIORITY = -200;

function runChain(base: BaseChain, packet: NfPacket, env: EvalEnv, oracle: Oracle): ChainOutcome {
  const untracked = (base.hook === 'prerouting' || base.hook === 'output') && base.priority < CONNTRACK_PRIORITY;
  let p: NfPacket = { ...packet, ctState: untracked ? 'INVALID' : 'NEW' };
  const stack: { chain: NfChain; at: number }[] = [];
  let frame = { chain: base.chain, at: 0 };
  let steps = 0;
  for (;;) {
    if (++steps > MAX_STEPS || stack.length > 64)
      return { kind: 'unknown', rule: `${base.table} ${base.chain.name}: jumps loop or nest too deep` };
    const rule = frame.chain.rules[frame.at++];
    if (!rule) {
      const caller = stack.pop();
      if (caller) {
        frame = caller;
        continue;
      }
      return base.chain.policy === 'drop'
        ? { kind: 'drop', by: ref(base, base.chain.name, `policy DROP`) }
        : { kind: 'accept', packet: p, nat: null };
    }
    if (!matches(rule, p, env, oracle)) continue;
    const a = rule.action;
    switch (a.kind) {
      case 'continue':
        continue;
      case 'accept':
        return { kind: 'accept', packet: p, nat: null };
      case 'drop':
      case 'reject':
        return { kind: 'drop', by: ref(base, frame.chain.name, rule.text) };
      case 'return': {
        const caller = stack.pop();
        if (caller) frame = caller;
        else frame = { chain: base.chain, at: base.chain.rules.length };
        continue;
      }
      case 'mark':
        p = { ...p, mark: ((p.mark & a.and) ^ a.xor) >>> 0 };
        continue;
      case 'nat':
        if (base.type !== 'nat') return { kind: 'unknown', rule: rule.text };
        return {
          kind: 'accept',
          packet: applyNat(p, a.nat, env),
          nat: { nat: a.nat, by: ref(base, frame.chain.name, rule.text) },
        };
      case 'jump':
      case 'goto': {
        const target = base.chains.get(a.chain);
        if (!target) return { kind: 'unknown', rule: `${rule.text} (no chain ${a.chain})` };
        if (a.kind === 'jump') stack.push(frame);
        frame = { chain: target, at: 0 };
        continue;
      }
      case 'unknown':
        return { kind: 'unknown', rule: rule.text };
    }
  }
}

function runHook(bases: readonly BaseChain[], packet: NfPacket, env: EvalEnv, oracle: Oracle): HookVerdict {
  let p = packet;
  const nat: { nat: Nat; by: RuleRef }[] = [];
  let natBound = false;
  for (const base of bases) {
    if (base.type === 'nat' && natBound) continue;
    const out = runChain(base, p, env, oracle);
    if (out.kind !== 'accept') return out;
    p = out.packet;
    if (out.nat) {
      nat.push(out.nat);
      natBound = true;
    }
  }
  return { kind: 'accept', packet: p, nat };
}

function sameVerdict(a: HookVerdict, b: HookVerdict): boolean {
  if (a.kind === 'unknown' || b.kind === 'unknown')
    return a.kind === 'unknown' && b.kind === 'unknown' && a.rule === b.rule;
  if (a.kind === 'drop' || b.kind === 'drop') return a.kind === b.kind;
  const ap = a.packet;
  const bp = b.packet;
  return (
    ap.src === bp.src && ap.dst === bp.dst && ap.sport === bp.sport && ap.dport === bp.dport && ap.mark === bp.mark
  );
}

function withForks(
  bases: readonly BaseChain[],
  packet: NfPacket,
  env: EvalEnv,
  oracle: Map<NfRule, boolean>,
  depth: number,
): HookVerdict {
  try {
    return runHook(bases, packet, env, oracle);
  } catch (e) {
    if (!(e instanceof Undecided)) throw e;
    if (depth >= MAX_FORKS) return { kind: 'unknown', rule: e.rule.text };
    const yes = withForks(bases, packet, env, new Map(oracle).set(e.rule, true), depth + 1);
    const no = withForks(bases, packet, env, new Map(oracle).set(e.rule, false), depth + 1);
    return sameVerdict(yes, no) ? yes : { kind: 'unknown', rule: e.rule.text };
  }
}

/** Orders of a hook's chains tried beyond the sorted one; past this, only the sorted and the reversed ties. */
const MAX_ORDERS = 24;

/** A chain without rules whose policy accepts changes nothing, wherever it runs. */
const isNoop = (b: BaseChain): boolean => b.chain.rules.length === 0 && b.chain.policy !== 'drop';

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

/**
 * Every order the kernel may run the hook's chains in. Chains of equal priority run in the order they were
 * registered, the newest first (nf_hook_entries_grow inserts a hook before the first one of equal or higher
 * priority), and no dump says when a table was created: iptables-legacy's mangle and an iptables-nft or native
 * mangle chain at -150 may run either way. The sorted order comes first.
 */
export function hookChains(bases: readonly BaseChain[]): HookChains {
  const groups: BaseChain[][] = [];
  for (const b of bases) {
    if (isNoop(b)) continue;
    const last = groups.at(-1);
    if (last && last[0]!.priority === b.priority) last.push(b);
    else groups.push([b]);
  }
  const ties = groups.filter((g) => g.length > 1);
  if (ties.length === 0) return { chains: bases, orders: [bases], tie: '' };
  const tie = ties
    .map((g) => `${g.map((b) => `${b.writer} ${b.table} ${b.chain.name}`).join(', ')} share priority ${g[0]!.priority}`)
    .join('; ');
  const count = ties.reduce((n, g) => n * permutations(g).length, 1);
  let orders: BaseChain[][] = [[]];
  for (const g of groups) {
    const ways = g.length === 1 ? [g] : count <= MAX_ORDERS ? permutations(g) : [g, [...g].reverse()];
    orders = orders.flatMap((o) => ways.map((w) => [...o, ...w]));
  }
  return { chains: bases, orders: [bases, ...orders.slice(1)], tie };
}

/**
 * The verdict of every base chain `bases` holds for this packet (the caller passes one hook's, of the packet's
 * family). Where chains of equal priority give different verdicts in different orders, the verdict is unknown.
 */
export function evaluateHook(hook: HookChains, packet: NfPacket, env: EvalEnv): HookVerdict {
  const { orders, tie } = hook;
  const first = withForks(orders[0]!, packet, env, new Map(), 0);
  for (const order of orders.slice(1)) {
    const other = withForks(order, packet, env, new Map(), 0);
    if (!sameVerdict(first, other))
      return {
        kind: 'unknown',
        rule: `${tie}: the kernel runs them in the order they were registered, which no dump holds`,
      };
  }
  return first;
}
