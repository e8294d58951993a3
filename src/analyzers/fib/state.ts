/** One node's FIB as the model reads it, built once per collected host so lookups share the compiled tables. */
import type { HostState } from '../../snapshot/types.js';
import { ok } from '../model.js';
import type { FibState } from './lookup.js';

const cache = new WeakMap<HostState, FibState | null>();

/** null when the routes or the rules were not collected (or none were listed): the model then does not guess. */
export function fibStateOf(host: HostState): FibState | null {
  let s = cache.get(host);
  if (s === undefined) {
    const routes = ok(host.routes);
    const rules = ok(host.rules);
    // The kernel always lists rules (0 local at least); an empty list is a collection gap, not a node that drops everything.
    s = routes && rules && rules.length > 0 ? { rules, routes } : null;
    cache.set(host, s);
  }
  return s;
}
