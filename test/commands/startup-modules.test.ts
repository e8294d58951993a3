// Commands that never reach the cluster must not load the Kubernetes client: it is most of the module tree
// (868 of 2,199 modules before it was loaded on use) and most of doctor --from's start-up cost.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

/** Counts the modules a run of the CLI loads, by package, through Node's own module hooks. */
const HOOK = `
const { registerHooks } = require('node:module');
const seen = new Set();
registerHooks({ load(url, ctx, next) { seen.add(url); return next(url, ctx); } });
process.on('exit', () => require('node:fs').writeFileSync(process.env.KF_MODULES_OUT, [...seen].join('\\n')));
`;

function modulesLoadedBy(argv: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kf-modules-'));
  const hook = join(dir, 'hook.cjs');
  const out = join(dir, 'modules');
  writeFileSync(hook, HOOK);
  const r = spawnSync(process.execPath, ['--require', hook, ...argv], {
    encoding: 'utf8',
    env: { ...process.env, KF_MODULES_OUT: out },
  });
  assert.ok(r.status !== null && r.status <= 6, `exit ${r.status}: ${r.stderr}`);
  return readFileSync(out, 'utf8').split('\n');
}

for (const args of [
  ['doctor', '--example'],
  ['doctor', '--from', 'fixtures/snapshots/vxlan/healthy.json', '-o', 'json'],
  ['trace', '--from', 'fixtures/snapshots/vxlan/healthy.json', '10.244.1.5', '10.244.2.5'],
  ['checks'],
]) {
  test(`${args.slice(0, 2).join(' ')} does not load the Kubernetes client`, () => {
    const kube = modulesLoadedBy(['dist/src/cli.js', ...args]).filter((u) => u.includes('/@kubernetes/client-node/'));
    assert.deepEqual(kube.slice(0, 3), [], `${kube.length} modules of @kubernetes/client-node loaded`);
  });
}

test('the count sees the Kubernetes client when a module that needs it is loaded (the test above can fail)', () => {
  const kube = modulesLoadedBy([
    '-e',
    "await import('./dist/src/collectors/collect.js')",
    '--input-type=module',
  ]).filter((u) => u.includes('/@kubernetes/client-node/'));
  assert.ok(kube.length > 100, `only ${kube.length} modules of @kubernetes/client-node`);
});
