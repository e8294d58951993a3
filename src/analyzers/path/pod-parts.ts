/**
 * The parts of a peer's podCIDR the node tells apart. The walk follows one pod address per peer, which is
 * exact while no prefix the node's routes, rules or `ip rule` selectors hold lies inside the podCIDR. A prefix
 * that does (a /25 route taking half of a /24) splits it: the addresses it holds may take another route, rule
 * or verdict than the rest. Every region between such prefixes' bounds is one address class; one pod address
 * stands for each, so the walk sees every distinct FIB and netfilter answer over the podCIDR.
 */
import { type Prefix, addressText as text } from '../../net/cidr.js';
import { type Addr, inPrefix, parseAddrPrefix } from '../fib/addr.js';

export interface PodPart {
  /** The pod address the walk follows for this part. */
  readonly addr: string;
  /** The part of the podCIDR it stands for, e.g. `10.244.3.128/25` or `10.244.3.0/24 outside 10.244.3.128/25`. */
  readonly label: string;
  /** The address (first or last usable) whose collected `ip route get` answer holds for this part; null: none. */
  readonly answerFor: string | null;
}

const size = (p: Addr): bigint => 1n << BigInt(p.bits - p.length);
const prefixText = (p: Addr): string => `${text(p.value, p.bits)}/${p.length}`;
const inside = (outer: Addr, inner: Addr): boolean => inner.length > outer.length && inPrefix(outer, inner);

/**
 * One part per address class of `theirs` under `inner` (the node's splitting prefixes that lie inside it, at
 * least one). Each class is a run of addresses between the prefixes' bounds, so each starts at the podCIDR's
 * pod address or at a bound: those are the candidates, one kept per set of prefixes holding it. The podCIDR's
 * network, its first address (the peer's cni0) and its last are no pod's and are never candidates.
 */
export function podParts(theirs: Prefix, inner: readonly Addr[], pod: string): PodPart[] {
  const whole = parseAddrPrefix(theirs.text, theirs.family);
  const bits = theirs.family === 'inet' ? 32 : 128;
  if (!whole || inner.length === 0) return [];
  const end = whole.value + size(whole) - 1n;
  const podValue = parseAddrPrefix(pod, theirs.family)?.value;
  const candidates: bigint[] = podValue === undefined ? [] : [podValue];
  for (const s of inner) candidates.push(s.value, s.value + size(s));
  const sigOf = (v: bigint): string => {
    const a: Addr = { bits: whole.bits, value: v, length: bits };
    return inner.map((s) => (inPrefix(s, a) ? '1' : '0')).join('');
  };
  const first = whole.value + 1n;
  const last = end - 1n;
  const parts: PodPart[] = [];
  const seen = new Set<string>();
  for (const v of candidates) {
    if (v <= first || v >= end) continue;
    const sig = sigOf(v);
    if (seen.has(sig)) continue;
    seen.add(sig);
    const a: Addr = { bits: whole.bits, value: v, length: bits };
    // The innermost splitting prefix that holds it names the part, less the prefixes inside that one.
    const holder = inner.filter((s) => inPrefix(s, a)).sort((x, y) => y.length - x.length)[0] ?? whole;
    const holes = inner.filter(
      (s) => inside(holder, s) && !inner.some((o) => o !== s && inside(holder, o) && inside(o, s)),
    );
    const label = `${holder === whole ? theirs.text : prefixText(holder)}${holes.length ? ` outside ${holes.map(prefixText).join(', ')}` : ''}`;
    parts.push({
      addr: text(v, bits),
      label,
      answerFor: sigOf(first) === sig ? text(first, bits) : sigOf(last) === sig ? text(last, bits) : null,
    });
  }
  return parts;
}
