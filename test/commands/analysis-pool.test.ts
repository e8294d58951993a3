// doctor --from on worker threads (src/commands/analysis-pool.ts) against the one-thread analysis: the same
// report, to the byte, on every fixture and on a 250-node synthetic cluster with a fault, with one and two
// workers and the main thread analysing what the workers' queues cannot take; a host a worker cannot parse
// stops the read as the one-thread reader does; no worker or port outlives a run, on any exit path.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { syntheticSnapshot } from '../../bench/synthetic.js';
import { startAnalysis } from '../../src/analyzers/run.js';
import { AnalysisPool, defaultAnalysisThreads, POOL_MIN_NODES } from '../../src/commands/analysis-pool.js';
import { analyzeChunks } from '../../src/commands/analyze-from.js';
import { buildReport } from '../../src/render/report.js';
import { renderJSON } from '../../src/render/structured.js';
import { styleFor } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import { NotStreamable } from '../../src/snapshot/stream.js';
import type { Snapshot } from '../../src/snapshot/types.js';

const FIXTURES = readdirSync('fixtures/snapshots')
  .flatMap((b) => readdirSync(`fixtures/snapshots/${b}`).map((f) => `fixtures/snapshots/${b}/${f}`))
  .filter((f) => f.endsWith('.json'))
  .sort();

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function run(text: string, threads: number) {
  const { snapshot, result } = await analyzeChunks(chunked(Buffer.from(text), 1 << 16), {}, threads);
  const r = buildReport(snapshot, result);
  return { text: `${renderJSON(r)}\n${renderText(r, styleFor({ isTTY: false }, {}, true), 120)}`, result };
}
const report = async (text: string, threads: number) => (await run(text, threads)).text;

/** Workers and their ports still open in this process (each run must close its own). */
const openThreads = () => process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort').length;

test('every fixture: two workers give the one-thread report', async () => {
  assert.ok(FIXTURES.length > 50);
  for (const f of FIXTURES) {
    const text = readFileSync(f, 'utf8');
    assert.equal(await report(text, 2), await report(text, 0), f);
  }
  assert.equal(openThreads(), 0);
});

test('250 nodes, a node moved underlay IP: workers and the main thread together give the one-thread report', async () => {
  const snap = syntheticSnapshot(250, 'underlay-ip-changed');
  const text = JSON.stringify(snap);
  const one = await run(text, 0);
  // The fault is there to be found: each of the 249 peers' fdb entries still sends to node-0's old IP.
  assert.equal(one.result.findings.filter((f) => f.check === 'vxlan-fdb' && f.peer === 'node-0').length, 249);
  const want = one.text;
  for (const threads of [1, 2]) assert.equal(await report(text, threads), want, `${threads} worker(s)`);
  // Hosts before the head: kept as bytes until the head is read, then handed out the same way.
  const { hosts, ...head } = snap;
  assert.equal(await report(JSON.stringify({ hosts, ...head }), 2), want, 'hosts first');
  assert.equal(openThreads(), 0);
});

test('a host whose JSON a worker finds off-schema stops the read with NotStreamable, and no worker is left', async () => {
  const snap = syntheticSnapshot(20, null) as Snapshot & { hosts: Record<string, unknown> };
  const names = Object.keys(snap.hosts);
  // The second host: the first hosts always go to a worker (its queue is empty), so a worker finds it.
  (snap.hosts as Record<string, unknown>)[names[1]!] = { status: 'ok', data: { links: 'not a list' } };
  for (const threads of [1, 2])
    await assert.rejects(analyzeChunks(chunked(Buffer.from(JSON.stringify(snap)), 4096), {}, threads), NotStreamable);
  assert.equal(openThreads(), 0);
});

test('offer: a full queue is refused, so the main thread analyses that host; every offered host is recorded once', async () => {
  const snap = syntheticSnapshot(6, 'underlay-ip-changed');
  const recorded: string[] = [];
  const pool = new AnalysisPool(snap, {}, 1, (name, outcomes) => {
    assert.equal(outcomes.length, 1);
    recorded.push(name);
  });
  try {
    const taken = Object.entries(snap.hosts).map(([name, h]) =>
      pool.offer(name, Buffer.from(JSON.stringify(h)), { status: '' }) ? name : null,
    );
    // The worker is still starting: its queue of 3 fills and the rest come back to the caller.
    assert.deepEqual(taken, ['node-0', 'node-1', 'node-2', null, null, null]);
    await pool.drain();
    assert.deepEqual(recorded.sort(), ['node-0', 'node-1', 'node-2']);
  } finally {
    await pool.close();
  }
  assert.equal(openThreads(), 0);
  // The analysis a worker builds is the main thread's: same head, same options, same outcomes.
  const a = startAnalysis(snap, {});
  assert.equal(a.nodePhase('node-1', snap.hosts['node-1']!).length, 1);
});

test('threads by default: none below POOL_MIN_NODES or on one core, at most 3', () => {
  assert.equal(defaultAnalysisThreads(POOL_MIN_NODES - 1), 0);
  const n = defaultAnalysisThreads(1000);
  assert.ok(n >= 0 && n <= 3);
});

test('doctor --threads: a bad value is one line naming it (exit 3); through the CLI, 2 workers print the one-thread report', () => {
  const cli = (args: string[]) =>
    spawnSync('bin/kubectl-flannel', args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const snap = 'fixtures/snapshots/vxlan/blackhole-in-local-table.json';
  for (const bad of ['x', '-1', '65', '1.5']) {
    const r = cli(['doctor', '--from', snap, '--threads', bad]);
    assert.equal(r.status, 3, bad);
    assert.equal(r.stderr, `kubectl-flannel: --threads: "${bad}" must be a whole number from 0 to 64\n`);
  }
  const one = cli(['doctor', '--from', snap, '--threads', '0']);
  const two = cli(['doctor', '--from', snap, '--threads', '2']);
  assert.equal(one.status, 2);
  assert.equal(two.status, 2);
  assert.equal(two.stdout, one.stdout);
  assert.match(one.stdout, /blackhole/);
});
