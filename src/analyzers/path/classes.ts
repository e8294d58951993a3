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
import { type Prefix, sameIP } from '../../net/cidr.js';
import type { FdbEntry, Neighbour, Route, RouteDecision } from '../../snapshot/types.js';
import { type Addr, inPrefix, parseAddrPrefix } from '../fib/addr.js';
import { V4Stretches } from '../fib/v4-stretches.js';
import { type Lease, ok } from '../model.js';
import type { NfFamily } from '../netfilter/types.js';
import { type PodPart, podParts } from './pod-parts.js';
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

// The leading bits by unsigned shift (a shift of 32 is none in JavaScript, hence length 0 apart).
const inV4 = (p: V4Prefix, a: number): boolean => p.length === 0 || (a ^ p.value) >>> (32 - p.length) === 0;

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
  /** The node's own podCIDR and vxlan device for this family: the same for every peer. */
  readonly #own: Prefix | null;
  readonly #vx: string | null;
  /** #podSig's tables for the one podCIDR length (exact keys have one); built on first use. */
  #podShape: PodShape | undefined;
  /** Where key() stands in the trie while it follows a peer's parts. */
  #t: Trie;
  /** #v4's tests of an address, once per stretch of addresses rather than per peer (v4-stretches.ts). */
  #v4Stretches: V4Stretches | undefined;
  readonly #root = new Trie();
  readonly #byName = new Map<string, number>();
  /** Peers whose podCIDR a splitting prefix divides, with their parts (pod-parts.ts); each is its own class. */
  readonly #split = new Map<string, readonly PodPart[]>();
  /** The next class id; 0 is NONE. */
  #ids = 1;

  /** `cidrs`: the family's podCIDRs as familyCIDRs gives them, the same for every node (ClusterContext.peerClassCIDRs). */
  constructor(view: NodeView, family: NfFamily, cidrs: FamilyCIDRs, peers: readonly Lease[]) {
    this.#family = family;
    this.#view = view;
    this.#local = view.filter.env.localAddresses;
    this.#localV4 = [...this.#local].map(quad).filter((a): a is number => a !== null);
    this.#prefixes = exact(cidrs, peers) ? this.#splitters(cidrs.texts) : null;
    this.#own = cidrOf(view.node, family);
    this.#vx = vxlanDevice(view, family);
    this.#t = this.#root;
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

  /**
   * #sig as a key part: for a dotted IPv4 address a number (its stretch's interned bits, doubled, plus one when
   * the address is the node's own), so no string is built per peer; otherwise #sig's string. The two never
   * meet: a number is never equal to a string in a map.
   */
  #sigPart(ip: string | null): string | number {
    const v4 = ip !== null && this.#family === 'inet' ? quad(ip) : null;
    if (v4 === null) return this.#sig(ip);
    this.#v4Stretches ??= new V4Stretches(this.#v4);
    return this.#v4Stretches.id(v4) * 2 + (this.#local.has(ip!) ? 1 : 0);
  }

  #sig(ip: string | null): string {
    if (ip === null) return '!';
    let s = this.#sigs.get(ip);
    if (s !== undefined) return s;
    s = this.#local.has(ip) ? 'L' : '-';
    const v4 = this.#family === 'inet' ? quad(ip) : null;
    if (v4 !== null) s += (this.#v4Stretches ??= new V4Stretches(this.#v4)).bits(v4);
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
   * address): one test per prefix for the whole podCIDR. SPLIT when a prefix lies inside it: one address
   * no longer stands for the podCIDR (pod-parts.ts).
   */
  #podSig(theirs: Prefix): string | number | typeof SPLIT {
    const each = () => this.#podSigEach(theirs);
    // The network from the prefix's bytes: no text to parse per peer.
    const b = theirs.bytes;
    const net =
      this.#family === 'inet' && theirs.family === 'inet' ? ((b[0]! * 256 + b[1]!) * 256 + b[2]!) * 256 + b[3]! : null;
    if (net === null) return this.#inner(theirs).length > 0 ? SPLIT : each();
    this.#podShape ??= podShape(this.#v4, this.#localV4, theirs.length);
    const shape = this.#podShape;
    if (shape.length === theirs.length) {
      // The same answer as the loop below, by table: which prefixes no longer than the podCIDR hold it (interned),
      // SPLIT when a longer one starts inside it; a longer one outside it is a '0' for every peer alike.
      const block = shape.length === 0 ? 0 : Math.floor(net / 2 ** (32 - shape.length));
      if (shape.localBlocks.has(block)) return each();
      if (shape.longBlocks.has(block)) return SPLIT;
      return shape.short.id(net);
    }
    const whole = { value: net, length: theirs.length };
    // The node's own addresses are never in a peer's podCIDR unless a podCIDR is misassigned: then test each.
    if (this.#localV4.some((a) => inV4(whole, a))) return each();
    let s = '';
    for (const p of this.#v4) {
      if (p.length <= theirs.length) s += inV4(p, net) ? '1' : '0';
      else if (inV4(whole, p.value)) return SPLIT;
      else s += '0';
    }
    return s;
  }

  #podSigEach(theirs: Prefix): string {
    return `${this.#sig(podAddress(theirs))}${this.#sig(theirs.network)}${this.#sig(firstUsable(theirs) ?? null)}`;
  }

  /** The splitting prefixes that lie strictly inside a podCIDR. */
  #inner(theirs: Prefix): Addr[] {
    const whole = parseAddrPrefix(theirs.text, this.#family);
    if (!whole) return [];
    return (this.#prefixes ?? []).filter((p) => p.length > whole.length && inPrefix(whole, p));
  }

  /**
   * The parts of the peer's podCIDR this node tells apart, once key() has seen the peer: null while one pod
   * address stands for the whole podCIDR (always when the key is not exact: every peer is then walked alone).
   */
  parts(peer: Lease): readonly PodPart[] | null {
    return this.#split.get(peer.name) ?? null;
  }

  /**
   * The peer's class for this family: equal keys, equal walks (both halves, both packet classes). The key's
   * parts are followed down a trie of maps rather than joined into a string: on the 1,000-node bench, building
   * and hashing a key string per peer and node was most of the walk's cost.
   */
  key(peer: Lease): number {
    if (!this.#prefixes) return this.#alone(peer);
    const family = this.#family;
    const view = this.#view;
    const theirs = cidrOf(peer, family);
    if (!theirs || !this.#own) return NONE;
    const peerIP = publicIPOf(peer, family);
    const mac = (family === 'inet' ? peer.vxlan : peer.vxlanV6)?.vtepMAC ?? null;
    const network = theirs.network;
    const podSig = this.#podSig(theirs);
    if (podSig === SPLIT) {
      const inner = this.#inner(theirs);
      if (inner.length > 0) {
        // Rare (a route or rule inside a peer's podCIDR): the peer is walked alone, once per part.
        this.#split.set(peer.name, podParts(theirs, inner, podAddress(theirs) ?? ''));
        return this.#alone(peer);
      }
    }
    this.#t = this.#root;
    this.#step(theirs.length);
    this.#step(podSig === SPLIT ? this.#podSigEach(theirs) : podSig);
    this.#step(this.#sigPart(peerIP));
    // Usually one: a list, in the order met.
    const gateways: string[] = [];
    for (const r of this.#podRoutes.get(theirs.text) ?? []) {
      this.#step(ROUTE);
      this.#step(r.table);
      this.#step(r.type);
      this.#step(r.dev);
      this.#step(rel(r.gateway, peerIP, network));
      this.#step(r.metric);
      this.#step(rel(r.prefsrc, peerIP, network));
      this.#step(r.scope);
      this.#step(r.protocol);
      this.#step(r.flags.length === 0 ? '' : r.flags.length === 1 ? r.flags[0]! : r.flags.join(','));
      if (r.gateway && !gateways.includes(r.gateway)) gateways.push(r.gateway);
    }
    if (view.decisions) {
      const first = firstUsable(theirs) ?? null;
      this.#decision(first, 'pod', gateways, peerIP, network);
      this.#decision(first, 'node', gateways, peerIP, network);
      this.#decision(peerIP, 'node', gateways, peerIP, network);
    }
    const vx = this.#vx;
    if (vx) {
      // gateways grows while it is read (a decision toward the fdb's address may name another gateway).
      for (let i = 0; i < gateways.length; i++) {
        const g = gateways[i]!;
        const lladdr = firstLladdr(view.tables.neighboursOf(vx, g));
        const fdst = lladdr ? firstDst(view.tables.fdbOf(vx, lladdr)) : null;
        this.#step(NEIGHBOUR);
        this.#step(rel(g, peerIP, network));
        this.#step(lladdr === null ? '-' : lladdr === mac || lladdr.toLowerCase() === mac ? 'V' : lladdr);
        this.#step(rel(fdst, peerIP, network));
        if (fdst !== null && fdst !== peerIP) {
          // an fdb toward the peer's own InternalIP still reaches it (walk.ts outer): part of the verdict
          this.#step(peer.kube.internalIPs.some((a) => sameIP(a, fdst)) ? 'I' : '-');
          this.#step(this.#sigPart(fdst));
          if (view.decisions) this.#decision(fdst, 'node', gateways, peerIP, network);
        }
      }
    }
    // WireGuard's peers and IPsec's policies and SAs: per-peer entries, like the podCIDR routes above ('' elsewhere).
    const tunnel = tunnelKey(view, peer, family, theirs);
    if (tunnel !== '') this.#step(tunnel);
    this.#step(END);
    const t = this.#t;
    if (t.id < 0) t.id = this.#ids++;
    return t.id;
  }

  /** A class of its own for the peer (the same one each time it is asked). */
  #alone(peer: Lease): number {
    let id = this.#byName.get(peer.name);
    if (id === undefined) this.#byName.set(peer.name, (id = this.#ids++));
    return id;
  }

  /** One step down the trie (no closure per peer: key() runs for every peer of every node). */
  #step(x: Part): void {
    const t = this.#t;
    let next = t.next.get(x);
    if (!next) t.next.set(x, (next = new Trie()));
    this.#t = next;
  }

  /** The kernel's answer toward `dst` as a key part; a gateway it names joins `gateways`. */
  #decision(dst: string | null, as: 'pod' | 'node', gateways: string[], peerIP: string | null, network: string): void {
    const d: RouteDecision | undefined = dst ? this.#view.decisions?.get(`${dst} ${as}`) : undefined;
    if (!d) return this.#step(NO_DECISION);
    if (d.gateway && !gateways.includes(d.gateway)) gateways.push(d.gateway);
    this.#step(DECISION);
    this.#step(d.error);
    this.#step(d.type);
    this.#step(d.dev);
    this.#step(rel(d.gateway, peerIP, network));
    this.#step(d.table);
    this.#step(rel(d.prefsrc, peerIP, network));
  }
}

/** The first neighbour entry's link-layer address (a loop, not find(): once per peer of every node). */
function firstLladdr(ns: readonly Neighbour[]): string | null {
  for (const n of ns) if (n.lladdr) return n.lladdr;
  return null;
}

/** The first fdb entry's destination. */
function firstDst(fs: readonly FdbEntry[]): string | null {
  for (const f of fs) if (f.dst) return f.dst;
  return null;
}

/** An address of a per-peer entry relative to the peer: its public IP as `P`, its podCIDR's network as `N`. */
function rel(x: string | null | undefined, peerIP: string | null, network: string): string {
  return x === null || x === undefined ? '-' : x === peerIP ? 'P' : x === network ? 'N' : x;
}

/** #podSig's tables for podCIDRs of one length. */
interface PodShape {
  readonly length: number;
  /** Which prefixes no longer than a podCIDR hold its network. */
  readonly short: V4Stretches;
  /** The podCIDR-sized blocks holding a longer prefix's start, or one of the node's addresses. */
  readonly longBlocks: ReadonlySet<number>;
  readonly localBlocks: ReadonlySet<number>;
}

function podShape(v4: readonly V4Prefix[], local: readonly number[], length: number): PodShape {
  const block = (a: number) => (length === 0 ? 0 : Math.floor(a / 2 ** (32 - length)));
  return {
    length,
    short: new V4Stretches(v4.filter((p) => p.length <= length)),
    longBlocks: new Set(v4.filter((p) => p.length > length).map((p) => block(p.value))),
    localBlocks: new Set(local.map(block)),
  };
}

/** A key's part: a value as collected, or a marker that opens a section (so sections of any length never meet). */
type Part = string | number | null | symbol;
const ROUTE = Symbol('route');
const DECISION = Symbol('decision');
const NO_DECISION = Symbol('no decision');
const NEIGHBOUR = Symbol('neighbour');
const END = Symbol('end');
/** #podSig's answer when a splitting prefix lies inside the podCIDR. */
const SPLIT = Symbol('split');
/** The class of peers without a podCIDR of the family (or when the node has none): nothing to walk. */
const NONE = 0;

class Trie {
  readonly next = new Map<Part, Trie>();
  /** The class whose key ends here; -1 until one does. */
  id = -1;
}

/** One family's podCIDRs and what the key reads of them: cluster-wide, so derived once per analysis, not per node. */
export interface FamilyCIDRs {
  readonly texts: ReadonlySet<string>;
  /** Equal lengths and distinct networks. */
  readonly uniform: boolean;
  /** The leases whose public IP lies in some podCIDR of the family (only while uniform). */
  readonly publicIPInside: ReadonlySet<Lease>;
}

/** `leases`: every lease of the cluster (a node's peers are some of them). */
export function familyCIDRs(podCIDRs: readonly Prefix[], family: NfFamily, leases: readonly Lease[]): FamilyCIDRs {
  const mine = podCIDRs.filter((c) => c.family === family);
  const texts = new Set(mine.map((c) => c.text));
  const length = mine[0]?.length;
  let uniform = !mine.some((c) => c.length !== length) && texts.size === mine.length;
  const nets = new Set<number | bigint>();
  for (const c of uniform ? mine : []) {
    const n = family === 'inet' ? quad(c.network) : (parseAddrPrefix(c.text, family)?.value ?? null);
    if (n === null) uniform = false;
    else nets.add(n);
  }
  const publicIPInside = new Set<Lease>();
  if (uniform && length !== undefined) {
    const size = 2 ** (32 - length);
    for (const p of leases) {
      let inside: boolean;
      if (family === 'inet') {
        // IPv4 as numbers.
        const a = p.publicIP ? quad(p.publicIP) : null;
        inside = a !== null && nets.has(a - (a % size));
      } else {
        const ip = publicIPOf(p, family);
        const a = ip ? parseAddrPrefix(`${ip}/${length}`, family) : null;
        inside = a !== null && nets.has(a.value);
      }
      if (inside) publicIPInside.add(p);
    }
  }
  return { texts, uniform, publicIPInside };
}

/**
 * The key is exact when a podCIDR route contains only its own peer's addresses: no two podCIDRs overlap
 * (equal lengths, distinct networks) and no peer's public IP lies in one.
 */
function exact(cidrs: FamilyCIDRs, peers: readonly Lease[]): boolean {
  if (!cidrs.uniform) return false;
  if (cidrs.publicIPInside.size === 0) return true;
  return !peers.some((p) => cidrs.publicIPInside.has(p));
}
