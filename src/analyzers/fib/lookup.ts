/**
 * The kernel's route lookup replayed on collected `ip rule` and `ip route show table all`:
 * rules in priority order with their selectors, then longest prefix and lowest metric in the
 * table a rule names, with the route types that end a lookup (blackhole, unreachable,
 * prohibit) or pass it on to the next rule (throw). Pure, so doctor and trace use it on a
 * saved snapshot; test/analyzers/fib-kernel.test.ts proves it against the real kernel.
 *
 * Follows net/core/fib_rules.c (fib_rules_lookup), net/ipv4/fib_rules.c and fib_trie.c
 * (fib_table_lookup), including the IPv4 shortcut the kernel takes while no rule was ever
 * added (local and main merged into one trie, then default).
 */
import type { Route, RoutingRule } from '../../snapshot/types.js';
import { type Addr, inPrefix, parseAddrPrefix } from './addr.js';
import { type FibRule, parseRule, tableName } from './rule.js';

export interface FibState {
  readonly rules: readonly RoutingRule[];
  readonly routes: readonly Route[];
  /**
   * Compiled rules and tables per family, filled on first lookup: owned by this state, so it lives exactly as
   * long as the caller keeps the state (one node's analysis), never in module state.
   */
  readonly compiled?: Map<string, Compiled>;
  /**
   * Route destinations parsed once for the whole analysis (the cluster's podCIDRs, as canonical text): every node
   * routes to every peer's podCIDR, so on 1,000 nodes each text would otherwise be parsed 999 times.
   */
  readonly known?: ReadonlyMap<string, Addr>;
}

/** The packet's fields a lookup reads, as `ip route get` takes them. */
export interface FibPacket {
  readonly dst: string;
  readonly src?: string | null;
  /** Input device of forwarded traffic; absent for locally generated packets (rules then match `iif lo`). */
  readonly iif?: string | null;
  readonly oif?: string | null;
  readonly mark?: number;
  readonly tos?: number;
  readonly ipproto?: string | null;
  readonly sport?: number;
  readonly dport?: number;
  readonly uid?: number;
}

/**
 * What decided the packet: the rule whose action ended the lookup, the table, the route and
 * its type. `type` is the route's type (unicast, local, broadcast, …) or how the lookup
 * failed: blackhole, unreachable, prohibit (a route or a rule of that type) or `none` (no
 * rule gave a route). `error` is the message `ip route get` prints then.
 */
export interface FibAnswer {
  readonly type: string;
  readonly rule: FibRule | null;
  readonly table: string | null;
  readonly route: Route | null;
  readonly error: string | null;
  /** Selectors on rules the lookup passed that the model cannot evaluate: the answer may differ. */
  readonly unmodelled: readonly string[];
}

export const ERRORS = {
  blackhole: 'Invalid argument',
  unreachable: 'No route to host',
  prohibit: 'Permission denied',
  none: 'Network is unreachable',
  'martian-source': 'Invalid argument',
} as const;

interface Compiled {
  readonly family: 'inet' | 'inet6';
  readonly rules: readonly FibRule[];
  /** Each table's routes as listed; sorted and indexed on first lookup (table()). */
  readonly lists: ReadonlyMap<string, readonly CompiledRoute[]>;
  readonly indexed: Map<string, Table>;
  /** No custom rule: IPv4 merges local and main (fib_has_custom_rules is false). */
  readonly merged: boolean;
  readonly localMain: Table;
  /** A local route someone added (not the kernel's own for an address): source checks take the slow path. */
  readonly customLocal: boolean;
  readonly interfaceAddresses: ReadonlySet<string>;
}

/**
 * A table indexed like the kernel's trie: by prefix length (longest first), then by network,
 * so a lookup costs one map probe per distinct length instead of a scan of every route. On one
 * prefix the routes keep the order the kernel tries them in.
 */
interface Table {
  readonly byLength: readonly {
    readonly length: number;
    readonly bits: number;
    readonly routes: Map<bigint, CompiledRoute[]>;
  }[];
}

function indexTable(sorted: readonly CompiledRoute[]): Table {
  const byLength: { length: number; bits: number; routes: Map<bigint, CompiledRoute[]> }[] = [];
  for (const r of sorted) {
    let level = byLength.at(-1);
    if (!level || level.length !== r.prefix.length)
      byLength.push((level = { length: r.prefix.length, bits: r.prefix.bits, routes: new Map() }));
    const list = level.routes.get(r.prefix.value);
    if (list) list.push(r);
    else level.routes.set(r.prefix.value, [r]);
  }
  return { byLength };
}

interface CompiledRoute {
  readonly prefix: Addr;
  readonly route: Route;
  readonly metric: number;
  readonly order: number;
}

function compile(state: FibState, family: 'inet' | 'inet6'): Compiled {
  const hit = state.compiled?.get(family);
  if (hit) return hit;
  const rules = state.rules
    .filter((r) => r.family === family)
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.priority - b.r.priority || a.i - b.i)
    .map(({ r }) => parseRule(r.priority, r.text, family));
  const tables = new Map<string, CompiledRoute[]>();
  state.routes.forEach((route, order) => {
    if (route.family !== family || route.type === 'multicast') return;
    const hit = state.known?.get(route.dst);
    const prefix = hit && (hit.bits === 32) === (family === 'inet') ? hit : parseAddrPrefix(route.dst, family);
    if (!prefix) return;
    const t = tableName(route.table);
    let list = tables.get(t);
    if (!list) tables.set(t, (list = []));
    list.push({ prefix, route, metric: route.metric ?? 0, order });
  });
  const merged = family === 'inet' && isDefaultRuleSet(rules);
  const locals = state.routes.filter((r) => r.family === family && r.type === 'local');
  const customLocal = locals.some((r) => r.protocol !== 'kernel');
  const interfaceAddresses = new Set(
    locals.filter((r) => r.protocol === 'kernel' && r.prefsrc !== null).map((r) => r.dst.replace(/\/(32|128)$/, '')),
  );
  const localMain = indexTable(
    merged
      ? [...(tables.get('local') ?? []), ...(tables.get('main') ?? [])].sort(
          (a, b) =>
            b.prefix.length - a.prefix.length ||
            Number(tableName(a.route.table) !== 'local') - Number(tableName(b.route.table) !== 'local') ||
            a.metric - b.metric ||
            a.order - b.order,
        )
      : [],
  );
  // While merged, local and main are looked up only as localMain: indexing them again is wasted (every node's FIB).
  const c: Compiled = {
    family,
    rules,
    lists: tables,
    indexed: new Map(),
    merged,
    localMain,
    customLocal,
    interfaceAddresses,
  };
  state.compiled?.set(family, c);
  return c;
}

/** A table of the compiled state by name, indexed on first use; undefined when it holds no route. */
function table(c: Compiled, name: string): Table | undefined {
  let t = c.indexed.get(name);
  if (t) return t;
  const list = c.lists.get(name);
  if (!list) return undefined;
  // Longest prefix first; on one prefix the lowest metric, then the kernel's own order (as listed).
  const sorted = [...list].sort(
    (a, b) => b.prefix.length - a.prefix.length || a.metric - b.metric || a.order - b.order,
  );
  c.indexed.set(name, (t = indexTable(sorted)));
  return t;
}

function isDefaultRuleSet(rules: readonly FibRule[]): boolean {
  const want: [number, string][] = [
    [0, 'local'],
    [32766, 'main'],
    [32767, 'default'],
  ];
  return (
    rules.length === 3 &&
    rules.every((r, i) => {
      const [prio, table] = want[i]!;
      return (
        r.priority === prio &&
        r.action.kind === 'lookup' &&
        r.action.table === table &&
        r.from === null &&
        r.to === null &&
        r.iif === null &&
        r.oif === null &&
        r.fwmask === 0 &&
        !r.not
      );
    })
  );
}

const PROTO: Readonly<Record<string, string>> = { '1': 'icmp', '6': 'tcp', '17': 'udp', '58': 'ipv6-icmp' };
const protoName = (p: string): string => PROTO[p] ?? p;

function ruleMatches(rule: FibRule, pkt: FibPacket, dst: Addr, src: Addr | null): boolean {
  const m = (() => {
    if (rule.iif !== null && rule.iif !== (pkt.iif ?? 'lo')) return false;
    if (rule.oif !== null && rule.oif !== (pkt.oif ?? null)) return false;
    if (((rule.fwmark ^ (pkt.mark ?? 0)) & rule.fwmask) >>> 0 !== 0) return false;
    const uid = pkt.uid ?? 0;
    if (rule.uidrange && (uid < rule.uidrange[0] || uid > rule.uidrange[1])) return false;
    if (rule.ipproto !== null && protoName(rule.ipproto) !== protoName(pkt.ipproto ?? '')) return false;
    if (rule.sport && !inRange(rule.sport, pkt.sport ?? 0)) return false;
    if (rule.dport && !inRange(rule.dport, pkt.dport ?? 0)) return false;
    // IPv6 (fib6_rule_match): a `from` rule never matches a flow without a source address.
    if (rule.from && (src === null ? rule.from.length > 0 : !inPrefix(rule.from, src))) return false;
    if (rule.to && !inPrefix(rule.to, dst)) return false;
    if (rule.tos !== null && rule.tos !== 0 && rule.tos !== (pkt.tos ?? 0)) return false;
    return true;
  })();
  return rule.not ? !m : m;
}

const inRange = (r: readonly [number, number], v: number): boolean => v >= r[0] && v <= r[1];

type TableResult =
  | { readonly kind: 'route'; readonly r: CompiledRoute }
  | { readonly kind: 'error'; readonly r: CompiledRoute; readonly type: 'blackhole' | 'unreachable' | 'prohibit' }
  | { readonly kind: 'again'; readonly r: CompiledRoute | null };

function tableLookup(table: Table | undefined, dst: Addr, oif: string | null): TableResult {
  for (const level of table?.byLength ?? []) {
    const shift = BigInt(level.bits - level.length);
    const key = level.length === 0 ? 0n : (dst.value >> shift) << shift;
    for (const r of level.routes.get(key) ?? []) {
      const t = r.route.type;
      if (t === 'throw') return { kind: 'again', r };
      if (t === 'blackhole' || t === 'unreachable' || t === 'prohibit') return { kind: 'error', r, type: t };
      // A route out of another device than the one asked for does not serve; the lookup backtracks.
      if (oif !== null && r.route.dev !== oif) continue;
      return { kind: 'route', r };
    }
  }
  return { kind: 'again', r: null };
}

/**
 * IPv6 (net/ipv6/route.c, fib6_table_lookup, rt6_select): the longest prefix whose routes hold
 * one the packet may take, else the next shorter one (fib6_backtrack). On one prefix the
 * routes of the lowest metric compete: one out of `dev` (the output device asked for, or the
 * input device of forwarded traffic) scores above any other, and the first of the best score
 * wins. `strict` (a link-local or loopback destination, or an output device without a source)
 * admits only routes out of `dev`, then from any metric. Error and throw routes are out of lo.
 */
function tableLookup6(table: Table | undefined, dst: Addr, dev: string | null, strict: boolean): TableResult {
  for (const level of table?.byLength ?? []) {
    const shift = BigInt(level.bits - level.length);
    const key = level.length === 0 ? 0n : (dst.value >> shift) << shift;
    const routes = level.routes.get(key);
    const r = routes ? select6(routes, dev, strict) : null;
    if (!r) continue;
    const t = r.route.type;
    if (t === 'throw') return { kind: 'again', r };
    if (t === 'blackhole' || t === 'unreachable' || t === 'prohibit') return { kind: 'error', r, type: t };
    return { kind: 'route', r };
  }
  return { kind: 'again', r: null };
}

function select6(routes: readonly CompiledRoute[], dev: string | null, strict: boolean): CompiledRoute | null {
  const score = (r: CompiledRoute): number => (dev === null || (r.route.dev ?? 'lo') === dev ? 2 : strict ? -1 : 0);
  let best: CompiledRoute | null = null;
  let bestScore = -1;
  let i = 0;
  const lowest = routes[0]?.metric;
  for (; i < routes.length && routes[i]!.metric === lowest; i++) {
    const s = score(routes[i]!);
    if (s > bestScore) [best, bestScore] = [routes[i]!, s];
  }
  // Nothing of the lowest metric may serve: every other route of the prefix, whatever its metric.
  for (; best === null && i < routes.length; i++) {
    const s = score(routes[i]!);
    if (s > bestScore) [best, bestScore] = [routes[i]!, s];
  }
  return best;
}

/** rt6_need_strict: link-local, loopback (and multicast) destinations bind the lookup to the device. */
function needStrict6(dst: Addr): boolean {
  return dst.value >> 118n === 0x3fan || dst.value === 1n || dst.value >> 120n === 0xffn;
}

const answer = (
  type: string,
  rule: FibRule | null,
  table: string | null,
  route: Route | null,
  unmodelled: readonly string[],
): FibAnswer => ({
  type,
  rule,
  table,
  route,
  error: type in ERRORS ? ERRORS[type as keyof typeof ERRORS] : null,
  unmodelled,
});

/**
 * The kernel's answer to `ip route get <dst> [from <src>] [iif <dev>] [oif <dev>] [mark <m>]`.
 * With `iif` (forwarded traffic) the source is validated as ip_route_input does with
 * rp_filter off: a source that resolves to a local or broadcast route is a martian.
 */
export function lookup(state: FibState, pkt: FibPacket): FibAnswer {
  const a = fibLookup(state, pkt);
  if (!pkt.iif || a.route === null || a.error !== null || !pkt.src) return a;
  if (a.type !== 'unicast' && a.type !== 'local' && a.type !== 'broadcast') return a;
  const family = pkt.dst.includes(':') ? 'inet6' : 'inet';
  if (family !== 'inet') return a;
  const c = compile(state, family);
  const unspecified = '0.0.0.0';
  // fib_validate_source: the reverse lookup enters from the route's device when forwarding, from lo otherwise.
  const fullCheck = !c.merged || c.customLocal;
  if (!fullCheck) {
    return c.interfaceAddresses.has(pkt.src) ? { ...a, type: 'martian-source', error: ERRORS['martian-source'] } : a;
  }
  const back = fibLookup(state, {
    dst: pkt.src,
    src: a.type === 'broadcast' ? unspecified : pkt.dst,
    iif: a.type === 'unicast' ? (a.route.dev ?? 'lo') : 'lo',
  });
  if (back.error === null && back.type !== 'unicast')
    return { ...a, type: 'martian-source', error: ERRORS['martian-source'] };
  return a;
}

function fibLookup(state: FibState, pkt: FibPacket): FibAnswer {
  const family = pkt.dst.includes(':') ? 'inet6' : 'inet';
  const c = compile(state, family);
  const dst = parseAddrPrefix(pkt.dst, family);
  const unspecified = family === 'inet' ? '0.0.0.0' : '::';
  const parsedSrc = parseAddrPrefix(pkt.src ?? unspecified, family);
  if (!dst || !parsedSrc) return answer('none', null, null, null, []);
  // IPv6 keeps "no source" apart from `::` (RT6_LOOKUP_F_HAS_SADDR); IPv4 matches 0.0.0.0.
  const src = family === 'inet6' && parsedSrc.value === 0n ? null : parsedSrc;
  const oif = pkt.oif ?? null;
  // IPv6 scores routes by the output device, or by the input device for forwarded traffic (ip6_pol_route_input).
  const dev6 = pkt.iif ? pkt.iif : oif;
  const strict6 = family === 'inet6' && (needStrict6(dst) || (!pkt.iif && oif !== null && src === null));
  const inTable = (t: Table | undefined): TableResult =>
    family === 'inet6' ? tableLookup6(t, dst, dev6, strict6) : tableLookup(t, dst, oif);
  if (c.merged) {
    // Without custom rules the kernel looks in local+main as one trie (on one prefix the local
    // table's entries come first), then in default when that found nothing or hit a throw.
    const res = tableLookup(c.localMain, dst, oif);
    if (res.kind !== 'again' || !c.lists.has('default')) {
      const fromLocal = res.r !== null && tableName(res.r.route.table) === 'local';
      return fromTable(res, c.rules[fromLocal ? 0 : 1] ?? null, [], 'main');
    }
    return fromTable(tableLookup(table(c, 'default'), dst, oif), c.rules[2] ?? null, [], 'default');
  }
  const unmodelled: string[] = [];
  for (let i = 0; i < c.rules.length; i++) {
    const rule = c.rules[i]!;
    if (!ruleMatches(rule, pkt, dst, src)) continue;
    unmodelled.push(...rule.unmodelled);
    if (rule.action.kind === 'goto') {
      const target = rule.action.target;
      const j = c.rules.findIndex((r) => r.priority === target);
      // An unresolved goto (no rule with that priority) is passed over.
      if (j <= i) continue;
      i = j - 1;
      continue;
    }
    if (rule.action.kind === 'nop') continue;
    if (rule.action.kind !== 'lookup') {
      // Any action the kernel does not know as a rule's (throw, nat) ends the lookup as a blackhole does.
      const a = answer(rule.action.kind === 'other' ? 'blackhole' : rule.action.kind, rule, null, null, unmodelled);
      // A rule's unreachable is ENETUNREACH; a route's unreachable is EHOSTUNREACH.
      return rule.action.kind === 'unreachable' ? { ...a, error: ERRORS.none } : a;
    }
    const res = inTable(table(c, rule.action.table));
    if (res.kind === 'again') continue;
    if (
      res.kind === 'route' &&
      rule.suppressPrefixlength !== null &&
      rule.suppressPrefixlength >= 0 &&
      res.r.prefix.length <= rule.suppressPrefixlength
    )
      continue;
    return fromTable(res, rule, unmodelled);
  }
  return answer('none', null, null, null, unmodelled);
}

/** `reported`: the table the kernel names (local and main are one table while merged). */
function fromTable(
  res: TableResult,
  rule: FibRule | null,
  unmodelled: readonly string[],
  reported?: string,
): FibAnswer {
  if (res.kind === 'again') return answer('none', null, null, null, unmodelled);
  const table = reported ?? tableName(res.r.route.table);
  if (res.kind === 'error') return answer(res.type, rule, table, res.r.route, unmodelled);
  return answer(res.r.route.type || 'unicast', rule, table, res.r.route, unmodelled);
}
