/** One node's FIB as the model reads it, built once per collected host so lookups share the compiled tables. */
import type { HostState } from '../../snapshot/types.js';
import { ok } from '../model.js';
import type { FibState } from './lookup.js';

const cache = new WeakMap<HostState, FibState | null>();

/** null when the routes or the rules were not collected: the model then does not guess. */
export function fibStateOf(host: HostState): FibState | null {
  let s = cache.get(host);
  if (s === undefined) {
    const routes = ok(host.routes);
    const rules = ok(host.rules);
    s = routes && rules ? { rules, routes } : null;
    cache.set(host, s);
  }
  return s;
}
