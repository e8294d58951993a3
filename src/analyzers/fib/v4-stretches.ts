/**
 * Which of a node's IPv4 prefixes hold an address, as a string of one '1' or '0' per prefix, in order. The
 * prefixes' starts and ends cut the address space into stretches, and every address of one stretch lies in the
 * same prefixes: the string is built once per stretch (a few dozen per node) and found by a binary search,
 * not built again for every peer of every node (1M times on the 1,000-node bench, a string of a dozen
 * characters each).
 */

export interface V4Prefix {
  readonly value: number;
  readonly length: number;
}

// The leading bits by unsigned shift (a shift of 32 is none in JavaScript, hence length 0 apart).
const inV4 = (p: V4Prefix, a: number): boolean => p.length === 0 || (a ^ p.value) >>> (32 - p.length) === 0;

export class V4Stretches {
  readonly #prefixes: readonly V4Prefix[];
  /** Sorted: each prefix's first address and the one past its last. */
  readonly #edges: Float64Array;
  /** By stretch (how many edges lie at or below the address). */
  readonly #bits = new Map<number, string>();
  /** id(): by stretch, and the ids of the distinct bit strings. */
  readonly #ids = new Map<number, number>();
  readonly #interned = new Map<string, number>();

  constructor(prefixes: readonly V4Prefix[]) {
    this.#prefixes = prefixes;
    const edges = new Set<number>();
    for (const p of prefixes) {
      const size = 2 ** (32 - p.length);
      const start = Math.floor(p.value / size) * size;
      edges.add(start).add(start + size);
    }
    this.#edges = Float64Array.from(edges).sort();
  }

  /** bits(a) as a number, equal for equal strings (interned in order met): a key part without a string per ask. */
  id(a: number): number {
    const lo = this.#stretch(a);
    let id = this.#ids.get(lo);
    if (id === undefined) {
      const bits = this.#bitsOf(lo, a);
      id = this.#interned.get(bits);
      if (id === undefined) this.#interned.set(bits, (id = this.#interned.size));
      this.#ids.set(lo, id);
    }
    return id;
  }

  /** The prefixes holding `a` (an IPv4 address as a number): '1' where one does, '0' where not. */
  bits(a: number): string {
    return this.#bitsOf(this.#stretch(a), a);
  }

  /** How many edges lie at or below `a`: every address of one stretch lies in the same prefixes. */
  #stretch(a: number): number {
    const edges = this.#edges;
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid]! <= a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #bitsOf(lo: number, a: number): string {
    let s = this.#bits.get(lo);
    if (s === undefined) {
      s = '';
      for (const p of this.#prefixes) s += inV4(p, a) ? '1' : '0';
      this.#bits.set(lo, s);
    }
    return s;
  }
}
