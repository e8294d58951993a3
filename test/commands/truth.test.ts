// Exit codes and errors tell the truth (issue 8): an incomplete analysis never exits clean,
// `--local` analyses the host, a closed pipe ends quietly, an output never overwrites an input,
// and collected data cannot drive the terminal.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defineCheck } from '../../src/analyzers/check.js';
import { CHECKS } from '../../src/analyzers/index.js';
import { analyze } from '../../src/analyzers/run.js';
import { parseSnapshot } from '../../src/snapshot/io.js';

const dir = mkdtempSync(join(tmpdir(), 'kf-truth-'));
const HEALTHY = 'fixtures/snapshots/vxlan/healthy.json';
// biome-ignore lint/suspicious/noExplicitAny: mutating arbitrary JSON
const healthy = (): any => JSON.parse(readFileSync(HEALTHY, 'utf8'));
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('bin/kubectl-flannel', args, {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', KUBECTL_FLANNEL_DEBUG: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

test('a node not collected: the first line says the analysis is incomplete, exit 6', () => {
  const s = healthy();
  s.hosts.node2 = { status: 'failed', error: 'exec failed: container not found' };
  const r = cli(['doctor', '--from', file('node2-failed.json', s)]);
  assert.equal(r.code, 6);
  const lines = r.out.split('\n');
  assert.equal(
    lines[0],
    '! Incomplete analysis (1 gap): node2: kernel state was not collected: failed: exec failed: container not found',
  );
  assert.match(lines[1]!, /^⚠ 1 warning on 1 node \(2\/3 nodes collected/);
  const json = JSON.parse(cli(['doctor', '--from', file('node2-failed.json', s), '-o', 'json']).out);
  assert.equal(json.verdict, 'incomplete');
  assert.deepEqual(json.summary.incomplete, [
    'node2: kernel state was not collected: failed: exec failed: container not found',
  ]);
});

test('a part that failed is incomplete too; errors found still exit 2', () => {
  const s = healthy();
  s.hosts.node1.data.fdb = { status: 'timeout', error: 'timed out after 30000 ms' };
  assert.equal(cli(['doctor', '--from', file('fdb-timeout.json', s)]).code, 6);
  s.hosts.node1.data.sysctls.data['net.ipv4.ip_forward'] = '0';
  const r = cli(['doctor', '--from', file('fdb-timeout-fwd0.json', s)]);
  assert.equal(r.code, 2);
  assert.match(r.out.split('\n')[0]!, /^! Incomplete analysis \(1 gap\): node1: fdb was not collected \(timeout\)/);
});

test('a check that throws makes the run incomplete; a gap counts even with its check skipped', () => {
  const snapshot = parseSnapshot(readFileSync(HEALTHY, 'utf8'), HEALTHY);
  const broken = defineCheck({
    id: 'test-throws',
    severity: 'error',
    title: 'throws',
    failureModes: [],
    docs: { meaning: 'm', impact: 'i', fix: 'f' },
    scope: 'node',
    runNode() {
      throw new Error('boom');
    },
  });
  (CHECKS as unknown as unknown[]).push(broken);
  try {
    const r = analyze(snapshot);
    assert.deepEqual([...new Set(r.incomplete)], ['check test-throws failed: boom']);
    assert.equal(r.incomplete.length, 3, 'once per node');
  } finally {
    (CHECKS as unknown as unknown[]).pop();
  }
  assert.deepEqual(analyze(snapshot).incomplete, []);
  const gap = healthy();
  gap.hosts.node3 = { status: 'timeout', error: 'node timed out' };
  const r = analyze(parseSnapshot(JSON.stringify(gap), 'gap'), { skip: ['collection-incomplete'] });
  assert.deepEqual(r.incomplete, ['node3: kernel state was not collected: timeout: node timed out']);
  assert.equal(r.findings.length, 0);
});

test('doctor --help documents exit code 6', () => {
  assert.match(cli(['doctor', '--help']).out, /^ {2}6 {2}no errors found, but the analysis is incomplete/m);
});

// --local on a network namespace of our own: real sysctls, real iproute2 output.
const ns = `kfbnd${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
after(() => spawnSync('ip', ['netns', 'del', ns]));

test('doctor --local --netns analyses the namespace as a node: ip_forward=0 is found, exit 2', () => {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
  const r = cli(['doctor', '--local', '--netns', ns, '-o', 'json']);
  assert.equal(r.code, 2, r.err);
  const report = JSON.parse(r.out);
  assert.deepEqual(
    report.findings.map((f: { check: string; severity: string; node: string; peer: string | null }) => [
      f.check,
      f.severity,
      f.node,
      f.peer,
    ]),
    [['ip-forward', 'error', ns, null]],
  );
  assert.equal(report.summary.nodes, 1);
  assert.equal(report.summary.nodesCollected, 1);
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const clean = cli(['doctor', '--local', '--netns', ns]);
  assert.equal(clean.code, 0, clean.out);
  assert.match(clean.out, /^✔ No problems found \(1\/1 nodes collected, backend unknown, \d+ checks\)\n$/);
});

test('doctor --local --netns of a namespace that does not exist is an error, exit 3', () => {
  const r = cli(['doctor', '--local', '--netns', `${ns}-absent`]);
  assert.equal(r.code, 3);
  assert.equal(r.out, '');
  assert.match(r.err, new RegExp(`^kubectl-flannel: --netns ${ns}-absent: no such network namespace .*\\n$`));
});

test('a reader that closes the pipe early: quiet, exit 0', () => {
  for (const reader of ['head -1', 'true']) {
    const r = spawnSync(
      'sh',
      ['-c', `bin/kubectl-flannel doctor --help | ${reader} >/dev/null; exit \${PIPESTATUS:-0}`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.stderr, '', reader);
    const b = spawnSync(
      'bash',
      ['-c', `bin/kubectl-flannel doctor --from ${HEALTHY} -o yaml | ${reader} >/dev/null; exit \${PIPESTATUS[0]}`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(b.stderr, '', reader);
    assert.equal(b.status, 0, reader);
  }
});

test('bundle -f into a directory that does not exist: one line, exit 3', () => {
  const r = cli(['bundle', '--from', HEALTHY, '-f', '/nonexistent/x.tgz']);
  assert.equal(r.code, 3);
  assert.equal(r.err.trim().split('\n').length, 1, r.err);
  assert.equal(r.err, 'kubectl-flannel: -f /nonexistent/x.tgz: directory /nonexistent does not exist\n');
  const debug = cli(['bundle', '--from', HEALTHY, '-f', '/nonexistent/x.tgz'], { KUBECTL_FLANNEL_DEBUG: '1' });
  assert.match(debug.err, /\n {4}at /, 'the debug variable shows the stack');
});

test('an output that is an input is refused, however the path is spelled', () => {
  const snap = join(dir, 'keep.json');
  copyFileSync(HEALTHY, snap);
  const alias = join(dir, 'alias.json');
  symlinkSync(snap, alias);
  const hard = join(dir, 'hard.json');
  linkSync(snap, hard);
  const original = readFileSync(snap, 'utf8');
  for (const [args, pattern] of [
    [['bundle', '--from', snap, '-f', alias], /^kubectl-flannel: -f .* is the same file as --from/],
    [['bundle', '--from', snap, '-f', `${dir}/../${dir.split('/').pop()}/keep.json`], /is the same file as --from/],
    [['doctor', '--from', snap, '--save', hard], /^kubectl-flannel: --save .* is the same file as --from/],
  ] as const) {
    const r = cli([...args]);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, pattern);
  }
  const xfrm = join(dir, 'state.txt');
  copyFileSync('fixtures/pcap/esp-mix.xfrm-state.txt', xfrm);
  symlinkSync(xfrm, join(dir, 'state-link.txt'));
  const pcapIn = join(dir, 'in.pcap');
  copyFileSync('fixtures/pcap/esp-mix.pcap', pcapIn);
  for (const [args, pattern] of [
    [
      ['--xfrm-state', xfrm, '--write-keys', join(dir, 'state-link.txt')],
      /--write-keys .* is the same file as --xfrm-state/,
    ],
    [
      ['-r', pcapIn, '--xfrm-state', xfrm, '--decrypt-esp', '--write-keys', pcapIn],
      /--write-keys .* is the same file as --read/,
    ],
    [
      ['-r', pcapIn, '--xfrm-state', xfrm, '--decrypt-esp', '-w', join(dir, 'state-link.txt')],
      /--write .* is the same file as --xfrm-state/,
    ],
  ] as const) {
    const r = cli(['capture', ...args]);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, pattern);
  }
  assert.equal(readFileSync(snap, 'utf8'), original);
  assert.equal(readFileSync(xfrm, 'utf8'), readFileSync('fixtures/pcap/esp-mix.xfrm-state.txt', 'utf8'));
  assert.deepEqual(readFileSync(pcapIn), readFileSync('fixtures/pcap/esp-mix.pcap'));
});

test('control characters in collected data are shown escaped, with colour and without', () => {
  const s = healthy();
  s.hosts.node2 = { status: 'failed', error: 'exec failed \u001b]0;owned\u0007 \u001b[2J\u009b31m' };
  const p = file('esc.json', s);
  for (const env of [{ NO_COLOR: '1' }, { FORCE_COLOR: '1' }]) {
    const r = cli(['doctor', '--from', p, ...(env.NO_COLOR ? ['--no-color'] : [])], env);
    assert.equal(r.code, 6);
    assert.ok(!r.out.includes('\u001b]') && !r.out.includes('\u0007') && !r.out.includes('\u009b'), r.out);
    assert.ok(!r.out.includes('\u001b[2J'));
    assert.ok(r.out.includes('exec failed \\x1b]0;owned\\x07 \\x1b[2J\\x9b31m'), r.out);
  }
  const bad = file('esc-field.json', { ...s, schemaVersion: 1, collectedAt: 5 });
  const e = cli(['doctor', '--from', bad]);
  assert.equal(e.code, 3);
  const weird = join(dir, 'x\u001b[31m.json');
  writeFileSync(weird, '{');
  const w = cli(['doctor', '--from', weird]);
  assert.ok(!w.err.includes('\u001b'), w.err);
});
