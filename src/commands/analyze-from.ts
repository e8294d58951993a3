/**
 * `doctor --from FILE`: the snapshot (or a support bundle's snapshot.json) analysed while it is read, host by
 * host, so that memory holds the cluster-wide parts, one host and each node's findings and summary, never the
 * whole snapshot (on the 1,000-node bench: the README's "Analysis" figures). Whatever the streaming reader
 * does not take (a bad file, a pipe, an unusual layout) is read whole as before, which names what is wrong.
 */
import { statSync } from 'node:fs';
import { nodesFromHosts } from '../analyzers/model.js';
import {
  type Analysis,
  type AnalysisResult,
  analyze,
  type RunOptions,
  selectChecks,
  startAnalysis,
} from '../analyzers/run.js';
import { snapshotChunksFromBundle } from '../bundle/read.js';
import { UserError } from '../errors.js';
import { boundedChunks, LIMITS } from '../files.js';
import type { ReportSnapshot } from '../render/report.js';
import { NotStreamable, parseHost, type SnapshotSink, streamSnapshot } from '../snapshot/stream.js';
import type { Collected, HostState, SnapshotHead } from '../snapshot/types.js';
import { AnalysisPool, defaultAnalysisThreads } from './analysis-pool.js';
import { isGzip, readSnapshotFile } from './options.js';

export interface FromFile {
  /** What the report reads of the snapshot: its head and each host's status. */
  readonly snapshot: ReportSnapshot;
  readonly result: AnalysisResult;
}

/**
 * `threads`: worker threads for the node phase (analysis-pool.ts); undefined picks by the snapshot's size
 * (defaultAnalysisThreads), 0 runs everything on this thread.
 */
export async function analyzeFromFile(path: string, opts: RunOptions, threads?: number): Promise<FromFile> {
  const whole = async (): Promise<FromFile> => {
    const snapshot = await readSnapshotFile(path);
    return { snapshot, result: analyze(snapshot, opts) };
  };
  // An unknown check ID is reported after the file's own problems, as the whole-file path does.
  try {
    selectChecks(opts);
  } catch {
    return whole();
  }
  let regular = false;
  try {
    regular = statSync(path).isFile();
  } catch {}
  // A pipe cannot be read twice, so it is read whole from the start.
  if (!regular) return whole();
  const chunks = (await isGzip(path))
    ? snapshotChunksFromBundle(path)
    : boundedChunks(path, LIMITS.snapshotBytes, 'snapshot');
  try {
    return await analyzeChunks(chunks, opts, threads);
  } catch (e) {
    // Size limits and unreadable bundles say the same either way; anything else is named by the whole read.
    if (e instanceof UserError) throw e;
    return whole();
  }
}

/** The analysis of a snapshot arriving in chunks; throws NotStreamable for what must be read whole. */
export async function analyzeChunks(
  chunks: AsyncIterable<Uint8Array>,
  opts: RunOptions,
  threads?: number,
): Promise<FromFile> {
  let head: SnapshotHead | null = null;
  let analysis: Analysis | null = null;
  let pool: AnalysisPool | null = null;
  // A --local snapshot's nodes are its hosts: it is one node, analysed whole.
  let localHosts: Map<string, Collected<HostState>> | null = null;
  const statuses: Record<string, { status: string }> = {};
  const sink: SnapshotSink = {
    head(h) {
      head = h;
      if (nodesFromHosts(h)) {
        localHosts = new Map();
        return;
      }
      const a = startAnalysis(h, opts);
      analysis = a;
      const n = threads ?? defaultAnalysisThreads(h.cluster.nodes.status === 'ok' ? h.cluster.nodes.data.length : 0);
      if (n > 0) {
        const p = new AnalysisPool(h, opts, n, a.record);
        pool = p;
        sink.hostBytes = (name, bytes) => {
          // The entry is made now to keep the file's order; a worker fills it in once it has parsed the host.
          const status = { status: '' };
          statuses[name] = status;
          if (p.offer(name, bytes, status)) return;
          const hostC = parseHost(bytes);
          status.status = hostC.status;
          a.host(name, hostC);
        };
      }
    },
    host(name, hostC) {
      statuses[name] = { status: hostC.status };
      if (localHosts) localHosts.set(name, hostC);
      else analysis!.host(name, hostC);
    },
  };
  try {
    const tail = await streamSnapshot(chunks, sink);
    await (pool as AnalysisPool | null)?.drain();
    if (!head) throw new NotStreamable();
    const h: SnapshotHead = head;
    const result = localHosts
      ? analyze({ ...h, hosts: Object.fromEntries(localHosts), ...tail }, opts)
      : (analysis as Analysis | null)!.finish(tail);
    return { snapshot: { ...h, hosts: statuses }, result };
  } finally {
    await (pool as AnalysisPool | null)?.close();
  }
}
