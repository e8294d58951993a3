/**
 * Runs the decryption stage of a classic pcap on worker threads (`--threads N`): the main thread cuts the
 * input into chunks of whole records (pcap-chunks.ts) and writes the results; each worker parses a chunk,
 * decrypts it and lays out its output records in the same buffer (decrypt-worker.ts). Buffers are transferred
 * both ways, never copied, and reused once written. Chunks go round-robin and come back in input order, with a bounded number in flight, so the output
 * is byte for byte the single-threaded one and memory stays constant.
 *
 * The decryptor's only state across packets is its counts: it keeps no sequence numbers or replay window,
 * and the SA table is read-only. Each chunk's counts are merged here in input order, so the summary, whose
 * lists follow first appearance (the first unknown SPIs, ties between SAs), is the single-threaded one too.
 */
import { Worker } from 'node:worker_threads';
import type { XfrmState } from '../../snapshot/types.js';
import type { PcapChunk } from '../pcap-chunks.js';
import type { PcapLayout } from '../pcap-records.js';
import { type DecryptedChunk, decryptChunk } from './decrypt-chunk.js';
import { DecryptStats, EspDecryptor } from './decryptor.js';
import { SaTable } from './sa-table.js';
import { mergeStats, type StatsWire, statsToWire } from './stats-wire.js';

/** decrypt-worker's bundled source, set by scripts/bundle.mjs: a single executable has no worker file to load. */
declare const KUBECTL_FLANNEL_DECRYPT_WORKER: string | undefined;

interface Done {
  /** The chunk's buffer, its output records in it from `records`' first byte. */
  readonly buffer: ArrayBufferLike;
  readonly records: Buffer;
  readonly count: number;
  readonly stats: StatsWire;
}

interface Pending {
  resolve(d: Done): void;
  reject(e: Error): void;
}

export class ParallelEspDecryptor {
  readonly stats = new DecryptStats();
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failed: Error | null = null;

  private workers: Worker[] = [];

  /**
   * With `lazily`, the workers start only once the input has a second chunk: an input of one chunk (1 MiB) is
   * decrypted on the main thread, as starting workers would cost more than it saves (~40 ms of CPU each).
   */
  constructor(
    private readonly states: readonly XfrmState[],
    private readonly layout: PcapLayout,
    private readonly threads: number,
    private readonly lazily = false,
  ) {
    if (!lazily) this.start();
  }

  private start(): void {
    const workerData = { states: this.states, layout: this.layout };
    this.workers = Array.from({ length: this.threads }, () => {
      const w =
        typeof KUBECTL_FLANNEL_DECRYPT_WORKER === 'string'
          ? new Worker(KUBECTL_FLANNEL_DECRYPT_WORKER, { eval: true, workerData })
          : new Worker(new URL('./decrypt-worker.js', import.meta.url), { workerData });
      w.on('message', (m: DecryptedChunk & { id: number; stats: StatsWire }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve({
          buffer: m.buffer,
          records: Buffer.from(m.buffer, m.start, m.size),
          count: m.count,
          stats: m.stats,
        });
      });
      w.on('error', (e) => this.fail(e));
      return w;
    });
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private submit(c: PcapChunk): Promise<Done> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage({ id, buffer: c.buffer, start: c.start, end: c.end }, [
        c.buffer,
      ]);
    });
  }

  /**
   * Each chunk's output records and packet count, in input order; `buffer` holds them, to be recycled once
   * they are written.
   */
  async *decrypt(chunks: AsyncIterable<PcapChunk>): AsyncGenerator<Done> {
    const window: Promise<Done>[] = [];
    const depth = this.threads * 2;
    const next = async (): Promise<Done> => {
      const d = await window.shift()!;
      mergeStats(this.stats, d.stats);
      return d;
    };
    const it = chunks[Symbol.asyncIterator]();
    let c = await it.next();
    if (c.done) return;
    if (this.lazily) {
      const second = await it.next();
      if (second.done) {
        // One chunk in all: decrypted here, as a worker would.
        const d = new EspDecryptor(new SaTable(this.states));
        const r = decryptChunk(d, this.layout, c.value.buffer, c.value.start, c.value.end);
        mergeStats(this.stats, statsToWire(d.stats));
        yield {
          buffer: r.buffer,
          records: Buffer.from(r.buffer, r.start, r.size),
          count: r.count,
          stats: statsToWire(d.stats),
        };
        return;
      }
      this.start();
      const first = c.value;
      c = second;
      window.push(this.submit(first));
      window[0]!.catch(() => {});
    }
    for (; !c.done; c = await it.next()) {
      const p = this.submit(c.value);
      p.catch(() => {}); // awaited in order below; this only keeps a failure from going unhandled meanwhile
      window.push(p);
      if (window.length >= depth) yield await next();
    }
    while (window.length > 0) yield await next();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
