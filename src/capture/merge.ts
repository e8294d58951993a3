/**
 * Merges packets of several live sources into one time-ordered stream while they arrive.
 *
 * Each source (one tcpdump) delivers its own packets in time order but late by its transport's
 * latency, so a packet can only be released once no source can still deliver an earlier one. Two
 * marks decide that: the watermark (the oldest "latest timestamp" among sources still running:
 * nothing earlier can come from them) and, so that an idle source does not hold everything back,
 * the reorder window (a packet that arrived `windowMs` ago is released with everything older than
 * it). Output stays in time order unless a source is later than the window; such a packet is
 * written at once, out of order, rather than dropped, and counted.
 */
import type { CapturedPacket, PacketBatch } from './packet.js';

export interface Merged {
  readonly source: number;
  readonly packet: CapturedPacket;
}

interface Entry extends Merged {
  /** µs since the epoch (exact to the µs; ties keep arrival order through `seq`). */
  readonly key: number;
  readonly seq: number;
}

const keyOf = (p: CapturedPacket): number => p.tsSec * 1_000_000 + p.tsNsec / 1000;
const before = (a: Entry, b: Entry): boolean => a.key < b.key || (a.key === b.key && a.seq < b.seq);

class Heap {
  readonly items: Entry[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Entry | undefined {
    return this.items[0];
  }
  push(e: Entry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }
  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

export class TimeMerger {
  /** Packets written out of order because their source delivered them later than the window. */
  late = 0;
  private readonly heap = new Heap();
  private readonly latest = new Map<number, number>();
  private readonly running = new Set<number>();
  /** Arrival order, for the reorder window: [arrival ms, key]. */
  private readonly arrivals: [number, number][] = [];
  private arrivalHead = 0;
  private ageMark = Number.NEGATIVE_INFINITY;
  private released = Number.NEGATIVE_INFINITY;
  private seq = 0;

  constructor(
    sources: Iterable<number>,
    private readonly windowMs: number,
  ) {
    for (const s of sources) this.running.add(s);
  }

  get buffered(): number {
    return this.heap.size;
  }

  push(source: number, batch: PacketBatch, nowMs: number): void {
    let max = this.latest.get(source) ?? Number.NEGATIVE_INFINITY;
    for (const packet of batch) {
      const key = keyOf(packet);
      if (key > max) max = key;
      this.heap.push({ source, packet, key, seq: this.seq++ });
    }
    if (batch.length > 0) {
      this.latest.set(source, max);
      this.arrivals.push([nowMs, max]);
    }
  }

  /** The source will deliver nothing more: it no longer holds the watermark back. */
  end(source: number): void {
    this.running.delete(source);
  }

  /** Packets that can be written now, in time order. */
  take(nowMs: number): Merged[] {
    while (this.arrivalHead < this.arrivals.length && this.arrivals[this.arrivalHead]![0] <= nowMs - this.windowMs) {
      this.ageMark = Math.max(this.ageMark, this.arrivals[this.arrivalHead]![1]);
      this.arrivalHead++;
    }
    if (this.arrivalHead > 4096) {
      this.arrivals.splice(0, this.arrivalHead);
      this.arrivalHead = 0;
    }
    let watermark = Number.POSITIVE_INFINITY;
    for (const s of this.running) watermark = Math.min(watermark, this.latest.get(s) ?? Number.NEGATIVE_INFINITY);
    return this.release(Math.max(watermark, this.ageMark));
  }

  /** Everything still buffered, in time order (at the end of the capture). */
  drain(): Merged[] {
    return this.release(Number.POSITIVE_INFINITY);
  }

  private release(upTo: number): Merged[] {
    const out: Merged[] = [];
    for (let top = this.heap.peek(); top && top.key <= upTo; top = this.heap.peek()) {
      this.heap.pop();
      if (top.key < this.released) this.late++;
      else this.released = top.key;
      out.push({ source: top.source, packet: top.packet });
    }
    return out;
  }
}
