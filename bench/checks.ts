/**
 * Where doctor --from spends its CPU, in one process: JSON.parse of the snapshot, then the streamed analysis of
 * the same file (src/commands/analyze-from.ts), with each node check's runNode timed (process CPU time, so
 * other jobs on the machine barely change it) and printed as a ratio to that JSON.parse. The rest is reading,
 * the table indexes, the summaries and the cluster phase. Write the snapshot with bench/write-synthetic.ts.
 * Run: node --expose-gc dist/bench/checks.js FILE
 */
import { createReadStream, readFileSync } from 'node:fs';
import { CHECKS } from '../src/analyzers/index.js';
import { analyzeChunks } from '../src/commands/analyze-from.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: checks FILE (a snapshot, e.g. from bench/write-synthetic.ts)\n');
  process.exit(3);
}
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const spent = new Map<string, number>();
for (const c of CHECKS) {
  if (c.scope !== 'node') continue;
  const run = c.runNode.bind(c);
  (c as { runNode: typeof c.runNode }).runNode = (ctx, report) => {
    const t = cpu();
    try {
      run(ctx, report);
    } finally {
      spent.set(c.id, (spent.get(c.id) ?? 0) + cpu() - t);
    }
  };
}
let t = cpu();
JSON.parse(readFileSync(file, 'utf8'));
const parse = cpu() - t;
(globalThis as { gc?: () => void }).gc?.();
t = cpu();
const { result } = await analyzeChunks(createReadStream(file, { highWaterMark: 1 << 20 }), {});
const all = cpu() - t;
const checks = [...spent.values()].reduce((a, b) => a + b, 0);
const x = (s: number) => `${(s / parse).toFixed(2)}x`;
console.log(
  `JSON.parse ${parse.toFixed(2)} s; analysis ${all.toFixed(2)} s (${x(all)}): node checks ${checks.toFixed(2)} s (${x(checks)}), reading, indexes, summaries and cluster phase ${(all - checks).toFixed(2)} s (${x(all - checks)}); ${result.findings.length} findings`,
);
for (const [id, s] of [...spent].sort((a, b) => b[1] - a[1]).slice(0, 12))
  console.log(`  ${id.padEnd(26)} ${s.toFixed(2)} s ${x(s)}`);
