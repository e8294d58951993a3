/**
 * Lookups toward peers' pods, shared between peers the node's FIB cannot tell apart. A lookup of an address in
 * a peer's podCIDR P sees the address only through the prefixes that contain it: the `ip rule` selectors and
 * every route. The routes whose dst is P itself are that peer's own (flanneld's route toward it); any other
 * route or selector that does not lie inside P contains either every address of P or none. So, while no
 * podCIDR overlaps another and nothing else lies inside P, two peers whose P fall in the same prefixes, and
 * whose own routes agree in what the lookup reads (table, type, device, metric, order), get the same answer,
 * with the one peer's route in place of the other's. One lookup then serves every peer of the class (on the
 * 1,000-node bench: four lookups per peer and node, 4 M in all, became a few per node). Anything outside those
 * conditions (IPv6, a selector other than source and input device, a podCIDR split by a route) is looked up
 * as asked; test/analyzers/fib-podcidr-lookups.test.ts compares both ways.
 */
import { hostAt, type Prefix } from '../../net/cidr.js';
import type { Route } from '../../snapshot/types.js';
import { dottedQuad, parseAddrPrefix } from './addr.js';
import { type FibAnswer, type FibPacket, type FibState, lookup } from './lookup.js';
import { parseRule } from './rule.js';
import { V4Stretches } from './v4-stretches.js';

interface V4 {
  readonly value: number;
  readonly length: number;
}

// The leading bits by unsigned shift (a shift of 32 is none in JavaScript, hence length 0 apart).
const inV4 = (p: V4, a: number): boolean => p.length === 0 || (a ^ p.value) >>> (32 - p.length) === 0;

const v4Of = (bytes: readonly number[]): number => ((bytes[0]! * 256 + bytes[1]!) * 256 + bytes[2]!) * 256 + bytes[3]!;

/** IPv4 `a.b.c.d` as a number; null for anything else (then the lookup is not shared). */
const quad = dottedQuad;

/** A peer's podCIDR as the class sees it; null when its lookups cannot be shared. */
interface PeerClass {
  /** Equal for podCIDRs the FIB does not tell apart (an interned key). */
  readonly id: number;
  readonly network: number;
  readonly length: number;
  /** The routes whose dst is the podCIDR, in the order listed (the order the kernel tries them in). */
  readonly own: readonly Route[];
}

interface Shared {
  readonly answer: FibAnswer;
  /** The answer's route as an index into the peer's own routes; -1 when it is a route every peer shares. */
  readonly own: number;
}

/**
 * The cluster's IPv4 podCIDRs: their texts, and their one length (null when they differ or overlap). The same for
 * every node: ClusterContext.podCIDRShape holds it once per analysis.
 */
export interface PodCIDRShape {
  readonly texts: ReadonlySet<string>;
  readonly length: number | null;
}

export function podCIDRShape(podCIDRs: readonly Prefix[]): PodCIDRShape {
  const mine = podCIDRs.filter((x) => x.family === 'inet');
  const texts = new Set(mine.map((x) => x.text));
  const length = mine[0]?.length ?? null;
  const distinct = new Set(mine.map((x) => v4Of(x.bytes))).size === texts.size && texts.size === mine.length;
  return { texts, length: length !== null && distinct && mine.every((x) => x.length === length) ? length : null };
}

const END = Symbol('end');

/** One step down a trie of maps. */
function step(node: Map<unknown, unknown>, k: unknown): Map<unknown, unknown> {
  let next = node.get(k) as Map<unknown, unknown> | undefined;
  if (!next) node.set(k, (next = new Map()));
  return next;
}

export class PodCIDRLookups {
  readonly #state: FibState;
  /** null: nothing is shared (IPv4 podCIDRs overlap or differ in length). */
  readonly #length: number | null;
  /** Routes and selectors no longer than a podCIDR: a podCIDR lies in each wholly or not at all. */
  readonly #short: readonly V4[] = [];
  /** Networks (at the podCIDR length) holding a route or selector longer than a podCIDR: those podCIDRs are split. */
  readonly #split = new Set<number>();
  readonly #own = new Map<string, Route[]>();
  readonly #classes = new Map<Prefix, PeerClass | null>();
  /** Which #short prefixes hold a podCIDR, by stretch of addresses (v4-stretches.ts), then interned. */
  #stretches: V4Stretches | null = null;
  /** Class ids by membership, then each own route's table, type, device and metric, then END. */
  readonly #ids = new Map<unknown, unknown>();
  #nextId = 0;
  /** By class id, then source, then input device: nested maps, so asking builds no key string. */
  readonly #answers: Map<string, Map<string, Shared>>[] = [];

  constructor(state: FibState, shape: PodCIDRShape) {
    this.#state = state;
    const { texts, length } = shape;
    this.#length = length;
    if (length === null) return;
    const add = (p: V4 | null) => {
      if (!p) return;
      if (p.length < length) (this.#short as V4[]).push(p);
      // One as long as a podCIDR may be a second route on it (a dst written otherwise): its order counts, so split.
      else this.#split.add(Math.floor(p.value / 2 ** (32 - length)));
    };
    const v4 = (text: string): V4 | null => {
      const a = parseAddrPrefix(text, 'inet');
      return a ? { value: Number(a.value), length: a.length } : null;
    };
    for (const r of state.rules) {
      if (r.family !== 'inet') continue;
      const rule = parseRule(r.priority, r.text, 'inet');
      for (const a of [rule.from, rule.to]) if (a) add({ value: Number(a.value), length: a.length });
    }
    for (const r of state.routes) {
      if (r.family !== 'inet') continue;
      if (!texts.has(r.dst)) add(v4(r.dst));
      else {
        const list = this.#own.get(r.dst);
        if (list) list.push(r);
        else this.#own.set(r.dst, [r]);
      }
    }
  }

  #classOf(cidr: Prefix): PeerClass | null {
    let c = this.#classes.get(cidr);
    if (c !== undefined) return c;
    c = null;
    const length = this.#length;
    if (length !== null && cidr.family === 'inet' && cidr.length === length) {
      const network = v4Of(cidr.bytes);
      if (!this.#split.has(Math.floor(network / 2 ** (32 - length)))) {
        const own = this.#own.get(cidr.text) ?? [];
        c = { id: this.#idOf(this.#membership(network), own), network, length, own };
      }
    }
    this.#classes.set(cidr, c);
    return c;
  }

  /** Which #short prefixes hold the podCIDR at `network`, as an interned number (V4Stretches.id: no string per peer). */
  #membership(network: number): number {
    this.#stretches ??= new V4Stretches(this.#short);
    return this.#stretches.id(network);
  }

  /** The class id of a membership and own routes (what the lookup reads of them), by a trie: no key string. */
  #idOf(membership: number, own: readonly Route[]): number {
    // Steps written out, not a closure: this runs once per peer of every node.
    let node = step(this.#ids, membership);
    for (const r of own) {
      node = step(node, r.table);
      node = step(node, r.type);
      node = step(node, r.dev);
      node = step(node, r.metric);
    }
    let id = node.get(END) as number | undefined;
    if (id === undefined) node.set(END, (id = this.#nextId++));
    return id;
  }

  /** Whether `cidr`'s lookups are shared: then every address in it gets the same answer for the same source and input device. */
  shares(cidr: Prefix): boolean {
    return this.#classOf(cidr) !== null;
  }

  /** lookup(state, pkt) for `pkt.dst` in `cidr`, a lease's podCIDR. */
  lookup(cidr: Prefix, pkt: FibPacket): FibAnswer {
    const c = this.#classOf(cidr);
    const other =
      pkt.oif != null ||
      pkt.mark !== undefined ||
      pkt.tos !== undefined ||
      pkt.ipproto != null ||
      pkt.sport !== undefined ||
      pkt.dport !== undefined ||
      pkt.uid !== undefined;
    if (!c || other) return lookup(this.#state, pkt);
    const dst = quad(pkt.dst);
    // The source is part of the key: rp_filter's reverse lookup sees it through the same prefixes (a source in
    // the podCIDR meets the peer's own routes, which the class holds alike).
    if (dst === null || !inV4({ value: c.network, length: c.length }, dst)) return lookup(this.#state, pkt);
    return this.#shared(c, pkt.src ?? '', pkt.iif ?? '', () => pkt);
  }

  /**
   * What lookup() answers for any address of `cidr` (shares(cidr) holds) from `src` (null: the node's own packet),
   * entering by `iif` (null: none): the class's answer, without naming an address unless it is the class's first
   * lookup (then the podCIDR's first usable address, as route-decision asks). Asked for every peer of every node.
   */
  classAnswer(cidr: Prefix, src: string | null, iif: string | null): FibAnswer {
    const c = this.#classOf(cidr);
    if (!c) throw new Error(`classAnswer: ${cidr.text} is not shared`);
    return this.#shared(c, src ?? '', iif ?? '', () => {
      const dst = hostAt(cidr, 1)!;
      return iif === null ? { dst, src } : { dst, src, iif };
    });
  }

  #shared(c: PeerClass, src: string, iif: string, pkt: () => FibPacket): FibAnswer {
    let bySrc = this.#answers[c.id];
    if (!bySrc) this.#answers[c.id] = bySrc = new Map();
    let byIif = bySrc.get(src);
    if (!byIif) bySrc.set(src, (byIif = new Map()));
    const hit = byIif.get(iif);
    if (hit) {
      if (hit.own < 0) return hit.answer;
      const a = hit.answer;
      // Written out, not spread: this runs for every peer of every node.
      return {
        type: a.type,
        rule: a.rule,
        table: a.table,
        route: c.own[hit.own]!,
        error: a.error,
        unmodelled: a.unmodelled,
      };
    }
    const answer = lookup(this.#state, pkt());
    byIif.set(iif, { answer, own: answer.route ? c.own.indexOf(answer.route) : -1 });
    return answer;
  }
}
