import { defineCheck } from '../check.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'flanneld-health',
  severity: 'error',
  title: 'flanneld answers /healthz and /readyz on its node while its pod shows Running',
  failureModes: [],
  docs: {
    meaning:
      'flanneld serves /healthz (the process is alive) and /readyz (200 only once its rules and subnet.env are written) on --healthz-port. Here the flannel pod is Running and ready, but flanneld on the node does not answer, or answers /readyz with an error: it is hung (stopped, deadlocked, as at start-up on very large clusters) or dead while the kubelet has not noticed yet.',
    impact:
      'A hung flanneld no longer follows the cluster: routes, fdb and neighbour entries for nodes that join or change are never written, and a restart of its node loses them all. The pod status says nothing is wrong.',
    fix: 'Restart flanneld on <node>: kubectl -n <namespace> delete pod <flannel pod on the node>. If it hangs again at start-up on a large cluster, raise EVENT_QUEUE_DEPTH (flannel PR #2251).',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const health = ok(n.host?.flanneldHealth);
    const pods = ok(model.snapshot.cluster.flannelPods);
    if (!health || !pods) return;
    // A pod that is already down is flannel-pod-unhealthy's finding; this one is for the pod that looks fine.
    const pod = pods.find((p) => p.node === n.name && p.phase === 'Running' && p.ready && p.waitingReason === null);
    if (!pod) return;
    const url = (p: string) => `http://127.0.0.1:${health.port}/${p}`;
    const evidence = [
      `pod ${pod.namespace}/${pod.name}: Running, ready`,
      `GET ${url('healthz')}: ${health.healthz.detail}`,
      `GET ${url('readyz')}: ${health.readyz.detail}`,
    ];
    const fix = `Restart flanneld on ${n.name}: kubectl -n ${pod.namespace} delete pod ${pod.name}`;
    if (health.healthz.code !== 200) {
      report({
        node: n.name,
        message: `flanneld does not answer /healthz on :${health.port} (${health.healthz.code === null ? 'no answer' : `HTTP ${health.healthz.code}`}) although pod ${pod.name} shows Running: flanneld is hung or dead`,
        evidence,
        fix,
      });
    } else if (health.readyz.code !== 200) {
      report({
        node: n.name,
        message: `flanneld is alive but not ready (/readyz: ${health.readyz.code === null ? 'no answer' : `HTTP ${health.readyz.code}`}): it has not written its rules and subnet.env`,
        evidence,
        fix,
      });
    }
  },
});
