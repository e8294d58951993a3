/** The kernel's lookups, replayed on collected tables: longest-prefix route match, neighbour, fdb. */

import { contains, familyOf, parsePrefix, sameIP } from '../../net/cidr.js';
import type { HostState, Route } from '../../snapshot/types.js';
import { ok } from '../model.js';

/**
 * The main-table route the kernel would pick for `ip`: the longest matching prefix, then the
 * lowest metric. Policy routing (`ip rule`) is not replayed; flannel installs everything in main.
 */
export function lookupRoute(host: HostState, ip: string): Route | null {
  const family = familyOf(ip);
  let best: { route: Route; length: number; metric: number } | null = null;
  for (const r of ok(host.routes) ?? []) {
    if (r.family !== family || (r.table !== 'main' && r.table !== '254')) continue;
    const p = parsePrefix(r.dst);
    if (!p || !contains(p, ip)) continue;
    const metric = r.metric ?? 0;
    if (!best || p.length > best.length || (p.length === best.length && metric < best.metric))
      best = { route: r, length: p.length, metric };
  }
  return best?.route ?? null;
}

export function lookupNeighbour(host: HostState, dev: string, ip: string) {
  return (ok(host.neighbours) ?? []).find((n) => n.dev === dev && sameIP(n.dst, ip)) ?? null;
}

export function lookupFdb(host: HostState, dev: string, mac: string) {
  return (
    (ok(host.fdb) ?? []).find((f) => f.dev === dev && f.mac.toLowerCase() === mac.toLowerCase() && f.dst !== null) ??
    null
  );
}
