/**
 * The command layer against the real lab: doctor end to end (stdout/stderr split, --save/--from),
 * helper pods removed on SIGINT and SIGTERM, `cleanup` after SIGKILL, and RBAC errors with a
 * restricted ServiceAccount. Skips, saying why, when the lab is not up; never tears it down and
 * removes every object it creates.
 */

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CoreV1Api, RbacAuthorizationV1Api, type V1PolicyRule } from '@kubernetes/client-node';
import YAML from 'yaml';
import { readClusterState } from '../../src/collectors/api/cluster.js';
import { collectSnapshot } from '../../src/collectors/collect.js';
import { HELPER_SELECTOR, RUN_LABEL } from '../../src/collectors/node/helper-pods.js';
import { LAB_KUBECONFIG, type Lab, notPristine, requireLab, skipUnlessLab } from './lab-support.js';

const run = promisify(execFile);
const skip = await skipUnlessLab();
const CHILD = new URL('./fixtures/helper-child.js', import.meta.url).pathname;
const NODE = process.execPath;

function tmp(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-lab-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The run id doctor prints for its helper pods (`kubectl-flannel/run=…`). */
function runIdOf(stderr: string): string {
  const m = /kubectl-flannel\/run=([0-9a-f]+)/.exec(stderr);
  assert.ok(m, `no run id in: ${stderr}`);
  return m[1]!;
}

async function helperPodsOfRun(lab: Lab, runId: string): Promise<string[]> {
  return (await lab.client.listPods('kube-flannel', { labelSelector: `${RUN_LABEL}=${runId}` })).map(
    (p) => p.metadata?.name ?? '',
  );
}

async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('bin/kubectl-flannel', args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('lab: `kubectl flannel doctor` collects every node, reports on stdout, progress on stderr; --save then --from gives the same report', {
  skip,
}, async (t) => {
  const lab = await requireLab();
  const dir = tmp(t);
  const saved = path.join(dir, 'snap.json');
  const live = await runCli(['doctor', '--kubeconfig', LAB_KUBECONFIG, '--save', saved, '-o', 'json']);
  // 0 on a fresh lab; leftovers of injected faults are warnings, which exit 0 too without --fail-on warning.
  assert.equal(live.code, 0, live.stderr + live.stdout.slice(0, 2000));
  const report = JSON.parse(live.stdout) as {
    verdict: string;
    summary: { nodesCollected: number };
    findings: unknown[];
  };
  assert.equal(report.summary.nodesCollected, lab.nodes.length);
  const dirty = await notPristine(lab);
  if (!dirty) {
    assert.equal(report.verdict, 'clean');
    assert.deepEqual(report.findings, []);
  }
  for (const n of lab.nodes) assert.match(live.stderr, new RegExp(`${n}: done in`));
  const offline = await runCli(['doctor', '--from', saved, '-o', 'json']);
  assert.equal(offline.code, 0);
  const strip = (s: string) => s.replace(/"collectedAt": "[^"]*"/g, '');
  assert.equal(strip(offline.stdout), strip(live.stdout));
  // The saved snapshot holds no bearer tokens, keys or kubeconfig material.
  const text = fs.readFileSync(saved, 'utf8');
  assert.doesNotMatch(text, /BEGIN (RSA |EC )?PRIVATE KEY|client-key-data|Bearer /);
  // Other runs may share the lab, so this run's pods are found by its own run label.
  assert.doesNotMatch(live.stderr, /using a helper pod/);
  assert.deepEqual(await helperPodsOfRun(lab, runIdOf(live.stderr)), []);
});

async function startChild(
  lab: Lab,
  mode: 'guard' | 'noguard',
  namespace = 'kube-flannel',
): Promise<{ child: ReturnType<typeof spawn>; runId: string; pod: string }> {
  const read = await readClusterState(lab.client, {});
  const runId = randomBytes(3).toString('hex');
  const child = spawn(NODE, [CHILD, LAB_KUBECONFIG, lab.nodes[0]!, runId, read.location.image, mode, namespace], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const pod = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready after 90 s: ${err}`)), 90_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited ${code} before ready: ${err}`));
    });
  });
  return { child, runId, pod };
}

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`lab: ${sig} deletes the helper pods before exiting (${code})`, { skip }, async () => {
    const lab = await requireLab();
    const { child, runId, pod } = await startChild(lab, 'guard');
    const before = await lab.client.listPods('kube-flannel', { labelSelector: `${RUN_LABEL}=${runId}` });
    assert.deepEqual(
      before.map((p) => p.metadata?.name),
      [pod],
    );
    const exited = exitOf(child);
    child.kill(sig);
    assert.deepEqual(await exited, { code, signal: null });
    assert.deepEqual(await lab.client.listPods('kube-flannel', { labelSelector: `${RUN_LABEL}=${runId}` }), []);
  });
}

test('lab: after SIGKILL the helper pod is left, and `kubectl flannel cleanup` removes it by label', {
  skip,
}, async (t) => {
  const lab = await requireLab();
  // A namespace of its own, so that `cleanup -n` here and runs sharing the lab cannot take each other's pods.
  const ns = `kf-test-${randomBytes(3).toString('hex')}`;
  const core = lab.cfg.kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  t.after(async () => {
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });
  const { child, runId, pod } = await startChild(lab, 'noguard', ns);
  const exited = exitOf(child);
  child.kill('SIGKILL');
  await exited;
  const left = await lab.client.listPods(ns, { labelSelector: `${RUN_LABEL}=${runId}` });
  assert.deepEqual(
    left.map((p) => p.metadata?.name),
    [pod],
  );
  assert.ok((left[0]!.spec?.activeDeadlineSeconds ?? 0) > 0, 'the dead-man switch is set');
  const r = await runCli(['cleanup', '--kubeconfig', LAB_KUBECONFIG, '-n', ns]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `deleted pod ${ns}/${pod} (node ${lab.nodes[0]})\n`);
  assert.deepEqual(await lab.client.listPods(ns, { labelSelector: HELPER_SELECTOR }), []);
  const again = await runCli(['cleanup', '--kubeconfig', LAB_KUBECONFIG, '-n', ns]);
  assert.equal(again.stdout, 'no helper pods found\n');
});

/** A ServiceAccount bound to `rules`, and a kubeconfig file using its token. Everything is removed after the test. */
async function restrictedKubeconfig(
  t: { after(fn: () => Promise<void>): void },
  lab: Lab,
  rules: V1PolicyRule[],
  dir: string,
): Promise<string> {
  const id = `kf-test-${randomBytes(3).toString('hex')}`;
  const core = lab.cfg.kc.makeApiClient(CoreV1Api);
  const rbac = lab.cfg.kc.makeApiClient(RbacAuthorizationV1Api);
  t.after(async () => {
    await rbac.deleteClusterRoleBinding({ name: id }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: id }).catch(() => undefined);
    await core.deleteNamespacedServiceAccount({ name: id, namespace: 'default' }).catch(() => undefined);
  });
  await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: id } } });
  await rbac.createClusterRole({ body: { metadata: { name: id }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: id },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: id },
      subjects: [{ kind: 'ServiceAccount', name: id, namespace: 'default' }],
    },
  });
  const tr = await core.createNamespacedServiceAccountToken({
    name: id,
    namespace: 'default',
    body: { spec: { expirationSeconds: 600, audiences: [] } },
  });
  const cluster = lab.cfg.kc.getCurrentCluster()!;
  const caData = cluster.caData ?? fs.readFileSync(cluster.caFile!).toString('base64');
  const file = path.join(dir, `${id}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'lab', cluster: { server: cluster.server, 'certificate-authority-data': caData } }],
      users: [{ name: id, user: { token: tr.status!.token } }],
      contexts: [{ name: id, context: { cluster: 'lab', user: id } }],
      'current-context': id,
    }),
  );
  return file;
}

const clusterRole = YAML.parse(fs.readFileSync('rbac/clusterrole.yaml', 'utf8')) as { rules: V1PolicyRule[] };

test('lab RBAC: rbac/clusterrole.yaml is enough for doctor to collect every node', { skip }, async (t) => {
  const lab = await requireLab();
  const kubeconfig = await restrictedKubeconfig(t, lab, clusterRole.rules, tmp(t));
  const snap = await collectSnapshot({
    mode: 'cluster',
    kube: { kubeconfig },
    requestTimeoutMs: 15_000,
    flannel: {},
    nodeNames: [],
    concurrency: 8,
    nodeTimeoutMs: 90_000,
    commandTimeoutMs: 20_000,
    keepKeys: false,
    helperPods: { enabled: true, imagePullSecrets: [], deadlineSeconds: 300, startTimeoutMs: 60_000 },
  });
  assert.deepEqual(snap.errors, []);
  for (const n of lab.nodes) assert.equal(snap.hosts[n]?.status, 'ok', JSON.stringify(snap.hosts[n]));
});

test('lab RBAC: without pods/exec every node fails with an error naming the verb and resource; without list nodes, only the nodes part does', {
  skip,
}, async (t) => {
  const lab = await requireLab();
  const dir = tmp(t);
  const noExec = clusterRole.rules.filter((r) => !(r.resources ?? []).includes('pods/exec'));
  const kubeconfig = await restrictedKubeconfig(t, lab, noExec, dir);
  const r = await runCli(['doctor', '--kubeconfig', kubeconfig, '-o', 'json', '--no-helper-pods']);
  const report = JSON.parse(r.stdout) as { summary: { nodesCollected: number } };
  assert.ok(report.summary.nodesCollected === 0, r.stdout.slice(0, 500));
  for (const n of lab.nodes)
    assert.match(r.stderr, new RegExp(`${n}: FAILED: .*permission denied: cannot create pods/exec`));
  assert.match(r.stderr, /RBAC needs verb "create" on resource "pods\/exec"/);

  const noNodes = clusterRole.rules.map((rule) =>
    (rule.resources ?? []).includes('nodes') ? { ...rule, verbs: ['get'] } : rule,
  );
  const kc2 = await restrictedKubeconfig(t, lab, noNodes, dir);
  const snap = await collectSnapshot({
    mode: 'cluster',
    kube: { kubeconfig: kc2 },
    requestTimeoutMs: 15_000,
    flannel: {},
    nodeNames: [],
    concurrency: 8,
    nodeTimeoutMs: 90_000,
    commandTimeoutMs: 20_000,
    keepKeys: false,
    helperPods: { enabled: false, imagePullSecrets: [], deadlineSeconds: 300, startTimeoutMs: 60_000 },
  });
  assert.equal(snap.cluster.nodes.status, 'failed');
  assert.match(
    snap.cluster.nodes.status === 'failed' ? snap.cluster.nodes.error : '',
    /permission denied: cannot list nodes \(RBAC needs verb "list" on resource "nodes"/,
  );
  // The nodes that run a flannel pod are still collected.
  for (const n of lab.nodes) assert.equal(snap.hosts[n]?.status, 'ok', JSON.stringify(snap.hosts[n]));
});

test('lab: partial results: a node whose exec is refused is reported with its reason, the others are collected and analysed', {
  skip,
}, async (t) => {
  const lab = await requireLab();
  const read = await readClusterState(lab.client, {});
  const [denied, ...allowed] = lab.nodes;
  const allowedPods = allowed.map((n) => read.podsByNode.get(n)![0]!.metadata!.name!);
  // RBAC can name the pods exec is allowed into: every node but the first.
  const rules = clusterRole.rules.map((r) =>
    (r.resources ?? []).includes('pods/exec') ? { ...r, resourceNames: allowedPods } : r,
  );
  const kubeconfig = await restrictedKubeconfig(t, lab, rules, tmp(t));
  const r = await runCli(['doctor', '--kubeconfig', kubeconfig, '-o', 'json', '--no-helper-pods']);
  const report = JSON.parse(r.stdout) as { summary: { nodesCollected: number; nodes: number } };
  assert.equal(report.summary.nodesCollected, allowed.length, r.stdout.slice(0, 800));
  assert.match(
    r.stderr,
    new RegExp(`${denied}: FAILED: no command ran on node ${denied}: permission denied: cannot create pods/exec`),
  );
  for (const n of allowed) assert.match(r.stderr, new RegExp(`${n}: done in`));
});

test('lab: --node-timeout marks a node that takes too long as timed out, with the reason', { skip }, async () => {
  const lab = await requireLab();
  const snap = await collectSnapshot({
    mode: 'cluster',
    kube: { kubeconfig: LAB_KUBECONFIG },
    requestTimeoutMs: 15_000,
    flannel: {},
    nodeNames: [lab.nodes[0]!],
    concurrency: 4,
    nodeTimeoutMs: 50,
    commandTimeoutMs: 20_000,
    keepKeys: false,
    helperPods: { enabled: false, imagePullSecrets: [], deadlineSeconds: 300, startTimeoutMs: 60_000 },
  });
  const h = snap.hosts[lab.nodes[0]!];
  assert.equal(h?.status, 'timeout', JSON.stringify(h));
  assert.match(h?.status === 'timeout' ? h.error : '', /not collected within 50 ms \(--node-timeout\)/);
  assert.ok(snap.errors.some((e) => e.node === lab.nodes[0] && e.what === 'node-timeout'));
});

test('lab: flannel not where it is looked for: the error says what was looked for and where (exit 4)', {
  skip,
}, async () => {
  const r = await runCli(['doctor', '--kubeconfig', LAB_KUBECONFIG, '--flannel-namespace', 'kube-system']);
  assert.equal(r.code, 4);
  assert.match(
    r.stderr,
    /flannel not found: looked for a DaemonSet labelled app=flannel in namespace kube-system\. If flannel is installed elsewhere, pass --flannel-namespace/,
  );
  const ds = await runCli(['doctor', '--kubeconfig', LAB_KUBECONFIG, '--flannel-daemonset', 'nope']);
  assert.equal(ds.code, 4);
  assert.match(ds.stderr, /looked for DaemonSet nope in namespaces kube-flannel, kube-system/);
  const cm = await runCli(['doctor', '--kubeconfig', LAB_KUBECONFIG, '--flannel-configmap', 'nope', '-o', 'json']);
  assert.match(cm.stdout, /not found: get configmaps nope in namespace kube-flannel/);
});

test("lab: trace NAME of a pod outside the context's namespace says where it is (exit 3, nothing collected)", {
  skip,
}, async () => {
  // lab/pods.sh puts the test pods in kfl-e2e; the lab's context has no namespace, so a bare name means default
  const lab = await requireLab();
  const [pod] = (await lab.client.listPods('kfl-e2e')).map((p) => p.metadata?.name ?? '');
  assert.ok(pod, 'the lab has test pods in kfl-e2e');
  const r = await runCli(['trace', '--kubeconfig', LAB_KUBECONFIG, pod, pod]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(
    r.stderr,
    `kubectl-flannel: no pod ${pod} in namespace default (the context's namespace); give NAMESPACE/NAME: kfl-e2e/${pod}\n`,
  );
  const none = await runCli(['trace', '--kubeconfig', LAB_KUBECONFIG, 'no-such-pod', pod]);
  assert.equal(none.code, 3, none.stderr);
  assert.equal(
    none.stderr,
    "kubectl-flannel: no pod no-such-pod in namespace default (the context's namespace), nor in any other namespace\n",
  );
});

test('lab: a node selector the API server cannot parse is a usage error naming --selector (exit 3), no node collected', {
  skip,
}, async () => {
  const r = await runCli(['doctor', '--kubeconfig', LAB_KUBECONFIG, '-l', '!!bad']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^kubectl-flannel: --selector !!bad: the API server refused it: unable to parse requirement/m);
  assert.doesNotMatch(r.stderr, /collecting/);
  assert.equal(r.stdout, '');
});

test('lab: doctor --node-access helper-pod collects every node through helper pods and leaves none behind', {
  skip,
}, async () => {
  const lab = await requireLab();
  const r = await runCli(['doctor', '--kubeconfig', LAB_KUBECONFIG, '--node-access', 'helper-pod', '-o', 'json']);
  const report = JSON.parse(r.stdout) as { summary: { nodesCollected: number } };
  assert.equal(report.summary.nodesCollected, lab.nodes.length, r.stderr);
  for (const n of lab.nodes)
    assert.match(r.stderr, new RegExp(`${n}: done in .* via helper pod \\(--node-access helper-pod\\)`));
  assert.match(r.stderr, new RegExp(`deleting ${lab.nodes.length} helper pod\\(s\\)`));
  assert.deepEqual(await helperPodsOfRun(lab, runIdOf(r.stderr)), []);
});

test('lab: Ctrl-C on doctor while its helper pods run: exit 130 and no pod left', { skip }, async () => {
  const lab = await requireLab();
  // One node at a time keeps the run busy (helper start, collection) while the signal arrives.
  const child = spawn(
    'bin/kubectl-flannel',
    ['doctor', '--kubeconfig', LAB_KUBECONFIG, '--node-access', 'helper-pod', '--concurrency', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = exitOf(child);
  // Wait until this run's first helper pod exists, then interrupt.
  const deadline = Date.now() + 60_000;
  while (!/kubectl-flannel\/run=/.test(stderr) || (await helperPodsOfRun(lab, runIdOf(stderr))).length === 0) {
    assert.ok(Date.now() < deadline, `no helper pod appeared: ${stderr}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  child.kill('SIGINT');
  const { code } = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: stopping; helper pods are deleted before exit/);
  assert.deepEqual(await helperPodsOfRun(lab, runIdOf(stderr)), []);
});
