/**
 * Runs the decryption stage on worker threads (`--threads N`, off by default): each batch is copied
 * to a worker and back, which on 2 cores costs more CPU than it saves (docs/capture.md, Performance).
 * Batches come back in input order, with a bounded number in flight so memory stays constant.
 */
import { Worker } from 'node:worker_threads';
import type { XfrmState } from '../../snapshot/types.js';
import { decodeBatch, encodeBatch } from '../batch-codec.js';
import type { PacketBatch } from '../packet.js';
import { DecryptStats } from './decryptor.js';
import { mergeStats, type StatsWire } from './stats-wire.js';

/** decrypt-worker's bundled source, set by scripts/bundle.mjs: a single executable has no worker file to load. */
declare const KUBECTL_FLANNEL_DECRYPT_WORKER: string | undefined;

interface Pending {
  resolve(b: PacketBatch): void;
  reject(e: Error): void;
}

export class ParallelEspDecryptor {
  readonly stats = new DecryptStats();
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failed: Error | null = null;

  constructor(states: readonly XfrmState[], threads: number) {
    this.workers = Array.from({ length: threads }, () => {
      const w =
        typeof KUBECTL_FLANNEL_DECRYPT_WORKER === 'string'
          ? new Worker(KUBECTL_FLANNEL_DECRYPT_WORKER, { eval: true, workerData: states })
          : new Worker(new URL('./decrypt-worker.js', import.meta.url), { workerData: states });
      w.on('message', (m: { id: number; batch: ArrayBuffer; stats: StatsWire }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        mergeStats(this.stats, m.stats);
        p?.resolve(decodeBatch(m.batch));
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

  private submit(batch: PacketBatch): Promise<PacketBatch> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    const ab = encodeBatch(batch);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage({ id, batch: ab }, [ab]);
    });
  }

  async *decrypt(batches: AsyncIterable<PacketBatch>): AsyncGenerator<PacketBatch> {
    const window: Promise<PacketBatch>[] = [];
    const depth = this.workers.length * 2;
    for await (const b of batches) {
      const p = this.submit(b);
      p.catch(() => {}); // awaited in order below; this only keeps a failure from going unhandled meanwhile
      window.push(p);
      if (window.length >= depth) yield await window.shift()!;
    }
    while (window.length > 0) yield await window.shift()!;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
