/**
 * An `ip rule` entry read back into the selectors and action the kernel matches
 * (net/core/fib_rules.c, fib_rule_match; net/ipv4/fib_rules.c, fib4_rule_match). The
 * collectors keep a rule as the text `ip rule` prints after the priority (rebuilt from the
 * JSON fields when collected as JSON), so one reader serves both forms.
 */
import { type Addr, parseAddrPrefix } from './addr.js';

export type RuleAction =
  | { readonly kind: 'lookup'; readonly table: string }
  | { readonly kind: 'goto'; readonly target: number }
  | { readonly kind: 'nop' }
  | { readonly kind: 'blackhole' | 'unreachable' | 'prohibit' }
  /**
   * Any other action (`throw`, the deprecated `nat`/`masquerade`, a number): the kernel's rule action
   * (fib4_rule_action, fib6_rule_action) ends the lookup with EINVAL, as a blackhole rule does.
   */
  | { readonly kind: 'other' };

export interface FibRule {
  readonly priority: number;
  /** The rule as `ip rule` prints it, for evidence. */
  readonly text: string;
  /** The rule's selectors and action as `ip rule add|del` takes them (see {@link ruleSpec}), for fixes. */
  readonly spec: string;
  readonly not: boolean;
  readonly from: Addr | null;
  readonly to: Addr | null;
  /** `to` as printed, for fixes. */
  readonly toText: string | null;
  readonly iif: string | null;
  readonly oif: string | null;
  readonly fwmark: number;
  readonly fwmask: number;
  readonly tos: number | null;
  readonly ipproto: string | null;
  readonly sport: readonly [number, number] | null;
  readonly dport: readonly [number, number] | null;
  readonly uidrange: readonly [number, number] | null;
  readonly suppressPrefixlength: number | null;
  readonly action: RuleAction;
  /** Selectors this model does not evaluate (l3mdev, realms, dsfield, …): an answer through it is a guess. */
  readonly unmodelled: readonly string[];
}

/** iproute2's reserved table numbers, so `lookup 255` and `table local` name the same table. */
export function tableName(t: string): string {
  switch (t) {
    case '255':
      return 'local';
    case '254':
      return 'main';
    case '253':
      return 'default';
    default:
      return t;
  }
}

const num = (s: string | undefined): number | null => {
  if (s === undefined) return null;
  const v = s.startsWith('0x') ? Number.parseInt(s, 16) : Number(s);
  return Number.isFinite(v) ? v : null;
};

function range(s: string | undefined): readonly [number, number] | null {
  if (s === undefined) return null;
  const [a, b] = s.split('-');
  const lo = num(a);
  const hi = b === undefined ? lo : num(b);
  return lo === null || hi === null ? null : [lo, hi];
}

/**
 * What `ip rule` prints, as `ip rule add|del` takes it back: without the state iproute2 appends
 * (`iif cni0 [detached]` when the device is absent, `goto 95 [unresolved]` when no rule has that
 * priority), which `ip rule del` rejects as a garbage argument, and with an l3mdev rule's printed
 * `lookup [l3mdev-table]` as the `l3mdev` it was added with.
 */
export function ruleSpec(text: string): string {
  return text
    .replace(/\[(detached|unresolved)\]/g, '')
    .replace(/\blookup \[l3mdev-table\]/g, 'l3mdev')
    .trim()
    .split(/\s+/)
    .join(' ');
}

/** Reads one rule; every rule keeps its place, since a `goto` may target any of them. */
export function parseRule(priority: number, text: string, family: 'inet' | 'inet6'): FibRule {
  const t = text
    .replace(/\[(detached|unresolved)\]/g, '')
    .trim()
    .split(/\s+/);
  let not = false;
  let from: Addr | null = null;
  let to: Addr | null = null;
  let toText: string | null = null;
  let iif: string | null = null;
  let oif: string | null = null;
  let fwmark = 0;
  let fwmask = 0;
  let tos: number | null = null;
  let ipproto: string | null = null;
  let sport: FibRule['sport'] = null;
  let dport: FibRule['dport'] = null;
  let uidrange: FibRule['uidrange'] = null;
  let suppress: number | null = null;
  let action: RuleAction | null = null;
  const unmodelled: string[] = [];
  for (let i = 0; i < t.length; i++) {
    const w = t[i];
    const v = t[i + 1];
    switch (w) {
      case 'not':
        not = true;
        break;
      case 'from':
        if (v !== 'all') from = v ? parseAddrPrefix(v, family) : null;
        i++;
        break;
      case 'to':
        if (v !== 'all') {
          to = v ? parseAddrPrefix(v, family) : null;
          toText = v ?? null;
        }
        i++;
        break;
      case 'iif':
        iif = v ?? null;
        i++;
        break;
      case 'oif':
        oif = v ?? null;
        i++;
        break;
      case 'fwmark': {
        const [m, mask] = (v ?? '').split('/');
        fwmark = num(m) ?? 0;
        // The kernel: a mark without a mask matches all 32 bits; mark 0 without a mask matches anything.
        fwmask = mask !== undefined ? (num(mask) ?? 0) : fwmark !== 0 ? 0xffffffff : 0;
        i++;
        break;
      }
      case 'tos':
      case 'dsfield':
        tos = num(v) ?? null;
        i++;
        break;
      case 'ipproto':
        ipproto = v ?? null;
        i++;
        break;
      case 'sport':
      case 'dport':
        // A masked port (`sport 0x10/0xfff0`) is not a range: left to the caller as unmodelled.
        if (v?.includes('/')) unmodelled.push(`${w} ${v}`);
        else if (w === 'sport') sport = range(v);
        else dport = range(v);
        i++;
        break;
      case 'uidrange':
        uidrange = range(v);
        i++;
        break;
      case 'lookup':
      case 'table':
        // An l3mdev rule prints `lookup [l3mdev-table]`: it matches only packets in a VRF, which this model does not know.
        if (v === '[l3mdev-table]') unmodelled.push('l3mdev');
        action = { kind: 'lookup', table: tableName(v ?? 'main') };
        i++;
        break;
      case 'goto':
        action = { kind: 'goto', target: num(v) ?? -1 };
        i++;
        break;
      case 'nop':
        action = { kind: 'nop' };
        break;
      case 'blackhole':
      case 'unreachable':
      case 'prohibit':
        action = { kind: w };
        break;
      // NAT prints `lookup main masquerade` or `map-to <gw>`: the action is NAT, not the lookup.
      case 'throw':
      case 'masquerade':
        action = { kind: 'other' };
        break;
      case 'map-to':
        action = { kind: 'other' };
        i++;
        break;
      case 'suppress_prefixlength':
        suppress = num(v);
        i++;
        break;
      case 'pref':
      case 'priority':
      case 'proto':
      case 'protocol':
        i++;
        break;
      case 'l3mdev':
        unmodelled.push(w);
        break;
      case 'realms':
      case 'suppress_ifgroup':
      case 'tun_id':
      case 'flowlabel':
      case 'dscp':
        unmodelled.push(`${w} ${v ?? ''}`.trim());
        i++;
        break;
      default:
        if (w) unmodelled.push(w);
    }
  }
  if (!action) {
    action = { kind: 'other' };
    unmodelled.push(`rule ${priority} without a known action`);
  }
  return {
    priority,
    text,
    spec: ruleSpec(text),
    not,
    from,
    to,
    toText,
    iif,
    oif,
    fwmark,
    fwmask,
    tos,
    ipproto,
    sport,
    dport,
    uidrange,
    suppressPrefixlength: suppress,
    action,
    unmodelled,
  };
}
