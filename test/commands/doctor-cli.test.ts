// doctor --from as a user runs it: through the bin/kubectl-flannel launcher, on the bundled fixtures.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYAML } from 'yaml';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('bin/kubectl-flannel', args, {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const HEALTHY = 'fixtures/snapshots/vxlan/healthy.json';
const EXAMPLE = 'fixtures/example/broken-vxlan.json';
const WARNINGS_ONLY = 'fixtures/snapshots/vxlan/stale-node-entries.json';

test('healthy cluster: one clean verdict line, exit 0', () => {
  const r = run(['doctor', '--from', HEALTHY]);
  assert.equal(r.code, 0);
  assert.match(r.out, /^✔ No problems found \(3\/3 nodes collected, backend vxlan, \d+ checks\)\n$/);
});

test('broken cluster: verdict first, grouped by severity and node, exit 2', () => {
  const r = run(['doctor', '--from', EXAMPLE]);
  assert.equal(r.code, 2);
  const lines = r.out.split('\n');
  assert.match(lines[0]!, /^✖ 5 errors, 5 warnings on 3 nodes/);
  assert.ok(r.out.indexOf('Errors (5)') < r.out.indexOf('Warnings (5, 1 shared cause)'));
  assert.match(r.out, /node2\n(.*\n)*?.*net\.ipv4\.ip_forward is 0 \[ip-forward\]/);
  assert.match(r.out, /Problems between node pairs/);
});

test('-o json: an object with findings carrying check, severity, node, message, evidence', () => {
  const r = run(['doctor', '--from', EXAMPLE, '-o', 'json']);
  assert.equal(r.code, 2);
  const doc = JSON.parse(r.out) as {
    findings: { check: string; severity: string; node: string | null; message: string; evidence: string[] }[];
  };
  const fwd = doc.findings.find((f) => f.check === 'ip-forward');
  assert.deepEqual([fwd?.severity, fwd?.node, fwd?.evidence], ['error', 'node2', ['net.ipv4.ip_forward = 0']]);
  for (const f of doc.findings) assert.ok(typeof f.message === 'string' && Array.isArray(f.evidence) && 'node' in f);
});

test('-o yaml carries the same findings as -o json', () => {
  const y = parseYAML(run(['doctor', '--from', EXAMPLE, '-o', 'yaml']).out) as { findings: unknown[] };
  const j = JSON.parse(run(['doctor', '--from', EXAMPLE, '-o', 'json']).out) as { findings: unknown[] };
  assert.deepEqual(y.findings, j.findings);
});

test('--check and --skip select checks by ID', () => {
  const only = JSON.parse(run(['doctor', '--from', EXAMPLE, '-o', 'json', '--check', 'ip-forward,vxlan-fdb']).out) as {
    findings: { check: string }[];
    checks: string[];
  };
  assert.deepEqual(only.checks, ['ip-forward', 'vxlan-fdb']);
  assert.deepEqual([...new Set(only.findings.map((f) => f.check))].sort(), ['ip-forward', 'vxlan-fdb']);
  const skipped = JSON.parse(run(['doctor', '--from', EXAMPLE, '-o', 'json', '--skip', 'ip-forward']).out) as {
    findings: { check: string }[];
  };
  assert.ok(skipped.findings.length > 0 && !skipped.findings.some((f) => f.check === 'ip-forward'));
});

test('--fail-on warning turns a warnings-only report into exit 1', () => {
  assert.equal(run(['doctor', '--from', WARNINGS_ONLY]).code, 0);
  assert.equal(run(['doctor', '--from', WARNINGS_ONLY, '--fail-on', 'warning']).code, 1);
});

test('colour only on request or a terminal, and never with NO_COLOR', () => {
  assert.doesNotMatch(run(['doctor', '--from', EXAMPLE]).out, /\u001b\[/);
  assert.match(run(['doctor', '--from', EXAMPLE], { FORCE_COLOR: '1' }).out, /\u001b\[31m/);
  assert.doesNotMatch(run(['doctor', '--from', EXAMPLE], { FORCE_COLOR: '1', NO_COLOR: '1' }).out, /\u001b\[/);
  assert.doesNotMatch(run(['doctor', '--from', EXAMPLE, '--no-color'], { FORCE_COLOR: '1' }).out, /\u001b\[/);
});

test('bad input: a clear one-line error naming the input, exit 3, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kf-cli-'));
  writeFileSync(join(dir, 'garbage.json'), '{"schemaVersion": 1, "cluster": ');
  writeFileSync(join(dir, 'other.json'), '{"kind": "List", "items": []}');
  writeFileSync(join(dir, 'future.json'), '{"schemaVersion": 99}');
  const cases: [string[], RegExp][] = [
    [['doctor', '--from', join(dir, 'missing.json')], /cannot read snapshot .*missing\.json: no such file/],
    [['doctor', '--from', join(dir, 'garbage.json')], /garbage\.json is not a snapshot: not valid JSON/],
    [['doctor', '--from', join(dir, 'other.json')], /other\.json is not a snapshot: it has no schemaVersion/],
    [['doctor', '--from', join(dir, 'future.json')], /future\.json has snapshot schemaVersion 99/],
    [['doctor', '--from', dir], /cannot read snapshot .*: is a directory/],
    [['doctor', '--from', HEALTHY, '--check', 'no-such-check'], /unknown check ID "no-such-check"/],
    [['doctor', '--from', HEALTHY, '-o', 'xml'], /argument 'xml' is invalid/],
    [['doctor', '--frmo', HEALTHY], /unknown option '--frmo'/],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    assert.equal(r.code, 3, `${args.join(' ')} exits 3`);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
  }
});

test('a mistyped check ID or an unwritable output is a usage error before the cluster is read', () => {
  // The server is a closed port: reaching for it would end as exit 4 (cluster unreachable), after connecting.
  const dir = mkdtempSync(join(tmpdir(), 'kf-cli-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n' +
      'contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: t}}]\n',
  );
  writeFileSync(join(dir, 'plain'), '');
  const unknown = 'kubectl-flannel: unknown check ID "no-such-check"; `kubectl flannel checks` lists them\n';
  const cases: [string[], string][] = [
    [['doctor', '--check', 'no-such-check'], unknown],
    [['doctor', '--skip', 'no-such-check'], unknown],
    [
      ['doctor', '--save', join(dir, 'no', 's.json')],
      `kubectl-flannel: --save ${join(dir, 'no', 's.json')}: directory ${join(dir, 'no')} does not exist\n`,
    ],
    [['doctor', '--save', dir], `kubectl-flannel: --save ${dir}: is a directory; name a file in it\n`],
    [
      ['doctor', '--save', join(dir, 'plain', 's.json')],
      `kubectl-flannel: --save ${join(dir, 'plain', 's.json')}: a part of the path is not a directory\n`,
    ],
    [
      ['bundle', '-f', join(dir, 'no', 'b.tar.gz')],
      `kubectl-flannel: -f ${join(dir, 'no', 'b.tar.gz')}: directory ${join(dir, 'no')} does not exist\n`,
    ],
    [['bundle', '-f', dir], `kubectl-flannel: -f ${dir}: is a directory; name a file in it\n`],
  ];
  for (const [args, message] of cases) {
    const r = run([...args, '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err, message, args.join(' '));
  }
  // the example too: nothing is analysed under a mistyped name
  assert.equal(run(['doctor', '--example', '--check', 'no-such-check']).code, 3);
});

test('checks lists every check; -o json is machine-readable', () => {
  const list = JSON.parse(run(['checks', '-o', 'json']).out) as {
    id: string;
    severity: string;
    docs: { fix: string };
  }[];
  assert.ok(list.length >= 30);
  assert.ok(
    list.some((c) => c.id === 'vxlan-fdb' && c.severity === 'error' && c.docs.fix.includes('bridge fdb replace')),
  );
});

test('trace --from: exit 0 when the packet arrives, 2 at the first broken hop, 3 for a pod name offline', () => {
  const ok = run(['trace', '--from', HEALTHY, '10.244.1.2', '10.244.3.2']);
  assert.equal(ok.code, 0);
  assert.match(ok.out, /^✔ 10\.244\.1\.2 \(pod on node1\) reaches 10\.244\.3\.2 \(pod on node3\)/);
  const broken = run([
    'trace',
    '--from',
    'fixtures/snapshots/vxlan/fdb-deleted.json',
    '10.244.2.2',
    '10.244.3.2',
    '-o',
    'json',
  ]);
  assert.equal(broken.code, 2);
  const t = JSON.parse(broken.out) as { brokenAt: number; hops: { step: string; node: string }[] };
  assert.deepEqual([t.hops[t.brokenAt]!.step, t.hops[t.brokenAt]!.node], ['fdb', 'node2']);
  const bad = run(['trace', '--from', HEALTHY, 'default/client', '10.244.3.2']);
  assert.equal(bad.code, 3);
  assert.match(bad.err, /SRC and DST must be IP addresses \("default\/client" is not\)/);
});

test('trace --size: the header names the size; a packet a device cannot carry breaks there; bad sizes are one line', () => {
  const mtu = 'fixtures/snapshots/vxlan/cni0-mtu-below-flannel-mtu.json';
  const dies = run(['trace', '--from', mtu, '10.244.1.2', '10.244.2.2']);
  assert.equal(dies.code, 2);
  assert.match(dies.out, /^✖ .* hop \d+ breaks \(a 1450-byte packet, DF\)$/m);
  assert.match(dies.out, /a 1450-byte packet does not fit cni0 \(mtu 1400\) on node2/);
  const fits = run(['trace', '--from', mtu, '10.244.1.2', '10.244.2.2', '--size', '1400']);
  assert.equal(fits.code, 0);
  assert.match(fits.out, /^✔ .* reaches .* \(a 1400-byte packet, DF\)$/m);
  for (const v of ['12x', '20', '70000', '-5', '1e3']) {
    const r = run(['trace', '--from', mtu, '10.244.1.2', '10.244.2.2', '--size', v]);
    assert.equal(r.code, 3, `--size ${v} exits 3`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, new RegExp(`--size "${v.replace('-', '\\-')}" is not a packet size`));
  }
});
