import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EXIT, UserError } from '../../src/errors.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';

function kubeconfig(opts: {
  clusters: [string, string][];
  contexts: [string, string, string?][];
  current?: string;
  users?: string[];
}): string {
  const users = opts.users ?? [...new Set(opts.contexts.map(([, , u]) => u ?? 'u'))];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    ...opts.clusters.flatMap(([name, server]) => [
      `- name: ${name}`,
      '  cluster:',
      `    server: ${server}`,
      '    certificate-authority: ca.crt',
    ]),
    'users:',
    ...users.flatMap((u) => [`- name: ${u}`, '  user:', `    token: token-${u}`]),
    'contexts:',
    ...opts.contexts.flatMap(([name, cluster, user]) => [
      `- name: ${name}`,
      '  context:',
      `    cluster: ${cluster}`,
      `    user: ${user ?? 'u'}`,
      `    namespace: ns-${name}`,
    ]),
    ...(opts.current ? [`current-context: ${opts.current}`] : []),
    '',
  ].join('\n');
}

function tmpdir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-kubeconfig-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  assert.fail('expected a UserError');
}

test('--kubeconfig wins over KUBECONFIG and HOME, and relative CA paths resolve against the file', (t) => {
  const dir = tmpdir(t);
  const a = path.join(dir, 'a.yaml');
  fs.writeFileSync(
    a,
    kubeconfig({ clusters: [['c1', 'https://10.0.0.1:6443']], contexts: [['ctx1', 'c1']], current: 'ctx1' }),
  );
  const b = path.join(dir, 'b.yaml');
  fs.writeFileSync(
    b,
    kubeconfig({ clusters: [['c2', 'https://10.0.0.2:6443']], contexts: [['ctx2', 'c2']], current: 'ctx2' }),
  );
  const loaded = loadKubeConfig({ kubeconfig: a }, { KUBECONFIG: b, HOME: dir });
  assert.equal(loaded.server, 'https://10.0.0.1:6443');
  assert.equal(loaded.context, 'ctx1');
  assert.equal(loaded.namespace, 'ns-ctx1');
  assert.deepEqual(loaded.sources, [a]);
  assert.equal(loaded.kc.getCurrentCluster()?.caFile, path.join(dir, 'ca.crt'));
});

test('KUBECONFIG merges like kubectl: first file wins per name and for current-context, missing files skipped, duplicates allowed', (t) => {
  const dir = tmpdir(t);
  const a = path.join(dir, 'a.yaml');
  // a has no current-context; b sets one; c redefines cluster "shared" (ignored: a defined it first).
  fs.writeFileSync(a, kubeconfig({ clusters: [['shared', 'https://first:6443']], contexts: [['one', 'shared']] }));
  const b = path.join(dir, 'b.yaml');
  fs.writeFileSync(
    b,
    kubeconfig({ clusters: [['other', 'https://other:6443']], contexts: [['two', 'other']], current: 'one' }),
  );
  const c = path.join(dir, 'c.yaml');
  fs.writeFileSync(
    c,
    kubeconfig({ clusters: [['shared', 'https://second:6443']], contexts: [['one', 'shared']], current: 'two' }),
  );
  const env = { KUBECONFIG: [a, path.join(dir, 'missing.yaml'), b, c].join(':'), HOME: dir };
  const loaded = loadKubeConfig({}, env);
  assert.equal(loaded.context, 'one');
  assert.equal(loaded.server, 'https://first:6443');
  assert.deepEqual(loaded.sources, [a, b, c]);
  const other = loadKubeConfig({ context: 'two' }, env);
  assert.equal(other.server, 'https://other:6443');
  assert.equal(other.namespace, 'ns-two');
});

test('falls back to ~/.kube/config when neither flag nor KUBECONFIG is given', (t) => {
  const dir = tmpdir(t);
  fs.mkdirSync(path.join(dir, '.kube'));
  fs.writeFileSync(
    path.join(dir, '.kube', 'config'),
    kubeconfig({ clusters: [['h', 'https://home:6443']], contexts: [['home', 'h']], current: 'home' }),
  );
  const loaded = loadKubeConfig({}, { HOME: dir });
  assert.equal(loaded.server, 'https://home:6443');
});

test('no kubeconfig anywhere is a clear error, not a silent localhost:8080', (t) => {
  const dir = tmpdir(t);
  const e = userError(() => loadKubeConfig({}, { HOME: dir }, path.join(dir, 'no-token')));
  assert.equal(e.exitCode, EXIT.cluster);
  assert.match(
    e.message,
    /no kubeconfig found: --kubeconfig not given, KUBECONFIG not set, .*\.kube\/config does not exist/,
  );
});

test('bad inputs name the input and what is wrong', (t) => {
  const dir = tmpdir(t);
  const good = path.join(dir, 'good.yaml');
  fs.writeFileSync(
    good,
    kubeconfig({
      clusters: [['c', 'https://c:6443']],
      contexts: [
        ['a', 'c'],
        ['b', 'c'],
      ],
    }),
  );
  assert.match(
    userError(() => loadKubeConfig({ kubeconfig: path.join(dir, 'nope') }, {})).message,
    /--kubeconfig .*nope: no such file/,
  );
  assert.match(
    userError(() => loadKubeConfig({ kubeconfig: good, context: 'zzz' }, {})).message,
    /--context zzz: no such context in .*good.yaml \(available: a, b\)/,
  );
  assert.match(
    userError(() => loadKubeConfig({ kubeconfig: good }, {})).message,
    /no current-context in .*; pass --context \(available: a, b\)/,
  );
  const broken = path.join(dir, 'broken.yaml');
  fs.writeFileSync(broken, 'clusters:\n- name: x\n  cluster: {}\n');
  assert.match(
    userError(() => loadKubeConfig({ kubeconfig: broken }, {})).message,
    /kubeconfig .*broken.yaml cannot be read: clusters\[0\].cluster.server is missing/,
  );
  const yamlError = path.join(dir, 'yaml.yaml');
  fs.writeFileSync(yamlError, 'clusters: [\n');
  assert.match(userError(() => loadKubeConfig({ kubeconfig: yamlError }, {})).message, /yaml.yaml cannot be read/);
  const dangling = path.join(dir, 'dangling.yaml');
  fs.writeFileSync(
    dangling,
    kubeconfig({ clusters: [['c', 'https://c:6443']], contexts: [['a', 'nocluster']], current: 'a' }),
  );
  assert.match(
    userError(() => loadKubeConfig({ kubeconfig: dangling }, {})).message,
    /context a refers to cluster nocluster, which is not defined/,
  );
  assert.match(
    userError(() => loadKubeConfig({}, { KUBECONFIG: path.join(dir, 'x') + ':' + path.join(dir, 'y') })).message,
    /KUBECONFIG lists .*x, .*y, but none of these files exists/,
  );
});
