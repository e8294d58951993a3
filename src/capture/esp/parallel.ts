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
import { DecryptStats } from './decryptor.js';
import { mergeStats, type StatsWire } from './stats-wire.js';

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
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failed: Error | null = null;

  constructor(states: readonly XfrmState[], layout: PcapLayout, threads: number) {
    const workerData = { states, layout };
    this.workers = Array.from({ length: threads }, () => {
      const w =
        typeof KUBECTL_FLANNEL_DECRYPT_WORKER === 'string'
          ? new Worker(KUBECTL_FLANNEL_DECRYPT_WORKER, { eval: true, workerData })
          : new Worker(new URL('./decrypt-worker.js', import.meta.url), { workerData });
      w.on(
        'message',
        (m: { id: number; buffer: ArrayBufferLike; start: number; size: number; count: number; stats: StatsWire }) => {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          p?.resolve({
            buffer: m.buffer,
            records: Buffer.from(m.buffer, m.start, m.size),
            count: m.count,
            stats: m.stats,
          });
        },
      );
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
    const depth = this.workers.length * 2;
    const next = async (): Promise<Done> => {
      const d = await window.shift()!;
      mergeStats(this.stats, d.stats);
      return d;
    };
    for await (const c of chunks) {
      const p = this.submit(c);
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
