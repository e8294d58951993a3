/** Matching collected routes against expected ones; shared by the route checks. */
import type { HostState, Route } from '../snapshot/types.js';
import { sameIP, samePrefix } from '../net/cidr.js';
import type { ExpectedRoute } from './expected/types.js';
import { ok } from './model.js';

/** Unicast routes of the main table, where flanneld puts all of its routes. */
export function mainRoutes(host: HostState): Route[] | undefined {
  return ok(host.routes)?.filter((r) => (r.table === 'main' || r.table === '254') && (r.type === 'unicast' || r.type === ''));
}

export function routeMatches(actual: Route, want: ExpectedRoute): boolean {
  if (!samePrefix(actual.dst, want.dst)) return false;
  if (want.gateway === null ? actual.gateway !== null : !sameIP(actual.gateway, want.gateway)) return false;
  if (want.dev !== null && actual.dev !== want.dev) return false;
  if (want.onlink && !actual.flags.includes('onlink')) return false;
  return true;
}

export function satisfies(actual: Route, want: ExpectedRoute): boolean {
  return routeMatches(actual, want) || want.alternatives.some((alt) => routeMatches(actual, alt));
}
