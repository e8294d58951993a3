// collectHost's limits on a real netns node: per-command timeout, bounded concurrency, abort.
// `bridge` is swapped for `sleep 5` to have a command that hangs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectHost } from '../../src/collectors/node/host.js';
import { localRunner } from '../../src/collectors/node/local.js';
import type { CommandRunner } from '../../src/collectors/node/runner.js';
import { buildVxlanLab, canBuildLab } from './netns-lab.js';

const skip = canBuildLab() ? false : 'needs root to create network namespaces';

test('a command that outlives the timeout gives a timeout part; the others are collected', { skip }, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const inner = localRunner({ netns: lab.node });
  const runner: CommandRunner = {
    description: inner.description,
    run: (argv, o) => inner.run(argv[0] === 'bridge' ? ['sleep', '5'] : argv, o),
  };
  const started = performance.now();
  const host = await collectHost('node-1', runner, { keepKeys: false, peerAddresses: [], timeoutMs: 1500 });
  assert.ok(performance.now() - started < 4500, 'the sleeping command was killed');
  assert.equal(host.fdb.status, 'timeout');
  assert.match('error' in host.fdb ? host.fdb.error : '', /^bridge -j fdb show: timed out after 1500 ms/);
  assert.equal(host.links.status, 'ok');
  assert.equal(host.neighbours.status, 'ok');
});

test('commands run at most `concurrency` at a time', { skip }, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const inner = localRunner({ netns: lab.node });
  let inFlight = 0;
  let most = 0;
  const runner: CommandRunner = {
    description: inner.description,
    run: async (argv, o) => {
      most = Math.max(most, ++inFlight);
      try {
        return await inner.run(argv, o);
      } finally {
        inFlight--;
      }
    },
  };
  await collectHost('node-1', runner, { keepKeys: false, peerAddresses: ['192.168.56.12'], concurrency: 3 });
  assert.equal(most, 3);
});

test('an aborted run stops at once: running and queued parts time out, none tries fallbacks', { skip }, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const inner = localRunner({ netns: lab.node });
  const runner: CommandRunner = {
    description: inner.description,
    run: (argv, o) => inner.run(argv[0] === 'bridge' ? ['sleep', '5'] : argv, o),
  };
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 300);
  const started = performance.now();
  const host = await collectHost('node-1', runner, {
    keepKeys: false,
    peerAddresses: [],
    signal: ac.signal,
    concurrency: 1,
  });
  assert.ok(performance.now() - started < 3000, 'nothing waited for the sleeping command');
  assert.equal(host.links.status, 'ok', 'finished before the abort');
  assert.equal(host.fdb.status, 'timeout');
  assert.match('error' in host.fdb ? host.fdb.error : '', /stopped \(node deadline reached or run cancelled\)/);
  assert.equal(host.sysctls.status, 'timeout', 'queued behind the abort');
  assert.equal(host.raw.filter((r) => r.id === 'fdb:text').length, 0);
});
