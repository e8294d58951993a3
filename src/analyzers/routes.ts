/** Matching collected routes against expected ones; shared by the route checks. */

import { sameIP, samePrefix } from '../net/cidr.js';
import type { Route } from '../snapshot/types.js';
import type { ExpectedRoute } from './expected/types.js';

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
