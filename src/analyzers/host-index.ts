/**
 * Lookups into one node's kernel tables, built once per node context and shared by its checks.
 * Keys are the strings as collected: the kernel and flanneld print canonical addresses, so
 * an exact match is the common case; only a miss pays for the canonicalised index.
 */

import { normalizeIP, parsePrefix } from '../net/cidr.js';
import type { FdbEntry, HostState, Neighbour, Route } from '../snapshot/types.js';
import { ok } from './model.js';
import { TunnelTables } from './path/tunnels.js';

interface Index {
  readonly main: readonly Route[];
  readonly routes: Map<string, Route[]>;
  readonly neigh: Map<string, Map<string, Neighbour[]>>;
  readonly fdb: Map<string, Map<string, FdbEntry[]>>;
  canonicalRoutes?: Map<string, Route[]>;
  canonicalNeigh?: Map<string, Map<string, Neighbour[]>>;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function nested<T>(
  items: readonly T[],
  outer: (t: T) => string,
  inner: (t: T) => string,
): Map<string, Map<string, T[]>> {
  const m = new Map<string, Map<string, T[]>>();
  for (const i of items) {
    const o = outer(i);
    let sub = m.get(o);
    if (!sub) m.set(o, (sub = new Map()));
    push(sub, inner(i), i);
  }
  return m;
}

function buildIndex(host: HostState): Index {
  const main = (ok(host.routes) ?? []).filter(
    (r) => (r.table === 'main' || r.table === '254') && (r.type === 'unicast' || r.type === ''),
  );
  const routes = new Map<string, Route[]>();
  for (const r of main) push(routes, r.dst, r);
  return {
    main,
    routes,
    neigh: nested(
      ok(host.neighbours) ?? [],
      (n) => n.dev,
      (n) => n.dst,
    ),
    fdb: nested(
      ok(host.fdb) ?? [],
      (f) => f.dev,
      (f) => f.mac.toLowerCase(),
    ),
  };
}

export interface HostTables {
  /** Unicast routes of the main table, where flanneld puts all of its routes; undefined when not collected. */
  mainRoutes(): readonly Route[] | undefined;
  /** Main-table routes to exactly this prefix. */
  routesTo(dst: string): readonly Route[];
  /** Neighbour entries for an address on a device. */
  neighboursOf(dev: string, dst: string): readonly Neighbour[];
  /** fdb entries for a MAC on a device (MACs compared in lower case). */
  fdbOf(dev: string, mac: string): readonly FdbEntry[];
  /** WireGuard peers by allowed-ips, xfrm policies by selector, SAs by endpoints. */
  tunnels(): TunnelTables;
}

/** The tables of one host; the index is built on the first lookup and dropped by release(). */
class Tables implements HostTables {
  #index: Index | undefined;
  #tunnels: TunnelTables | undefined;
  constructor(private readonly host: HostState) {}

  private index(): Index {
    this.#index ??= buildIndex(this.host);
    return this.#index;
  }

  mainRoutes(): readonly Route[] | undefined {
    return this.host.routes.status === 'ok' ? this.index().main : undefined;
  }

  routesTo(dst: string): readonly Route[] {
    return routesTo(this.index(), dst);
  }

  neighboursOf(dev: string, dst: string): readonly Neighbour[] {
    return neighboursOf(this.host, this.index(), dev, dst);
  }

  fdbOf(dev: string, mac: string): readonly FdbEntry[] {
    return this.index().fdb.get(dev)?.get(mac.toLowerCase()) ?? [];
  }

  tunnels(): TunnelTables {
    this.#tunnels ??= new TunnelTables(this.host);
    return this.#tunnels;
  }

  release(): void {
    this.#index = undefined;
    this.#tunnels = undefined;
  }
}

export function indexHost(host: HostState): HostTables & { release(): void } {
  return new Tables(host);
}

function routesTo(idx: Index, dst: string): readonly Route[] {
  const exact = idx.routes.get(dst);
  if (exact) return exact;
  const key = parsePrefix(dst)?.text;
  if (!key) return [];
  if (!idx.canonicalRoutes) {
    idx.canonicalRoutes = new Map();
    for (const r of idx.main) {
      const k = parsePrefix(r.dst)?.text;
      if (k) push(idx.canonicalRoutes, k, r);
    }
  }
  return idx.canonicalRoutes.get(key) ?? [];
}

function neighboursOf(host: HostState, idx: Index, dev: string, dst: string): readonly Neighbour[] {
  const exact = idx.neigh.get(dev)?.get(dst);
  if (exact) return exact;
  if (!idx.canonicalNeigh)
    idx.canonicalNeigh = nested(
      ok(host.neighbours) ?? [],
      (n) => n.dev,
      (n) => normalizeIP(n.dst) ?? n.dst,
    );
  return idx.canonicalNeigh.get(dev)?.get(normalizeIP(dst) ?? dst) ?? [];
}
