/**
 * Turning API objects into snapshot types. The objects are shaped like what kube-apiserver
 * returns for the shipped kube-flannel.yml (and the lab runs the same through a real API server
 * in lab.test.ts).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import {
  daemonSetSelector,
  flagValue,
  normaliseAnnotationPrefix,
  toFlannelPod,
  toKubeNode,
  usablePod,
} from '../../src/collectors/api/cluster.js';
import { redactLogLine } from '../../src/parse/redact/log-line.js';
import { plainProgress } from '../../src/render/progress.js';

test('--kube-annotation-prefix is read from args in any Go flag form, or from FLANNELD_ env', () => {
  assert.equal(
    flagValue(
      ['--ip-masq', '--kube-subnet-mgr', '--kube-annotation-prefix=example.com/flannel'],
      'kube-annotation-prefix',
    ),
    'example.com/flannel',
  );
  assert.equal(flagValue(['-kube-annotation-prefix', 'corp.io'], 'kube-annotation-prefix'), 'corp.io');
  assert.equal(
    flagValue(['--ip-masq'], 'kube-annotation-prefix', [{ name: 'FLANNELD_KUBE_ANNOTATION_PREFIX', value: 'env.io' }]),
    'env.io',
  );
  assert.equal(flagValue(['--ip-masq'], 'kube-annotation-prefix'), undefined);
});

test('annotation prefixes are normalised as flanneld does', () => {
  assert.equal(normaliseAnnotationPrefix('flannel.alpha.coreos.com'), 'flannel.alpha.coreos.com/');
  assert.equal(normaliseAnnotationPrefix('example.com/flannel'), 'example.com/flannel-');
  assert.equal(normaliseAnnotationPrefix('example.com/'), 'example.com/');
});

const node: V1Node = {
  metadata: {
    name: 'node2',
    annotations: {
      'example.com/flannel-backend-data': '{"VNI":1,"VtepMAC":"8e:1c:6b:0d:49:31"}',
      'example.com/flannel-backend-type': 'vxlan',
      'example.com/flannel-public-ip': '10.250.0.12',
      'flannel.alpha.coreos.com/public-ip': '10.9.9.9',
      'node.alpha.kubernetes.io/ttl': '0',
    },
  },
  spec: { podCIDR: '10.244.2.0/24', taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] },
  status: {
    addresses: [
      { type: 'InternalIP', address: '10.250.0.12' },
      { type: 'Hostname', address: 'node2' },
    ],
    conditions: [
      { type: 'Ready', status: 'True' },
      { type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' },
    ],
  },
};

test('Nodes keep only the flannel annotations of the prefix flanneld runs with, podCIDR falls back to spec.podCIDR', () => {
  const k = toKubeNode(node, 'example.com/flannel-');
  assert.deepEqual(k, {
    name: 'node2',
    internalIPs: ['10.250.0.12'],
    podCIDRs: ['10.244.2.0/24'],
    flannelAnnotations: {
      'backend-data': '{"VNI":1,"VtepMAC":"8e:1c:6b:0d:49:31"}',
      'backend-type': 'vxlan',
      'public-ip': '10.250.0.12',
    },
    ready: { status: 'True' },
    networkUnavailable: { status: 'False', reason: 'FlannelIsUp' },
    unschedulable: false,
    taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
  });
  // With the default prefix, the other set is picked.
  assert.deepEqual(toKubeNode(node, 'flannel.alpha.coreos.com/').flannelAnnotations, { 'public-ip': '10.9.9.9' });
  assert.deepEqual(toKubeNode({ metadata: { name: 'bare' } }, 'x/').ready, { status: 'absent' });
});

function pod(
  name: string,
  opts: { phase: string; running: boolean; ready: boolean; created: string; deleting?: boolean },
): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'kube-flannel',
      creationTimestamp: new Date(opts.created),
      ...(opts.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: { nodeName: 'node2', containers: [{ name: 'kube-flannel', image: 'ghcr.io/flannel-io/flannel:v0.28.9' }] },
    status: {
      phase: opts.phase,
      containerStatuses: [
        {
          name: 'kube-flannel',
          ready: opts.ready,
          restartCount: 2,
          image: 'ghcr.io/flannel-io/flannel:v0.28.9',
          imageID: '',
          state: opts.running ? { running: {} } : { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: new Date('2026-11-22T01:00:00Z') } },
        },
      ],
    },
  };
}

test('flannel pods: restarts, waiting reason and last termination are kept', () => {
  const p = toFlannelPod(
    pod('kube-flannel-ds-a', { phase: 'Running', running: false, ready: false, created: '2026-01-01' }),
    'kube-flannel',
    ['line'],
  );
  assert.deepEqual(p, {
    name: 'kube-flannel-ds-a',
    namespace: 'kube-flannel',
    node: 'node2',
    phase: 'Running',
    ready: false,
    restarts: 2,
    waitingReason: 'CrashLoopBackOff',
    lastTermination: { reason: 'Error', exitCode: 1, finishedAt: '2026-11-22T01:00:00.000Z' },
    image: 'ghcr.io/flannel-io/flannel:v0.28.9',
    logTail: ['line'],
  });
});

test('the pod to exec into is running, not terminating, ready first, newest first', () => {
  const crashing = pod('a', { phase: 'Running', running: false, ready: false, created: '2026-01-03' });
  const oldReady = pod('b', { phase: 'Running', running: true, ready: true, created: '2026-01-01' });
  const newReady = pod('c', { phase: 'Running', running: true, ready: true, created: '2026-01-02' });
  const terminating = pod('d', { phase: 'Running', running: true, ready: true, created: '2026-01-04', deleting: true });
  const notReady = pod('e', { phase: 'Running', running: true, ready: false, created: '2026-01-05' });
  assert.equal(usablePod([crashing, oldReady, newReady, terminating, notReady], 'kube-flannel')?.metadata?.name, 'c');
  assert.equal(usablePod([crashing, notReady], 'kube-flannel')?.metadata?.name, 'e');
  assert.equal(usablePod([crashing, terminating], 'kube-flannel'), null);
});

test('the DaemonSet selector becomes a label selector string', () => {
  const ds: V1DaemonSet = {
    spec: {
      selector: {
        matchLabels: { app: 'flannel', 'k8s-app': 'flannel' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['node', 'edge'] },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
      template: {},
    },
  };
  assert.equal(daemonSetSelector(ds), 'app=flannel,k8s-app=flannel,tier in (node,edge),!legacy');
});

test('plain progress prints one line per state change, never per command', () => {
  const lines: string[] = [];
  const p = plainProgress((l) => lines.push(l));
  p.onProgress({ type: 'phase', phase: 'cluster', message: 'reading flannel and nodes' });
  p.onProgress({ type: 'nodes', nodes: ['n1', 'n2'] });
  p.onProgress({ type: 'node', node: 'n1', state: 'running', via: 'pod kube-flannel/x', commands: 0 });
  for (let i = 1; i < 20; i++)
    p.onProgress({ type: 'node', node: 'n1', state: 'running', via: 'pod kube-flannel/x', commands: i });
  p.onProgress({
    type: 'node',
    node: 'n2',
    state: 'running',
    via: 'helper pod',
    detail: 'no running kube-flannel pod on this node',
  });
  p.onProgress({ type: 'node', node: 'n1', state: 'ok', via: 'pod kube-flannel/x', commands: 19, durationMs: 1234 });
  p.onProgress({ type: 'node', node: 'n2', state: 'timeout', detail: 'node n2 not collected within 90 s' });
  assert.deepEqual(lines, [
    'reading flannel and nodes',
    'n1: collecting via pod kube-flannel/x',
    'n2: using a helper pod (no running kube-flannel pod on this node)',
    'n1: done in 1.2 s (19 commands via pod kube-flannel/x)',
    'n2: TIMEOUT: node n2 not collected within 90 s',
  ]);
});

test('credentials in flanneld log lines are blanked before they reach a snapshot', () => {
  const line =
    'I1122 02:51:48.552968 9891 main.go:229] CLI flags config: {etcdEndpoints:http://127.0.0.1:4001 etcdKeyfile:/k.pem etcdUsername:root etcdPassword:hunter2 kubeSubnetMgr:true}';
  const red = redactLogLine(line);
  assert.doesNotMatch(red, /hunter2|\/k\.pem/);
  assert.match(red, /etcdPassword:<redacted> kubeSubnetMgr:true/);
  assert.match(red, /etcdUsername:root/);
  assert.equal(redactLogLine('{"PSK": "abcdef", "Type": "ipsec"}'), '{"PSK": "<redacted>", "Type": "ipsec"}');
  assert.equal(redactLogLine('Authorization: Bearer eyJhbGciOi.x.y'), 'Authorization: Bearer <redacted>');
  // An empty value stays empty; the next field is not taken for it.
  assert.equal(redactLogLine('etcdUsername: etcdPassword: version:false'), 'etcdUsername: etcdPassword: version:false');
  assert.equal(
    redactLogLine('flanneld --etcd-password=s3cret --ip-masq'),
    'flanneld --etcd-password=<redacted> --ip-masq',
  );
  const plain =
    'I1122 vxlan_network.go:270] Received Subnet Event with VxLan: BackendType: vxlan, PublicIP: 10.250.0.13';
  assert.equal(redactLogLine(plain), plain);
});
