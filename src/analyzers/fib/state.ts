/** One node's FIB as the model reads it; the caller keeps it for as long as its lookups should share the compiled tables. */
import type { HostState } from '../../snapshot/types.js';
import { ok } from '../model.js';
import type { Addr } from './addr.js';
import type { FibState } from './lookup.js';

/**
 * null when the routes or the rules were not collected (or none were listed): the model then does not guess.
 * `known`: route destinations already parsed (FibState.known).
 */
export function fibStateOf(host: HostState, known?: ReadonlyMap<string, Addr>): FibState | null {
  const routes = ok(host.routes);
  const rules = ok(host.rules);
  // The kernel always lists rules (0 local at least); an empty list is a collection gap, not a node that drops everything.
  return routes && rules && rules.length > 0
    ? { rules, routes, compiled: new Map(), ...(known ? { known } : {}) }
    : null;
}
