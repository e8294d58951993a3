/**
 * `doctor --from` on several threads: the main thread reads the snapshot and cuts it into hosts
 * (snapshot/stream.ts); workers each parse a host, check its schema and run its node phase
 * (analysis-worker.ts), and when every worker has a full queue the main thread analyses the host itself
 * instead of waiting. A node's phase reads only its host and the head, so the outcomes, kept per node in
 * model order, are those of one thread (test/commands/analysis-pool.test.ts compares them).
 *
 * Results come back on a port per worker that the main thread also drains synchronously
 * (receiveMessageOnPort) before it decides where a host goes: while it analyses hosts itself it never turns
 * its event loop, and a worker whose finished hosts were not yet seen would look busy and starve.
 * Hosts in flight are bounded, so memory holds a few hosts per worker, not the file.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { NodeOutcome, RunOptions } from '../analyzers/run.js';
import { NotStreamable } from '../snapshot/stream.js';
import type { SnapshotHead } from '../snapshot/types.js';

/** analysis-worker's bundled source, set by scripts/bundle.mjs: a single executable has no worker file to load. */
declare const KUBECTL_FLANNEL_ANALYSIS_WORKER: string | undefined;

export interface HostJob {
  readonly id: number;
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** A host's outcomes, or why there are none: failure null means its JSON or schema is wrong (NotStreamable). */
export type HostResult =
  | { readonly id: number; readonly status: string; readonly outcomes: NodeOutcome[] }
  | { readonly id: number; readonly failure: string | null };

/**
 * Below this many nodes a worker costs more than it saves: its start-up and its own JIT warm-up are about 0.6 s
 * of CPU, measured at 300 nodes 10% slower in wall time than one thread, at 500 nodes 12% faster (README, "Analysis").
 */
export const POOL_MIN_NODES = 400;

/**
 * Worker threads beside the main thread, which analyses too: one per further core, up to 3; none on one
 * core or for a small snapshot.
 */
export function defaultAnalysisThreads(nodes: number): number {
  const cores = availableParallelism();
  return nodes >= POOL_MIN_NODES ? Math.min(cores - 1, 3) : 0;
}

/** Hosts queued per worker: enough that a worker does not wait while the main thread analyses one. */
const DEPTH = 3;

interface Slot {
  readonly worker: Worker;
  readonly results: MessagePort;
  busy: number;
}

interface Job {
  readonly name: string;
  readonly slot: Slot;
  readonly status: { status: string };
}

export class AnalysisPool {
  readonly #slots: Slot[];
  readonly #jobs = new Map<number, Job>();
  #nextId = 0;
  #failed: Error | null = null;
  #closing = false;
  #wake: (() => void) | null = null;

  /** `record` keeps a host's outcomes (Analysis.record); it runs on the main thread, in completion order. */
  constructor(
    head: SnapshotHead,
    opts: RunOptions,
    threads: number,
    private readonly record: (name: string, outcomes: readonly NodeOutcome[]) => void,
  ) {
    this.#slots = Array.from({ length: threads }, () => {
      const { port1, port2 } = new MessageChannel();
      const options = { workerData: { head, opts, results: port1 }, transferList: [port1] };
      const worker =
        typeof KUBECTL_FLANNEL_ANALYSIS_WORKER === 'string'
          ? new Worker(KUBECTL_FLANNEL_ANALYSIS_WORKER, { ...options, eval: true })
          : new Worker(new URL('./analysis-worker.js', import.meta.url), options);
      const slot: Slot = { worker, results: port2, busy: 0 };
      port2.on('message', (r: HostResult) => this.#done(r));
      worker.on('error', (e) => this.#fail(e));
      worker.on('exit', (code) => {
        if (!this.#closing) this.#fail(new Error(`an analysis worker exited early (code ${code})`));
      });
      return slot;
    });
  }

  /**
   * Hands a host to the least busy worker (the bytes are copied: the reader's buffer moves on) and sets
   * `status.status` once it is parsed; false when every worker's queue is full, for the caller to analyse it.
   */
  offer(name: string, bytes: Uint8Array, status: { status: string }): boolean {
    for (const s of this.#slots)
      for (let m = receiveMessageOnPort(s.results); m; m = receiveMessageOnPort(s.results))
        this.#done(m.message as HostResult);
    if (this.#failed) throw this.#failed;
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.busy < slot.busy) slot = s;
    if (slot.busy >= DEPTH) return false;
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    const id = this.#nextId++;
    this.#jobs.set(id, { name, slot, status });
    slot.busy++;
    slot.worker.postMessage({ id, name, bytes: copy } satisfies HostJob, [copy.buffer]);
    return true;
  }

  /** Waits for every host handed out; throws what failed (NotStreamable for a host that does not parse). */
  async drain(): Promise<void> {
    while (!this.#failed && this.#jobs.size > 0)
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    if (this.#failed) throw this.#failed;
  }

  /** Stops every worker; on every exit path. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const s of this.#slots) s.results.close();
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #done(r: HostResult): void {
    const job = this.#jobs.get(r.id);
    if (!job) return;
    this.#jobs.delete(r.id);
    job.slot.busy--;
    if (!this.#failed)
      if ('failure' in r) this.#fail(r.failure === null ? new NotStreamable() : new Error(r.failure));
      else
        try {
          job.status.status = r.status;
          this.record(job.name, r.outcomes);
        } catch (e) {
          this.#fail(e as Error);
        }
    this.#signal();
  }

  #fail(e: Error): void {
    this.#failed ??= e;
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
