import type { Route } from '../snapshot/types.js';
import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';
import { type Family, familyOf, normaliseDst, ROUTE_TYPES } from './route-common.js';

/**
 * `ip route show table all`, `ip -6 route show table all`, `ip route get <addr>`, and busybox's
 * forms of them. Unknown keywords are skipped, so newer attributes do not break old parsers.
 */
export function parseIpRouteText(text: string, family: Family): ParseResult<Route[]> {
  const routes: Route[] = [];
  const errors: ParseIssue[] = [];
  let lastIndex = -1;
  for (const { n, line } of numberedLines(text)) {
    const tokens = line.trim().split(/\s+/);
    if (/^\s/.test(line) || tokens[0] === 'nexthop') {
      // Continuation lines: `nexthop via … dev …` of a multipath route, `cache …` of `route get`.
      const r = routes[lastIndex];
      if (tokens[0] === 'nexthop' && r) {
        const hop = readAttrs(tokens.slice(1));
        routes[lastIndex] = {
          ...r,
          gateway: r.gateway ?? hop.gateway,
          dev: r.dev ?? hop.dev,
          flags: r.flags.includes('multipath') ? r.flags : [...r.flags, 'multipath'],
        };
      }
      continue;
    }
    let i = 0;
    let type = 'unicast';
    if (ROUTE_TYPES.has(tokens[0] ?? '')) type = tokens[i++] ?? type;
    const dst = tokens[i++];
    if (dst === undefined || !DST.test(dst)) {
      errors.push(issue(n, line, 'expected a destination (prefix, address or "default")'));
      continue;
    }
    const a = readAttrs(tokens.slice(i));
    const f = familyOf(dst, a.gateway, family);
    routes.push({
      family: f,
      table: a.table ?? 'main',
      dst: normaliseDst(dst, f),
      type,
      gateway: a.gateway,
      dev: a.dev,
      protocol: a.protocol,
      scope: a.scope,
      prefsrc: a.prefsrc,
      metric: a.metric,
      flags: a.flags,
    });
    lastIndex = routes.length - 1;
  }
  return { value: routes, errors };
}

const DST = /^(default|[0-9a-fA-F.:]+(\/\d{1,3})?)$/;
const FLAGS = new Set([
  'onlink',
  'linkdown',
  'pervasive',
  'offload',
  'trap',
  'notify',
  'dead',
  'unresolved',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
]);
/** Keywords followed by one value that this parser does not keep. */
const SKIP_ONE = new Set([
  'uid',
  'expires',
  'error',
  'tos',
  'dsfield',
  'realm',
  'realms',
  'nhid',
  'weight',
  'hoplimit',
  'rtt',
  'rttvar',
  'window',
  'cwnd',
  'ssthresh',
  'advmss',
  'reordering',
  'initcwnd',
  'initrwnd',
  'features',
  'quickack',
  'congctl',
  'fastopen_no_cookie',
  'rto_min',
  'as',
  'ttl-propagate',
  'iif',
  'oif',
  'mark',
  'pref',
  'from',
  'mtu',
]);

interface Attrs {
  gateway: string | null;
  dev: string | null;
  table: string | null;
  protocol: string | null;
  scope: string | null;
  prefsrc: string | null;
  metric: number | null;
  flags: string[];
}

function readAttrs(t: string[]): Attrs {
  const a: Attrs = {
    gateway: null,
    dev: null,
    table: null,
    protocol: null,
    scope: null,
    prefsrc: null,
    metric: null,
    flags: [],
  };
  for (let i = 0; i < t.length; i++) {
    const k = t[i] ?? '';
    const v = t[i + 1] ?? null;
    switch (k) {
      case 'via':
        // `via inet6 fe80::1` (a gateway of the other family) names the family first.
        if (v === 'inet' || v === 'inet6') {
          a.gateway = t[i + 2] ?? null;
          i += 2;
        } else {
          a.gateway = v;
          i++;
        }
        break;
      case 'dev':
        a.dev = v;
        i++;
        break;
      case 'table':
        a.table = v;
        i++;
        break;
      case 'proto':
        a.protocol = v;
        i++;
        break;
      case 'scope':
        a.scope = v;
        i++;
        break;
      case 'src':
        a.prefsrc = v;
        i++;
        break;
      case 'metric':
      case 'priority':
        a.metric = v !== null && /^\d+$/.test(v) ? Number(v) : null;
        i++;
        break;
      default:
        if (FLAGS.has(k)) a.flags.push(k);
        else if (SKIP_ONE.has(k)) i += k === 'mtu' && v === 'lock' ? 2 : 1;
    }
  }
  return a;
}
