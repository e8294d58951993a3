/** What decided a lookup, in the words of `ip rule` and `ip route`, for evidence and fixes. */
import type { RouteDecision } from '../../snapshot/types.js';
import { formatRoute } from '../format.js';
import type { FibAnswer } from './lookup.js';

/** `rule 100 (from all to 10.244.3.0/24 lookup 100), table 100, route blackhole 10.244.3.0/24 table 100`. */
export function describeWinner(a: FibAnswer): string {
  const parts: string[] = [];
  if (a.rule) parts.push(`rule ${a.rule.priority} (${a.rule.text})`);
  if (a.route) parts.push(`route ${formatRoute(a.route)}`);
  else if (a.type === 'none') parts.push('no route in any table the rules lead to');
  return parts.join(', ');
}

/** The kernel's answer as `ip route get` prints it, compactly. */
export function formatDecision(d: RouteDecision): string {
  const q = `ip route get ${d.dst}${d.src ? ` from ${d.src} iif ${d.iif ?? 'cni0'}` : ''}`;
  if (d.error !== null) return `${q}: ${d.error}`;
  const parts = [
    d.type && d.type !== 'unicast' ? d.type : '',
    d.gateway ? `via ${d.gateway}` : '',
    d.dev ? `dev ${d.dev}` : '',
  ];
  if (d.table && d.table !== 'main') parts.push(`table ${d.table}`);
  if (d.prefsrc) parts.push(`src ${d.prefsrc}`);
  return `${q}: ${parts.filter(Boolean).join(' ')}`;
}

/** A model answer in the compact form of a kernel answer, so both compare field by field. */
export function decisionOf(a: FibAnswer, q: Pick<RouteDecision, 'dst' | 'as' | 'src'>): RouteDecision {
  const r = a.route;
  // Fields written out rather than spread from q: route-decision makes millions of these at 1,000 nodes, and
  // the spread measured 10 µs each.
  const { dst, as, src } = q;
  if (a.error !== null)
    return { dst, as, src, type: null, dev: null, gateway: null, table: null, prefsrc: null, error: a.error };
  return {
    dst,
    as,
    src,
    type: a.type,
    // The kernel sends what it delivers locally through lo.
    dev: a.type === 'local' ? 'lo' : (r?.dev ?? null),
    gateway: r?.gateway ?? null,
    table: a.table,
    prefsrc: r?.prefsrc ?? null,
    error: null,
  };
}
