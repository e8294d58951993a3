// bundle as a user runs it: the archive opens with the system's tar, holds the report and every
// node's command output, re-analyses to the same findings, and carries no secret.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'kf-bundle-'));
const cli = (args: string[]) =>
  spawnSync('bin/kubectl-flannel', args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
const SNAP = 'fixtures/snapshots/ipsec/ipsec-sa-absent.json';

test('bundle writes a tar.gz (mode 0600) that tar lists: README, snapshot, report, cluster objects, node outputs', () => {
  const file = join(dir, 'b.tar.gz');
  const r = cli(['bundle', '--from', SNAP, '-f', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /re-analyse offline: kubectl flannel doctor --from/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const names = execFileSync('tar', ['tzf', file], { encoding: 'utf8' })
    .split('\n')
    .map((n) => n.replace(/^[^/]+\//, ''));
  for (const want of [
    'README.txt',
    'snapshot.json',
    'report.txt',
    'report.json',
    'cluster/net-conf.json',
    'cluster/nodes.json',
    'nodes/node1/links_json.txt',
    'nodes/node3/xfrm.policy_text.txt',
  ]) {
    assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
  }
  const report = execFileSync('sh', ['-c', `tar xzOf ${file} --wildcards '*/report.txt'`], { encoding: 'utf8' });
  assert.match(report, /no ESP SA for 192\.168\.56\.11 -> 192\.168\.56\.13/);
});

test('doctor --from the bundle gives the same findings as --from the snapshot; trace reads it too', () => {
  const file = join(dir, 'b2.tar.gz');
  cli(['bundle', '--from', SNAP, '-f', file]);
  const a = JSON.parse(cli(['doctor', '--from', SNAP, '-o', 'json']).stdout) as { findings: unknown[] };
  const b = JSON.parse(cli(['doctor', '--from', file, '-o', 'json']).stdout) as { findings: unknown[] };
  assert.ok(a.findings.length > 0);
  assert.deepEqual(b.findings, a.findings);
  assert.equal(cli(['trace', '--from', file, '10.244.1.2', '10.244.3.2']).status, 2);
});

test('no PSK and no SA key anywhere in the archive', () => {
  const file = join(dir, 'b3.tar.gz');
  cli(['bundle', '--from', 'fixtures/snapshots/ipsec/healthy.json', '-f', file]);
  const all = execFileSync('sh', ['-c', `tar xzOf ${file}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(!all.includes('a'.repeat(48)), 'PSK');
  assert.ok(!/0x[0-9a-f]{40}/.test(all), 'an SA key');
});

test('a damaged bundle is a clear error, exit 3', () => {
  const file = join(dir, 'bad.tar.gz');
  writeFileSync(file, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3]));
  const r = cli(['doctor', '--from', file]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /bad\.tar\.gz is not a readable support bundle/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});

test('a snapshot with samples: the bundle lists them (sources.txt, manifest with every file and its SHA-256), doctor --from judges them', () => {
  const snap = 'fixtures/snapshots/vxlan/underlay-drops-vxlan-samples.json';
  const file = join(dir, 'b5.tar.gz');
  assert.equal(cli(['bundle', '--from', snap, '-f', file]).status, 0);
  const x = mkdtempSync(join(dir, 'x-'));
  execFileSync('tar', ['xzf', file, '-C', x, '--strip-components=1']);
  const manifest = JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8')) as {
    files: { name: string; bytes: number; sha256: string }[];
    samples: { status: string; interfaces: { name: string; error: string | null }[] };
  };
  const listed = manifest.files.map((f) => f.name);
  assert.ok(listed.includes('snapshot.json') && listed.includes('samples/sources.txt'), listed.join(' '));
  for (const f of manifest.files) {
    const body = readFileSync(join(x, f.name));
    assert.equal(body.length, f.bytes, f.name);
    assert.equal(createHash('sha256').update(body).digest('hex'), f.sha256, f.name);
  }
  assert.equal(manifest.samples.status, 'ok');
  assert.deepEqual(manifest.samples.interfaces.map((i) => i.name).sort(), [
    'node1/eth0',
    'node1/flannel.1',
    'node2/eth0',
    'node2/flannel.1',
    'node3/eth0',
    'node3/flannel.1',
  ]);
  assert.match(
    readFileSync(join(x, 'samples/sources.txt'), 'utf8'),
    /^node3\/eth0: \d+ packets, \d+ received by filter, 0 dropped by kernel$/m,
  );
  const d = cli(['doctor', '--from', file, '-o', 'json']);
  assert.equal(d.status, 2);
  const findings = (JSON.parse(d.stdout) as { findings: { check: string; node: string; peer: string }[] }).findings;
  assert.deepEqual(
    findings.map((f) => [f.check, f.node, f.peer]),
    [['underlay-samples', 'node2', 'node3']],
  );
});

test('bundle --samples-duration out of range or not a duration: one line, exit 3', () => {
  for (const v of ['0.5s', '3m', 'soon']) {
    const r = cli(['bundle', '--from', SNAP, '--samples-duration', v, '-f', join(dir, 'never.tar.gz')]);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--samples-duration: "[^"]+" (must be between 1s and 2m|is not a duration)/);
  }
});
