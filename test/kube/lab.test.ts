/**
 * Against the real lab: a real kube-apiserver with real exec (through KWOK's streaming server
 * into the node's network namespace, where real flanneld runs). Skips, saying why, when the lab
 * is not up. Never tears the lab down; removes every object it creates.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { readClusterState, usablePod } from '../../src/collectors/api/cluster.js';
import { type ClusterCollectOptions, collectSnapshot } from '../../src/collectors/collect.js';
import { HelperPods, newRunId, RUN_LABEL } from '../../src/collectors/node/helper-pods.js';
import { findPodNetns, NodeRunner, netnsRunner } from '../../src/collectors/node/pod-runner.js';
import { KubeClient } from '../../src/kube/client.js';
import { execInPod, makeExec } from '../../src/kube/exec.js';
import { LAB_KUBECONFIG, notPristine, requireLab, skipUnlessLab } from './lab-support.js';

const skip = await skipUnlessLab();

function options(over: Partial<ClusterCollectOptions> = {}): ClusterCollectOptions {
  return {
    mode: 'cluster',
    kube: { kubeconfig: LAB_KUBECONFIG },
    requestTimeoutMs: 15_000,
    flannel: {},
    nodeNames: [],
    concurrency: 8,
    nodeTimeoutMs: 90_000,
    commandTimeoutMs: 20_000,
    keepKeys: false,
    helperPods: { enabled: true, imagePullSecrets: [], deadlineSeconds: 300, startTimeoutMs: 60_000 },
    ...over,
  };
}

test('lab: flannel is found in kube-flannel with its net-conf, nodes carry flannel annotations, pods run', {
  skip,
}, async () => {
  const lab = await requireLab();
  const read = await readClusterState(lab.client, {});
  assert.equal(read.location.namespace, 'kube-flannel');
  assert.equal(read.location.container, 'kube-flannel');
  const flannel = read.state.flannel;
  assert.equal(flannel.status, 'ok');
  if (flannel.status !== 'ok') return;
  assert.equal(flannel.data.netConf.status, 'ok', JSON.stringify(flannel.data.netConf));
  assert.equal(read.state.nodes.status, 'ok');
  assert.deepEqual(
    read.nodes.map((n) => n.name),
    lab.nodes,
  );
  for (const n of read.nodes) {
    assert.equal(
      n.flannelAnnotations['kube-subnet-manager'],
      'true',
      `node ${n.name} annotations: ${JSON.stringify(n.flannelAnnotations)}`,
    );
    assert.ok(n.flannelAnnotations['public-ip'], `node ${n.name} has no public-ip annotation`);
    assert.ok(usablePod(read.podsByNode.get(n.name) ?? [], 'kube-flannel'), `no running flannel pod on ${n.name}`);
  }
  assert.equal(read.state.flannelPods.status, 'ok');
});

test('lab: exec into a kube-flannel pod runs on its node: subnet.env matches the podCIDR; exit codes and missing tools', {
  skip,
}, async () => {
  const lab = await requireLab();
  const read = await readClusterState(lab.client, {});
  const node = read.nodes[0]!;
  const pod = usablePod(read.podsByNode.get(node.name) ?? [], 'kube-flannel')!;
  const exec = makeExec(lab.cfg.kc);
  const target = { namespace: 'kube-flannel', pod: pod.metadata!.name!, container: 'kube-flannel', timeoutMs: 20_000 };
  const env = await execInPod(exec, { ...target, argv: ['cat', '/run/flannel/subnet.env'] });
  assert.equal(env.status, 'ok', JSON.stringify(env));
  const subnet = /FLANNEL_SUBNET=(\S+)/.exec(env.stdout)?.[1];
  assert.ok(subnet, env.stdout);
  const podCIDR = node.podCIDRs[0]!;
  assert.equal(subnet.replace(/\.1\//, '.0/'), podCIDR);
  const nonzero = await execInPod(exec, { ...target, argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
  assert.equal(nonzero.status, 'nonzero');
  assert.equal(nonzero.exitCode, 3);
  assert.equal(nonzero.stdout, 'out\n');
  assert.equal(nonzero.stderr, 'err\n');
  const missing = await execInPod(exec, { ...target, argv: ['kf-no-such-tool'] });
  assert.notEqual(missing.status, 'ok');
  assert.equal(missing.toolMissing, true, JSON.stringify(missing));
});

test('lab: collectSnapshot collects every node through its flannel pod, and a healthy lab has no findings', {
  skip,
}, async (t) => {
  const lab = await requireLab();
  const events: string[] = [];
  let runLabel = '';
  const snap = await collectSnapshot(
    options({
      onProgress: (e) => {
        if (e.type === 'node' && e.state !== 'running') events.push(`${e.node}:${e.state}`);
        if (e.type === 'node' && e.detail && e.state === 'running') events.push(`${e.node}:fallback`);
        if (e.type === 'phase' && e.phase === 'nodes') runLabel = /kubectl-flannel\/run=\w+/.exec(e.message)?.[0] ?? '';
      },
    }),
  );
  assert.deepEqual(Object.keys(snap.hosts).sort(), lab.nodes);
  for (const [name, h] of Object.entries(snap.hosts)) {
    assert.equal(h.status, 'ok', `${name}: ${JSON.stringify(h)}`);
    if (h.status !== 'ok') continue;
    assert.match(h.data.via, /^pod kube-flannel\/kube-flannel-/);
    assert.equal(h.data.links.status, 'ok');
    assert.ok(
      h.data.links.status === 'ok' &&
        h.data.links.data.some((l) => l.name === 'flannel.1' || l.kind === 'vxlan' || l.name === 'cni0'),
      `${name}: no flannel links`,
    );
  }
  assert.deepEqual(
    events.sort(),
    lab.nodes.map((n) => `${n}:ok`),
  );
  const dirty = await notPristine(lab);
  if (dirty) {
    t.skip(`collection checked; "no findings" not asserted: ${dirty}`);
    return;
  }
  const result = analyze(snap);
  assert.deepEqual(
    result.findings.map((f) => `${f.check} ${f.node ?? ''}: ${f.message}`),
    [],
  );
  // No helper pod was needed (no fallback event), and none of this run is left.
  assert.ok(runLabel, 'the run label is announced');
  assert.deepEqual(await lab.client.listPods('kube-flannel', { labelSelector: runLabel }), []);
});

test('lab: --node and --selector focus collection, other nodes stay in the snapshot', { skip }, async () => {
  const lab = await requireLab();
  const one = lab.nodes[1] ?? lab.nodes[0]!;
  const snap = await collectSnapshot(options({ nodeNames: [one] }));
  assert.deepEqual(Object.keys(snap.hosts), [one]);
  assert.equal(snap.cluster.nodes.status === 'ok' && snap.cluster.nodes.data.length, lab.nodes.length);
  const sel = await collectSnapshot(options({ nodeSelector: `kubernetes.io/hostname=${one}` }));
  assert.deepEqual(Object.keys(sel.hosts), [one]);
  await assert.rejects(collectSnapshot(options({ nodeNames: ['no-such-node'] })), /--node no-such-node: no such node/);
});

test('lab: a helper pod is created on the node, runs commands there, and is deleted', { skip }, async () => {
  const lab = await requireLab();
  const node = lab.nodes[0]!;
  const read = await readClusterState(lab.client, {});
  const runId = newRunId();
  const helpers = new HelperPods(
    lab.client,
    { namespace: 'kube-flannel', image: read.location.image, imagePullSecrets: [], runId, deadlineSeconds: 120 },
    60_000,
  );
  try {
    const runner = new NodeRunner({ node, exec: makeExec(lab.cfg.kc), flannelPod: null, helpers, timeoutMs: 20_000 });
    const r = await runner.run(['cat', '/run/flannel/subnet.env']);
    assert.equal(r.exitCode, 0, JSON.stringify(r));
    assert.match(r.stdout, /FLANNEL_NETWORK=10\.244\.0\.0\/16/);
    assert.match(runner.description, /helper pod \(no running kube-flannel pod on this node\)/);
    const pods = await lab.client.listPods('kube-flannel', { labelSelector: `${RUN_LABEL}=${runId}` });
    assert.equal(pods.length, 1);
    const spec = pods[0]!.spec!;
    assert.equal(spec.nodeName, node);
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.activeDeadlineSeconds, 120);
  } finally {
    const del = await helpers.deleteAll();
    assert.equal(del.failed.length, 0, JSON.stringify(del.failed));
  }
  assert.deepEqual(await lab.client.listPods('kube-flannel', { labelSelector: `${RUN_LABEL}=${runId}` }), []);
});

test('lab: a pod network namespace is found under /var/run/netns by the pod IP, through a helper pod, and commands run inside it', {
  skip,
}, async () => {
  const lab = await requireLab();
  const pods = await lab.client.listPods('kfl-e2e');
  const pod = pods.find((p) => p.status?.podIP && p.spec?.nodeName);
  assert.ok(pod, 'the lab has test pods in kfl-e2e');
  const node = pod.spec!.nodeName!;
  const podIP = pod.status!.podIP!;
  const read = await readClusterState(lab.client, {});
  const helpers = new HelperPods(
    lab.client,
    {
      namespace: 'kube-flannel',
      image: read.location.image,
      imagePullSecrets: [],
      runId: newRunId(),
      deadlineSeconds: 120,
    },
    60_000,
  );
  try {
    const runner = new NodeRunner({
      node,
      exec: makeExec(lab.cfg.kc),
      flannelPod: null,
      helpers,
      timeoutMs: 20_000,
    }).helperOnly();
    const ns = await findPodNetns(runner, podIP);
    assert.ok(ns?.startsWith('/var/run/netns/'), `netns of ${podIP}: ${ns}`);
    const r = await netnsRunner(runner, ns!).run(['ip', '-o', '-4', 'addr', 'show']);
    assert.equal(r.exitCode, 0, JSON.stringify(r));
    assert.match(r.stdout, new RegExp(`inet ${podIP.replace(/\./g, '\\.')}/`));
    assert.equal(await findPodNetns(runner, '10.244.250.250'), null);
  } finally {
    assert.deepEqual((await helpers.deleteAll()).failed, []);
  }
});

test('lab: when the flannel pod is gone (404 on exec), the node runner switches to a helper pod', {
  skip,
}, async () => {
  const lab = await requireLab();
  const node = lab.nodes[0]!;
  const read = await readClusterState(lab.client, {});
  const helpers = new HelperPods(
    lab.client,
    {
      namespace: 'kube-flannel',
      image: read.location.image,
      imagePullSecrets: [],
      runId: newRunId(),
      deadlineSeconds: 120,
    },
    60_000,
  );
  const reasons: string[] = [];
  try {
    const runner = new NodeRunner({
      node,
      exec: makeExec(lab.cfg.kc),
      flannelPod: { namespace: 'kube-flannel', pod: 'kube-flannel-ds-vanished', container: 'kube-flannel' },
      helpers,
      timeoutMs: 20_000,
      onFallback: (r) => reasons.push(r),
    });
    const r = await runner.run(['cat', '/run/flannel/subnet.env']);
    assert.equal(r.exitCode, 0, JSON.stringify(r));
    assert.match(r.stdout, /FLANNEL_SUBNET=/);
    assert.deepEqual(reasons, ['kube-flannel pod kube-flannel-ds-vanished disappeared']);
    assert.match(runner.description, /^helper pod \(kube-flannel pod kube-flannel-ds-vanished disappeared\)$/);
  } finally {
    assert.deepEqual((await helpers.deleteAll()).failed, []);
  }
});

test('lab: lists are read in pages and reassembled (page size 1)', { skip }, async () => {
  const lab = await requireLab();
  const paged = new KubeClient(lab.cfg.kc, 15_000, undefined, 1);
  const nodes = (await paged.listNodes()).map((n) => n.metadata?.name).sort();
  assert.deepEqual(nodes, lab.nodes);
  const pods = await paged.listPods('kube-flannel', { labelSelector: 'app=flannel' });
  assert.equal(pods.length, lab.nodes.length);
  assert.equal(new Set(pods.map((p) => p.metadata?.name)).size, pods.length);
});

test('lab: a node deadline that fires after its node finished does not become an unhandled rejection', {
  skip,
}, async (t) => {
  const lab = await requireLab();
  const seen: unknown[] = [];
  const onRejection = (e: unknown) => seen.push(e);
  process.on('unhandledRejection', onRejection);
  t.after(() => process.off('unhandledRejection', onRejection));
  const snap = await collectSnapshot(options({ nodeNames: [lab.nodes[0]!], nodeTimeoutMs: 2500 }));
  assert.equal(snap.hosts[lab.nodes[0]!]?.status, 'ok');
  // Wait past the deadline: long runs outlive the deadlines of their first nodes.
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(seen, []);
});

test('lab: API calls share one pooled connection instead of one agent and socket per request', { skip }, () => {
  // In a child process, so connections of the other tests cannot blur the count.
  const child = new URL('./fixtures/conn-child.js', import.meta.url).pathname;
  const connections = Number(execFileSync(process.execPath, [child, LAB_KUBECONFIG], { encoding: 'utf8' }).trim());
  // client-node alone leaves 20 keep-alive sockets open here (one undici Agent per request).
  assert.ok(connections >= 1 && connections <= 2, `${connections} connections for 20 requests`);
});
