import type { Route } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { entryText, type JsonObject, num, parseJsonArray, str, strings } from './json.js';
import { type Family, familyOf, normaliseDst } from './route-common.js';

/**
 * `ip -4 -j route show table all`, `ip -6 -j route show table all` and `ip -j route get <addr>`.
 * `family` is the family the command asked for; it decides only what `default` means.
 */
export function parseIpRouteJson(text: string, family: Family): ParseResult<Route[]> {
  const { items, errors } = parseJsonArray(text);
  const issues: ParseIssue[] = [...errors];
  const routes: Route[] = [];
  items.forEach((o, i) => {
    const dst = str(o, 'dst');
    if (dst === null) {
      issues.push(issue(1, entryText(o), `entry ${i + 1} has no dst`));
      return;
    }
    const hop = firstNexthop(o);
    const gateway = str(o, 'gateway') ?? (hop ? str(hop, 'gateway') : null);
    const f = familyOf(dst, gateway, family);
    const flags = strings(o, 'flags');
    routes.push({
      family: f,
      table: str(o, 'table') ?? 'main',
      dst: normaliseDst(dst, f),
      type: str(o, 'type') ?? 'unicast',
      gateway,
      dev: str(o, 'dev') ?? (hop ? str(hop, 'dev') : null),
      protocol: str(o, 'protocol'),
      scope: str(o, 'scope'),
      prefsrc: str(o, 'prefsrc'),
      metric: num(o, 'metric'),
      // A multipath route keeps its first hop; the flag tells the analyzer there are more.
      flags: hop ? [...flags, 'multipath'] : flags,
    });
  });
  return { value: routes, errors: issues };
}

function firstNexthop(o: JsonObject): JsonObject | null {
  const hops = o['nexthops'];
  if (!Array.isArray(hops) || hops.length === 0) return null;
  const h: unknown = hops[0];
  return h !== null && typeof h === 'object' ? (h as JsonObject) : null;
}
