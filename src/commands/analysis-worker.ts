/**
 * One worker thread of AnalysisPool (analysis-pool.ts): the node phase of the hosts the main thread hands it.
 * It builds the same analysis of the same head and options, so its outcomes are what the main thread's own
 * would be. Results go back on the pool's port, which the main thread can read without turning its event loop.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { type RunOptions, startAnalysis } from '../analyzers/run.js';
import { NotStreamable, parseHost } from '../snapshot/stream.js';
import type { SnapshotHead } from '../snapshot/types.js';
import type { HostJob, HostResult } from './analysis-pool.js';

const { head, opts, results } = workerData as { head: SnapshotHead; opts: RunOptions; results: MessagePort };
const analysis = startAnalysis(head, opts);

parentPort!.on('message', (job: HostJob) => {
  let result: HostResult;
  try {
    const hostC = parseHost(job.bytes);
    result = { id: job.id, status: hostC.status, outcomes: analysis.nodePhase(job.name, hostC) };
  } catch (e) {
    result = { id: job.id, failure: e instanceof NotStreamable ? null : ((e as Error)?.message ?? String(e)) };
  }
  results.postMessage(result);
});
