import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Command } from 'commander';
import {
  addClusterOptions,
  type ClusterFlagValues,
  clusterOptionsFrom,
  parseDuration,
} from '../../src/commands/cluster-options.js';
import { UserError } from '../../src/errors.js';

const run = promisify(execFile);

function parse(args: string[]): ClusterFlagValues {
  const cmd = addClusterOptions(new Command('doctor').exitOverride().configureOutput({ writeErr: () => undefined }));
  cmd.parse(args, { from: 'user' });
  return cmd.opts<ClusterFlagValues>();
}

test('durations follow kubectl: Go units, or a bare number of seconds', () => {
  assert.equal(parseDuration('30s', 'x'), 30_000);
  assert.equal(parseDuration('1m30s', 'x'), 90_000);
  assert.equal(parseDuration('500ms', 'x'), 500);
  assert.equal(parseDuration('2h', 'x'), 7_200_000);
  assert.equal(parseDuration('15', 'x'), 15_000);
  assert.equal(parseDuration('0', 'x'), 0);
  assert.throws(() => parseDuration('5x', '--node-timeout'), /--node-timeout: "5x" is not a duration/);
  assert.throws(() => parseDuration('', '--node-timeout'), /not a duration/);
  assert.throws(() => parseDuration('1m junk', '--node-timeout'), /not a duration/);
});

test('defaults: 32 nodes at once, helper pods on with a 10 min deadline, no --flannel-* restriction (discovery tries app=flannel, Canal, embedded)', () => {
  const o = clusterOptionsFrom(parse([]));
  assert.equal(o.mode, 'cluster');
  if (o.mode !== 'cluster') return;
  assert.equal(o.concurrency, 32);
  assert.equal(o.requestTimeoutMs, 30_000);
  assert.equal(o.nodeTimeoutMs, 90_000);
  assert.equal(o.commandTimeoutMs, 20_000);
  assert.deepEqual(o.flannel, {
    namespace: undefined,
    daemonSet: undefined,
    selector: undefined,
    configMap: undefined,
  });
  assert.equal(o.helperPods.enabled, true);
  assert.equal(o.helperPods.deadlineSeconds, 600);
  assert.equal(o.helperPods.image, undefined);
  assert.deepEqual(o.nodeNames, []);
  assert.equal(o.handleSignals, true);
});

test('flags map onto collection options: nodes repeatable and comma-separated, selector, image, pull secrets', () => {
  const o = clusterOptionsFrom(
    parse([
      '--kubeconfig',
      '/k',
      '--context',
      'lab',
      '--request-timeout',
      '5s',
      '--node',
      'a,b',
      '--node',
      'c',
      '-l',
      'role=worker',
      '--concurrency',
      '4',
      '--node-timeout',
      '2m',
      '--image',
      'img:1',
      '--image-pull-secret',
      's1',
      '--image-pull-secret',
      's2',
      '--no-helper-pods',
      '--flannel-namespace',
      'kube-system',
      '--flannel-daemonset',
      'kube-flannel-ds-amd64',
      '--flannel-configmap',
      'cfg',
    ]),
  );
  assert.equal(o.mode, 'cluster');
  if (o.mode !== 'cluster') return;
  assert.deepEqual(o.kube, { kubeconfig: '/k', context: 'lab' });
  assert.equal(o.requestTimeoutMs, 5000);
  assert.deepEqual(o.nodeNames, ['a', 'b', 'c']);
  assert.equal(o.nodeSelector, 'role=worker');
  assert.equal(o.concurrency, 4);
  assert.equal(o.nodeTimeoutMs, 120_000);
  assert.equal(o.helperPods.enabled, false);
  assert.equal(o.helperPods.image, 'img:1');
  assert.deepEqual(o.helperPods.imagePullSecrets, ['s1', 's2']);
  assert.deepEqual(o.flannel, {
    namespace: 'kube-system',
    daemonSet: 'kube-flannel-ds-amd64',
    selector: undefined,
    configMap: 'cfg',
  });
});

test('--local and --netns: local mode, and cluster-only flags are refused with a clear message', (t) => {
  // --netns must name a namespace that exists: this test makes its own.
  const n1 = `kfco${process.pid}`;
  execFileSync('ip', ['netns', 'add', n1]);
  t.after(() => execFileSync('ip', ['netns', 'del', n1]));
  assert.deepEqual(clusterOptionsFrom(parse(['--local', '--netns', n1])), {
    mode: 'local',
    netns: n1,
    keepKeys: false,
    commandTimeoutMs: 20_000,
  });
  assert.throws(
    () => clusterOptionsFrom(parse(['--netns', 'n1'])),
    (e: unknown) => e instanceof UserError && /--netns needs --local/.test(e.message),
  );
  assert.throws(
    () => clusterOptionsFrom(parse(['--local', '--node', 'x', '--kubeconfig', '/k'])),
    (e: unknown) =>
      e instanceof UserError &&
      /--local does not use the cluster, so --kubeconfig, --node cannot be combined with it/.test(e.message),
  );
  assert.throws(() => clusterOptionsFrom(parse(['--helper-deadline', '10s'])), /--helper-deadline 10s is too short/);
  assert.throws(() => parse(['--concurrency', '0']), /--concurrency: "0" is not a positive whole number/);
});

test('the CLI: doctor without any kubeconfig exits 4 with one line saying where it looked', async (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-home-'));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const env = { ...process.env, HOME: home, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' };
  const r = await run('bin/kubectl-flannel', ['doctor'], { env }).then(
    () => assert.fail('doctor should fail without a kubeconfig'),
    (e: { code: number; stderr: string; stdout: string }) => e,
  );
  assert.equal(r.code, 4);
  assert.match(
    r.stderr,
    /kubectl-flannel: no kubeconfig found: --kubeconfig not given, KUBECONFIG not set, .*\.kube\/config does not exist/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stdout, '');
});

test('the CLI: cleanup against an API server that refuses connections exits 4 naming the request', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-kc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const kc = path.join(dir, 'config');
  // A port that was just free: nothing listens there, so the connection is refused at once.
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  fs.writeFileSync(
    kc,
    `apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n`,
  );
  const r = await run('bin/kubectl-flannel', ['cleanup', '--kubeconfig', kc]).then(
    () => assert.fail('cleanup should fail'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(r.code, 4);
  assert.match(r.stderr, /cannot reach the API server to list pods: .*ECONNREFUSED/);
});

test("completion speaks Cobra's protocol: commands, flags, choices, files, and contexts from the kubeconfig", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-comp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const kc = path.join(dir, 'config');
  fs.writeFileSync(
    kc,
    'apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: lab-a\n  context:\n    cluster: c\n    user: u\n- name: lab-b\n  context:\n    cluster: c\n    user: u\n- name: prod\n  context:\n    cluster: c\n    user: u\n',
  );
  const complete = async (...words: string[]) =>
    (await run('bin/kubectl_complete-flannel', words)).stdout.split('\n').filter(Boolean);
  const top = await complete('');
  assert.ok(top.some((l) => l.startsWith('doctor\t')) && top.some((l) => l.startsWith('cleanup\t')));
  assert.equal(top.at(-1), ':4');
  assert.ok(!top.some((l) => l.startsWith('__complete')));
  assert.deepEqual((await complete('doctor', '--node-t')).slice(0, 1), [
    '--node-timeout\tgive up on a node after this long',
  ]);
  assert.deepEqual(await complete('doctor', '-o', 'y'), ['yaml', ':4']);
  assert.deepEqual(await complete('doctor', '--kubeconfig', ''), [':0']);
  assert.deepEqual(await complete('doctor', '--kubeconfig', kc, '--context', 'lab'), ['lab-a', 'lab-b', ':4']);
});

test('--node-access: auto by default; flannel-pod disables helper pods; helper-pod forces them', () => {
  const auto = clusterOptionsFrom(parse([]));
  const flannelOnly = clusterOptionsFrom(parse(['--node-access', 'flannel-pod']));
  const helperOnly = clusterOptionsFrom(parse(['--node-access', 'helper-pod']));
  assert.ok(auto.mode === 'cluster' && auto.helperPods.enabled && !auto.helperPods.always);
  assert.ok(flannelOnly.mode === 'cluster' && !flannelOnly.helperPods.enabled);
  assert.ok(helperOnly.mode === 'cluster' && helperOnly.helperPods.enabled && helperOnly.helperPods.always);
  assert.throws(() => clusterOptionsFrom(parse(['--node-access', 'helper-pod', '--no-helper-pods'])), /contradict/);
  assert.throws(() => parse(['--node-access', 'ssh']), /argument 'ssh' is invalid/);
});
