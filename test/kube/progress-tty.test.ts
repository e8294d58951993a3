/**
 * Progress output as a user sees it: the real CLI (`doctor --local --netns`, on a network
 * namespace made here) under a real pseudo-terminal from util-linux `script`, and piped.
 * The report on stdout must stay clean JSON in every case.
 */

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

function withNetns(t: { after(fn: () => void): void }): string {
  const ns = `kf${randomBytes(3).toString('hex')}p`;
  execFileSync('ip', ['netns', 'add', ns]);
  // doctor --local analyses the namespace as a node: with forwarding on, a bare namespace has nothing to report.
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  return ns;
}

test('on a terminal, an ink view draws each node live on stderr; stdout carries only the report', {
  skip: isRoot ? false : 'needs root for a network namespace',
}, async (t) => {
  const ns = withNetns(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-tty-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'report.json');
  const tty = path.join(dir, 'tty.txt');
  const env = { ...process.env };
  delete env['CI'];
  await run('script', ['-qec', `bin/kubectl-flannel doctor --local --netns ${ns} -o json > ${out}`, tty], { env });
  const screen = fs.readFileSync(tty, 'utf8');
  assert.match(screen, /\x1b\[/, 'cursor control sequences: ink redraws in place');
  assert.match(screen, new RegExp(`✔ ${ns} [0-9.]+ s · netns ${ns}`));
  assert.match(screen, /nodes 1\/1 done 1 ok/);
  const report = JSON.parse(fs.readFileSync(out, 'utf8')) as { summary: { source: string } };
  assert.equal(report.summary.source, `network namespace ${ns} on ${os.hostname()}`);
});

test('piped (or with CI set on a terminal), progress is plain lines on stderr', {
  skip: isRoot ? false : 'needs root for a network namespace',
}, async (t) => {
  const ns = withNetns(t);
  const piped = await run('bin/kubectl-flannel', ['doctor', '--local', '--netns', ns, '-o', 'json']);
  assert.doesNotMatch(piped.stderr, /\x1b\[/);
  assert.match(
    piped.stderr,
    new RegExp(
      `^collecting from netns ${ns}\\n${ns}: collecting via netns ${ns}\\n${ns}: done in [0-9.]+ s \\(\\d+ commands via netns ${ns}\\)\\n$`,
    ),
  );
  JSON.parse(piped.stdout);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-tty-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tty = path.join(dir, 'tty.txt');
  await run('script', ['-qec', `bin/kubectl-flannel doctor --local --netns ${ns} -o json > /dev/null`, tty], {
    env: { ...process.env, CI: '1' },
  });
  const screen = fs.readFileSync(tty, 'utf8');
  assert.doesNotMatch(screen, /\x1b\[\d*A/);
  assert.match(screen, new RegExp(`${ns}: done in`));
});
