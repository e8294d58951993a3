import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

test('the kubectl-flannel launcher runs the CLI and prints help', () => {
  const out = execFileSync('bin/kubectl-flannel', ['--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: kubectl-flannel/);
});
