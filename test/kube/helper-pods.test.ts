/**
 * The helper pod spec, checked field by field. That the API server accepts it (and that it is
 * created, runs and is deleted) is tested against the lab in lab.test.ts.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HELPER_LABELS,
  HELPER_SELECTOR,
  helperPodName,
  helperPodSpec,
  labelSafe,
  NODE_LABEL,
  RUN_LABEL,
} from '../../src/collectors/node/helper-pods.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const opts = {
  namespace: 'kube-flannel',
  image: 'ghcr.io/flannel-io/flannel:v0.28.9',
  imagePullSecrets: [],
  runId: 'a1b2c3',
  deadlineSeconds: 600,
};

test('the helper pod is pinned to its node, uses the host network and PID namespaces, and is labelled for cleanup', () => {
  const pod = helperPodSpec('worker-1', opts);
  assert.equal(pod.spec?.nodeName, 'worker-1');
  assert.equal(pod.spec?.hostNetwork, true);
  assert.equal(pod.spec?.hostPID, true);
  assert.equal(pod.metadata?.namespace, 'kube-flannel');
  assert.deepEqual(pod.metadata?.labels, { ...HELPER_LABELS, [RUN_LABEL]: 'a1b2c3', [NODE_LABEL]: 'worker-1' });
  assert.equal(HELPER_SELECTOR, 'app.kubernetes.io/name=kubectl-flannel,app.kubernetes.io/component=node-helper');
  assert.equal(pod.metadata?.annotations?.['kubectl-flannel/node-name'], 'worker-1');
});

test('the helper pod has a dead-man switch, no restarts and no grace period', () => {
  const pod = helperPodSpec('worker-1', opts);
  assert.equal(pod.spec?.activeDeadlineSeconds, 600);
  assert.equal(pod.spec?.restartPolicy, 'Never');
  assert.equal(pod.spec?.terminationGracePeriodSeconds, 0);
  // sleep outlives nothing: it ends when the deadline would kill it anyway.
  assert.deepEqual(pod.spec?.containers[0]?.command, ['sleep', '600']);
  const expires = Date.parse(pod.metadata?.annotations?.['kubectl-flannel/expires-at'] ?? '');
  assert.ok(Math.abs(expires - (Date.now() + 600_000)) < 5000);
});

test('the helper pod gets NET_ADMIN, NET_RAW and SYS_ADMIN only, not privileged, and no service account token', () => {
  const c = helperPodSpec('worker-1', opts).spec!.containers[0]!;
  assert.equal(c.securityContext?.privileged, false);
  assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'] });
  // allowPrivilegeEscalation=false together with SYS_ADMIN is rejected by API validation, so it must stay unset.
  assert.equal(c.securityContext?.allowPrivilegeEscalation, undefined);
  assert.equal(helperPodSpec('worker-1', opts).spec?.automountServiceAccountToken, false);
});

test('the helper pod tolerates every taint and has requests and limits', () => {
  const pod = helperPodSpec('worker-1', opts);
  assert.deepEqual(pod.spec?.tolerations, [{ operator: 'Exists' }]);
  assert.deepEqual(pod.spec?.containers[0]?.resources, {
    requests: { cpu: '10m', memory: '16Mi' },
    limits: { cpu: '250m', memory: '128Mi' },
  });
});

test('image and pull secrets come from the options; netns and flannel dirs are mounted read-only', () => {
  const pod = helperPodSpec('worker-1', {
    ...opts,
    image: 'registry.local/tools:1',
    imagePullSecrets: ['regcred', 'other'],
  });
  assert.equal(pod.spec?.containers[0]?.image, 'registry.local/tools:1');
  assert.deepEqual(pod.spec?.imagePullSecrets, [{ name: 'regcred' }, { name: 'other' }]);
  const mounts = pod.spec?.containers[0]?.volumeMounts ?? [];
  assert.ok(mounts.every((m) => m.readOnly));
  assert.deepEqual(
    mounts.map((m) => [m.mountPath, m.mountPropagation ?? null]),
    [
      ['/run/flannel', null],
      ['/etc/cni/net.d', null],
      ['/var/run/netns', 'HostToContainer'],
    ],
  );
  assert.equal(helperPodSpec('worker-1', opts).spec?.imagePullSecrets, undefined);
});

test('pod names and node labels stay valid DNS-1123 labels for any node name', () => {
  const long = 'ip-10-0-12-34.eu-west-1.compute.internal.' + 'x'.repeat(100);
  for (const node of ['worker-1', 'Node_With.Dots', long, 'ip-10-0-12-34.eu-west-1.compute.internal']) {
    const pod = helperPodSpec(node, opts);
    const name = pod.metadata!.name!;
    assert.ok(name.length <= 63, `${name} is too long`);
    assert.match(name, DNS1123_LABEL);
    assert.ok(name.startsWith('kubectl-flannel-a1b2c3-'));
    const label = pod.metadata!.labels![NODE_LABEL]!;
    assert.ok(label.length <= 63);
    assert.match(label, DNS1123_LABEL);
    assert.equal(pod.spec?.nodeName, node);
  }
  // Shortened names keep a hash, so two long names with the same start do not collide.
  assert.notEqual(helperPodName(long + 'a', 'r'), helperPodName(long + 'b', 'r'));
  assert.equal(labelSafe('worker-1'), 'worker-1');
});
