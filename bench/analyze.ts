/**
 * Benchmark: `doctor --from` on a synthetic N-node vxlan snapshot (bench/synthetic.ts: a route, neighbour and
 * fdb entry per peer on every node), against what a user would otherwise pay to merely look at the file:
 * reading it and JSON.parse. Each is a fresh process of the pinned Node, run side by side (interleaved, ROUNDS
 * times) under GNU time: wall time, CPU time (user + sys: what the process itself costs, which other jobs on
 * a shared machine barely change) and peak RSS. The ratios compare medians (time) and maxima (RSS). Several
 * sizes show how the cost grows with the number of entries.
 * doctor runs as users run it: the one-file bundle that the npm package and the single executable ship
 * (scripts/bundle.mjs); `--cli=source` runs tsc's module tree instead (with source maps, as developers do).
 * Every node carries the default ip rules and an iptables ruleset with flannel's rules, so the path walk
 * (pod-path) has rules to evaluate; --bare leaves both out, as the synthetic snapshot was before it.
 * --baseline=BUNDLE runs another build's bundle (e.g. main's dist/bundle/kubectl-flannel.cjs, copied aside) in the
 * same rounds, so a change is compared with what it replaces under the same load: on a shared machine only such
 * interleaved ratios compare, not seconds across runs.
 * --one-thread also runs this build's doctor with --threads 0 (no analysis workers) in the same rounds.
 * Run: npm run bench:analyze [-- NODES[,NODES…] [--fault=underlay-ip-changed] [--rounds=N] [--cli=source] [--bare]
 *   [--baseline=BUNDLE] [--one-thread]]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYNTHETIC_FAULTS, syntheticSnapshot } from './synthetic.js';

const sizes = (process.argv[2] ?? '1000').split(',').map(Number);
const fault = SYNTHETIC_FAULTS.find((f) => process.argv.includes(`--fault=${f}`)) ?? null;
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 3);

const dist = join(dirname(fileURLToPath(import.meta.url)), '..');
const fromSource = process.argv.includes('--cli=source');
const cliArgs = fromSource
  ? ['--enable-source-maps', join(dist, 'src', 'cli.js')]
  : [join(dist, 'bundle', 'kubectl-flannel.cjs')];
if (!existsSync(cliArgs.at(-1)!)) {
  console.error(`bench:analyze: ${cliArgs.at(-1)} is missing (npm run bundle builds it)`);
  process.exit(3);
}
const baseline = process.argv.find((a) => a.startsWith('--baseline='))?.slice(11) ?? null;
if (baseline && !existsSync(baseline)) {
  console.error(`bench:analyze: the baseline bundle ${baseline} is missing`);
  process.exit(3);
}
const oneThread = process.argv.includes('--one-thread');
const TIME = '/usr/bin/time';
if (!existsSync(TIME)) {
  console.error(`bench:analyze needs GNU time at ${TIME} (apt-get install time)`);
  process.exit(3);
}

interface Run {
  readonly seconds: number;
  readonly cpu: number;
  readonly rssMB: number;
  readonly status: number | null;
}

/** One fresh process of the pinned Node under GNU time. */
function measure(args: readonly string[], dir: string): Run {
  const out = join(dir, 'time');
  const r = spawnSync(TIME, ['-f', '%e %U %S %M', '-o', out, process.execPath, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const [wall, user, sys, kb] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: wall!, cpu: user! + sys!, rssMB: kb! / 1024, status: r.status };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg()[0]!.toFixed(1);

const dir = mkdtempSync(join(tmpdir(), 'kf-bench-'));
try {
  console.log(
    `fault: ${fault ?? 'none'}; ${rounds} rounds per size; doctor from ${fromSource ? 'the module tree' : 'the bundle'}${baseline ? `; baseline ${baseline}` : ''}; load average ${load()} at start`,
  );
  // The CPU per entry between two sizes: the fixed costs (Node's and the CLI's start-up) cancel out.
  const previous = new Map<string, { entries: number; cpu: number }>();
  for (const n of sizes) {
    const file = join(dir, 'snapshot.json');
    writeFileSync(file, JSON.stringify(syntheticSnapshot(n, fault, { full: !process.argv.includes('--bare') })));
    const entries = 3 * n * (n - 1);
    const mb = statSync(file).size / 1024 / 1024;
    const kinds = {
      'read + JSON.parse': ['-e', `JSON.parse(require('node:fs').readFileSync(${JSON.stringify(file)}, 'utf8'))`],
      'doctor --from (text)': [...cliArgs, 'doctor', '--from', file],
      'doctor --from -o json': [...cliArgs, 'doctor', '--from', file, '-o', 'json'],
      // The same build on one thread (--threads 0): what the analysis workers save, in the same rounds.
      ...(oneThread
        ? { '--threads 0 -o json': [...cliArgs, 'doctor', '--from', file, '-o', 'json', '--threads', '0'] }
        : {}),
      ...(baseline
        ? {
            'baseline (text)': [baseline, 'doctor', '--from', file],
            'baseline -o json': [baseline, 'doctor', '--from', file, '-o', 'json'],
          }
        : {}),
    } as Record<string, readonly string[]>;
    const runs = new Map<string, Run[]>(Object.keys(kinds).map((k) => [k, []]));
    for (let i = 0; i < rounds; i++)
      for (const [k, args] of Object.entries(kinds)) runs.get(k)!.push(measure(args, dir));
    const base = runs.get('read + JSON.parse')!;
    const baseT = median(base.map((r) => r.seconds));
    const baseC = median(base.map((r) => r.cpu));
    const baseM = Math.max(...base.map((r) => r.rssMB));
    console.log(
      `\n${n} nodes: ${(entries / 1e6).toFixed(2)} M routes + neighbours + fdb entries, ${mb.toFixed(0)} MB of JSON (load ${load()})`,
    );
    for (const [k, rs] of runs) {
      const t = median(rs.map((r) => r.seconds));
      const c = median(rs.map((r) => r.cpu));
      const m = Math.max(...rs.map((r) => r.rssMB));
      const exits = [...new Set(rs.map((r) => r.status))].join(',');
      const before = previous.get(k);
      previous.set(k, { entries, cpu: c });
      const marginal = before
        ? `, ${(((c - before.cpu) / (entries - before.entries)) * 1e9).toFixed(0)} ns per entry above the previous size`
        : '';
      console.log(
        `  ${k.padEnd(22)} wall ${t.toFixed(2).padStart(6)} s (${rs.map((r) => r.seconds.toFixed(1)).join(', ')}), CPU ${c.toFixed(2).padStart(6)} s, peak RSS ${m.toFixed(0).padStart(5)} MB, CPU ${((c / entries) * 1e9).toFixed(0)} ns per entry${marginal}, exit ${exits}` +
          (rs === base
            ? ''
            : `\n  ${''.padEnd(22)} ratio to read + JSON.parse: wall ${(t / baseT).toFixed(2)}x, CPU ${(c / baseC).toFixed(2)}x, peak RSS ${(m / baseM).toFixed(2)}x`),
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
