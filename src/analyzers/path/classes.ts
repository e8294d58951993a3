/**
 * Peers a node's state does not tell apart, so one walk serves them all. A peer's packet differs from
 * another's only in its addresses (podCIDR, public IP, VtepMAC) and in the per-peer entries the walk reads
 * (the route to its podCIDR, the neighbour and fdb entry behind it, the kernel's answers for it). Every
 * other input of a half is the node's own. The netfilter verdict, the FIB's rule and route-type decisions
 * and rp_filter's reverse lookup see a peer's address only through prefixes that contain it: the rules'
 * address literals, the `ip rule` selectors, and every route that is not some lease's podCIDR (a podCIDR
 * route contains one peer's addresses only, so it is a per-peer entry). A peer's class key is therefore
 * which of those prefixes contain each of its addresses, plus its per-peer entries written relative to the
 * peer (its public IP as `P`, its podCIDR's network as `N`, its VtepMAC as `V`, anything else literally).
 * Two peers with the same key take the same hops to the same verdicts. The key is exact only while no
 * podCIDR overlaps another or holds a public IP; otherwise every peer is its own class.
 */
import type { Prefix } from '../../net/cidr.js';
import type { Route, RouteDecision } from '../../snapshot/types.js';
import { type Addr, inPrefix, parseAddrPrefix } from '../fib/addr.js';
import { type Lease, ok } from '../model.js';
import type { NfFamily } from '../netfilter/types.js';
import { tunnelKey } from './tunnel-key.js';
import { cidrOf, firstUsable, type NodeView, podAddress, publicIPOf, vxlanDevice } from './walk.js';

/** IPv4 `a.b.c.d` as an unsigned 32-bit number; null for anything else. By hand: it runs for every peer of every node. */
function quad(ip: string): number | null {
  let v = 0;
  let n = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return null;
      v = v * 256 + n;
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      n = n * 10 + (c - 48);
      digits++;
      if (n > 255) return null;
    } else return null;
  }
  return dots === 3 && digits > 0 ? v * 256 + n : null;
}

interface V4Prefix {
  readonly value: number;
  readonly length: number;
}

const inV4 = (p: V4Prefix, a: number): boolean =>
  p.length === 0 || Math.floor(a / 2 ** (32 - p.length)) === Math.floor(p.value / 2 ** (32 - p.length));

export class PeerClasses {
  readonly #family: NfFamily;
  readonly #view: NodeView;
  /** null: every peer is its own class (the key would not be exact). */
  readonly #prefixes: readonly Addr[] | null;
  readonly #v4: readonly V4Prefix[];
  readonly #local: ReadonlySet<string>;
  readonly #localV4: readonly number[];
  /** This family's routes whose dst is some lease's podCIDR, by that dst. */
  readonly #podRoutes = new Map<string, Route[]>();
  readonly #sigs = new Map<string, string>();

  constructor(view: NodeView, family: NfFamily, podCIDRs: readonly Prefix[], peers: readonly Lease[]) {
    this.#family = family;
    this.#view = view;
    this.#local = view.filter.env.localAddresses;
    this.#localV4 = [...this.#local].map(quad).filter((a): a is number => a !== null);
    const mine = podCIDRs.filter((c) => c.family === family);
    const texts = new Set(mine.map((c) => c.text));
    this.#prefixes = exact(mine, texts, peers, family) ? this.#splitters(texts) : null;
    this.#v4 =
      family === 'inet' && this.#prefixes
        ? this.#prefixes.map((p) => ({ value: Number(p.value), length: p.length }))
        : [];
  }

  /** Every prefix that may tell two peers' addresses apart (see the module comment). */
  #splitters(podCIDRTexts: ReadonlySet<string>): Addr[] {
    const family = this.#family;
    const out = new Map<string, Addr>();
    const add = (a: Addr | null) => {
      if (a && (a.bits === 32) === (family === 'inet')) out.set(`${a.value}/${a.length}`, a);
    };
    for (const l of this.#view.filter.literals) add(l);
    for (const r of this.#view.fib?.rules ?? []) {
      if (r.family !== family) continue;
      // Selectors as `ip rule` prints them: `from X`, `to X` (a bare `from all` has no prefix).
      for (const m of r.text.matchAll(/\b(?:from|to) (\S+)/g)) if (m[1] !== 'all') add(parseAddrPrefix(m[1]!, family));
    }
    for (const r of ok(this.#view.host.routes) ?? []) {
      if (r.family !== family) continue;
      if (podCIDRTexts.has(r.dst)) {
        const list = this.#podRoutes.get(r.dst);
        if (list) list.push(r);
        else this.#podRoutes.set(r.dst, [r]);
      } else {
        add(parseAddrPrefix(r.dst, family));
        // The walk compares a route's gateway with the peer's public IP (host-gw's routed packet).
        if (r.gateway) add(parseAddrPrefix(r.gateway, family));
      }
    }
    return [...out.values()];
  }

  #sig(ip: string | null): string {
    if (ip === null) return '!';
    let s = this.#sigs.get(ip);
    if (s !== undefined) return s;
    s = this.#local.has(ip) ? 'L' : '-';
    const v4 = this.#family === 'inet' ? quad(ip) : null;
    if (v4 !== null) for (const p of this.#v4) s += inV4(p, v4) ? '1' : '0';
    else {
      const a = parseAddrPrefix(ip, this.#family);
      if (a) for (const p of this.#prefixes ?? []) s += inPrefix(p, a) ? '1' : '0';
      else s += `?${ip}`;
    }
    this.#sigs.set(ip, s);
    return s;
  }

  /**
   * The prefixes holding the addresses the walk takes from the podCIDR (its network, first usable and pod
   * address): one test per prefix for the whole podCIDR, unless a prefix lies inside it and splits it.
   */
  #podSig(theirs: Prefix): string {
    const each = () =>
      `${this.#sig(podAddress(theirs))}${this.#sig(theirs.network)}${this.#sig(firstUsable(theirs) ?? null)}`;
    const net = this.#family === 'inet' ? quad(theirs.network) : null;
    if (net === null) return each();
    const whole = { value: net, length: theirs.length };
    // The node's own addresses are never in a peer's podCIDR unless a podCIDR is misassigned: then test each.
    if (this.#localV4.some((a) => inV4(whole, a))) return each();
    let s = '';
    for (const p of this.#v4) {
      if (p.length <= theirs.length) s += inV4(p, net) ? '1' : '0';
      else if (inV4(whole, p.value)) return each();
      else s += '0';
    }
    return s;
  }

  /** The peer's class for this family: equal keys, equal walks (both halves, both packet classes). */
  key(peer: Lease): string {
    if (!this.#prefixes) return `peer ${peer.name}`;
    const family = this.#family;
    const view = this.#view;
    const theirs = cidrOf(peer, family);
    const own = cidrOf(view.node, family);
    if (!theirs || !own) return 'none';
    const peerIP = publicIPOf(peer, family);
    const mac = (family === 'inet' ? peer.vxlan : peer.vxlanV6)?.vtepMAC ?? null;
    const rel = (x: string | null | undefined): string =>
      x === null || x === undefined ? '-' : x === peerIP ? 'P' : x === theirs.network ? 'N' : x;
    const first = view.decisions ? (firstUsable(theirs) ?? null) : null;
    const parts: string[] = [`${theirs.length}`, this.#podSig(theirs), this.#sig(peerIP)];
    const gateways = new Set<string>();
    for (const r of this.#podRoutes.get(theirs.text) ?? []) {
      parts.push(
        `r${r.table}/${r.type}/${r.dev}/${rel(r.gateway)}/${r.metric}/${rel(r.prefsrc)}/${r.scope}/${r.protocol}/${r.flags.join(',')}`,
      );
      if (r.gateway) gateways.add(r.gateway);
    }
    const decision = (dst: string | null, as: 'pod' | 'node') => {
      const d: RouteDecision | undefined = dst ? view.decisions?.get(`${dst} ${as}`) : undefined;
      if (!d) return '-';
      if (d.gateway) gateways.add(d.gateway);
      return `${d.error}/${d.type}/${d.dev}/${rel(d.gateway)}/${d.table}/${rel(d.prefsrc)}`;
    };
    if (view.decisions) parts.push(decision(first, 'pod'), decision(first, 'node'), decision(peerIP, 'node'));
    const vx = vxlanDevice(view, family);
    if (vx) {
      for (const g of gateways) {
        const n = view.tables.neighboursOf(vx, g).find((x) => x.lladdr);
        const lladdr = n?.lladdr ?? null;
        const fdb = lladdr ? view.tables.fdbOf(vx, lladdr).find((f) => f.dst) : undefined;
        const fdst = fdb?.dst ?? null;
        parts.push(`n${rel(g)}/${lladdr === null ? '-' : lladdr.toLowerCase() === mac ? 'V' : lladdr}/${rel(fdst)}`);
        if (fdst !== null && fdst !== peerIP) parts.push(this.#sig(fdst), view.decisions ? decision(fdst, 'node') : '');
      }
    }
    // WireGuard's peers and IPsec's policies and SAs: per-peer entries, like the podCIDR routes above.
    parts.push(tunnelKey(view, peer, family, theirs));
    return parts.join(' ');
  }
}

/**
 * The key is exact when a podCIDR route contains only its own peer's addresses: no two podCIDRs overlap
 * (equal lengths, distinct networks) and no peer's public IP lies in one.
 */
function exact(podCIDRs: readonly Prefix[], texts: ReadonlySet<string>, peers: readonly Lease[], family: NfFamily) {
  const length = podCIDRs[0]?.length;
  if (podCIDRs.some((c) => c.length !== length) || texts.size !== podCIDRs.length) return false;
  if (length === undefined) return true;
  if (family === 'inet') {
    // IPv4 as numbers: this runs once per node over every peer.
    const nets = new Set<number>();
    for (const c of podCIDRs) {
      const n = quad(c.network);
      if (n === null) return false;
      nets.add(n);
    }
    const size = 2 ** (32 - length);
    for (const p of peers) {
      const a = p.publicIP ? quad(p.publicIP) : null;
      if (a !== null && nets.has(a - (a % size))) return false;
    }
    return true;
  }
  const nets = new Set<bigint>();
  for (const c of podCIDRs) {
    const n = parseAddrPrefix(c.text, family);
    if (!n) return false;
    nets.add(n.value);
  }
  for (const p of peers) {
    const ip = publicIPOf(p, family);
    const a = ip ? parseAddrPrefix(`${ip}/${length}`, family) : null;
    if (a && nets.has(a.value)) return false;
  }
  return true;
}
