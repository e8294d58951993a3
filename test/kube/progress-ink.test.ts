/**
 * The ink view for a big cluster, rendered by ink into a terminal-like stream: it must stay
 * condensed (counts, nodes in flight, latest failures), not one row per node.
 */

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { inkProgress } from '../../src/render/progress.js';

function terminal(): { stream: NodeJS.WriteStream; frames: () => string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  Object.assign(s, { isTTY: true, columns: 120, rows: 40 });
  return { stream: s, frames: () => out };
}

test('ink view of 200 nodes: counts, at most 12 running rows, the failures, and the final frame', async () => {
  const { stream, frames } = terminal();
  const p = inkProgress(stream);
  const nodes = Array.from({ length: 200 }, (_, i) => `node-${String(i).padStart(3, '0')}`);
  p.onProgress({ type: 'phase', phase: 'nodes', message: 'collecting 200 node(s), 32 at a time' });
  p.onProgress({ type: 'nodes', nodes });
  for (const n of nodes.slice(0, 32))
    p.onProgress({ type: 'node', node: n, state: 'running', via: 'pod kube-flannel/x', commands: 3 });
  for (const n of nodes.slice(0, 20))
    p.onProgress({ type: 'node', node: n, state: 'ok', via: 'pod kube-flannel/x', commands: 20, durationMs: 400 });
  p.onProgress({
    type: 'node',
    node: 'node-020',
    state: 'failed',
    detail: 'permission denied: cannot create pods/exec',
  });
  p.onProgress({ type: 'node', node: 'node-021', state: 'timeout', detail: 'node node-021 not collected within 90 s' });
  await p.done();
  const all = frames();
  const last = all.slice(all.lastIndexOf('collecting 200 node(s)'));
  assert.match(last, /nodes 22\/200 done 20 ok 1 failed 1 timed out 10 running/);
  const runningRows = last.split('\n').filter((l) => l.includes('◌ node-'));
  assert.equal(runningRows.length, 10);
  assert.match(last, /✘ node-020: permission denied: cannot create pods\/exec/);
  assert.match(last, /⏱ node-021: node node-021 not collected within 90 s/);
  // Finished nodes are counted, not listed, on a big cluster.
  assert.doesNotMatch(last, /✔ node-000/);
});

test('ink view of a small cluster lists every node with its state', async () => {
  const { stream, frames } = terminal();
  const p = inkProgress(stream);
  p.onProgress({ type: 'nodes', nodes: ['a', 'b', 'c'] });
  p.onProgress({ type: 'node', node: 'a', state: 'ok', via: 'pod kube-flannel/x', durationMs: 1500 });
  p.onProgress({
    type: 'node',
    node: 'b',
    state: 'running',
    via: 'helper pod',
    detail: 'no running kube-flannel pod on this node',
  });
  await p.done();
  const all = frames();
  const last = all.slice(all.lastIndexOf('nodes 1/3'));
  assert.match(last, /✔ a 1\.5 s · pod kube-flannel\/x/);
  assert.match(last, /◌ b .*helper pod no running kube-flannel pod on this node/);
  assert.match(last, /· c/);
});
