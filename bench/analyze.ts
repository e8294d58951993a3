/**
 * Benchmark: doctor's analysis of a synthetic N-node vxlan snapshot (default 1,000 nodes, each
 * with a route, neighbour and fdb entry per peer: ~1,000 of each per node). The snapshot is
 * written to a file first; a fresh process then reads it as `doctor --from` does and analyses
 * it, printing wall time and memory.
 * Run: npm run bench:analyze [-- NODES [--fault=underlay-ip-changed]]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../src/analyzers/run.js';
import { readSnapshot } from '../src/snapshot/io.js';
import { SYNTHETIC_FAULTS, syntheticSnapshot } from './synthetic.js';

const N = Number(process.argv[2] ?? 1000);
const fault = SYNTHETIC_FAULTS.find((f) => process.argv.includes(`--fault=${f}`)) ?? null;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

if (process.argv[3] === '--analyze') {
  const file = process.argv[4]!;
  const t0 = performance.now();
  const snapshot = await readSnapshot(file);
  const t1 = performance.now();
  globalThis.gc?.();
  const heapSnapshot = process.memoryUsage().heapUsed;
  // Linux: reset the peak-RSS counter (VmHWM) so the peak below is the analysis's, not JSON.parse's.
  writeFileSync('/proc/self/clear_refs', '5');
  const result = analyze(snapshot);
  const t2 = performance.now();
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  console.log(
    `read + JSON.parse: ${((t1 - t0) / 1000).toFixed(2)} s; the parsed snapshot takes ${mb(heapSnapshot)} of JS heap`,
  );
  console.log(
    `analysis: ${((t2 - t1) / 1000).toFixed(2)} s wall, ${result.checksRun.length} checks, ${result.findings.length} findings`,
  );
  globalThis.gc?.();
  console.log(
    `peak RSS during analysis: ${mb(peak)} (whole process, snapshot included); heap kept after analysis: ${mb(process.memoryUsage().heapUsed - heapSnapshot)}`,
  );
} else {
  const dir = mkdtempSync(join(tmpdir(), 'kf-bench-'));
  const file = join(dir, 'snapshot.json');
  try {
    writeFileSync(file, JSON.stringify(syntheticSnapshot(N, fault)));
    console.log(`nodes: ${N}, per node: ${N - 1} routes + ${N - 1} neighbours + ${N - 1} fdb entries`);
    const r = spawnSync(process.execPath, ['--expose-gc', process.argv[1]!, String(N), '--analyze', file], {
      stdio: 'inherit',
    });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
