import { defineCheck } from '../check.js';
import { diagnoseLog } from '../log-diagnosis.js';

export default defineCheck({
  id: 'flannel-pod-unhealthy',
  severity: 'error',
  title: 'Every flannel pod is running and ready',
  failureModes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 20, 43, 44],
  docs: {
    meaning:
      "A kube-flannel pod is not Running and Ready, is waiting (CrashLoopBackOff, ImagePullBackOff), or restarted recently. The reason is read from its last termination and from flanneld's log lines, matched against the start-up failures flanneld is known to log.",
    impact:
      'Without a running flanneld the node has no lease, no subnet.env and no routes: new pods cannot start and existing pods lose peers that change.',
    fix: 'Fix the cause named in the finding, then delete the pod so the DaemonSet restarts it: kubectl -n kube-flannel delete pod <pod>.',
  },
  scope: 'cluster',
  run({ model }, report) {
    const pods = model.snapshot.cluster.flannelPods;
    if (pods.status !== 'ok') return;
    const at = Date.parse(model.snapshot.collectedAt);
    for (const p of pods.data) {
      const recentRestart = p.lastTermination?.finishedAt
        ? at - Date.parse(p.lastTermination.finishedAt) < 3600_000
        : false;
      const down = p.phase !== 'Running' || !p.ready || p.waitingReason !== null;
      if (!down && !recentRestart) continue;
      const cause = diagnoseLog(p.logTail, p.lastTermination?.reason ?? null);
      const state = [p.phase, p.waitingReason, p.ready ? 'ready' : 'not ready', `${p.restarts} restarts`]
        .filter(Boolean)
        .join(', ');
      report({
        node: p.node,
        severity: down ? 'error' : 'warning',
        message: `flannel pod ${p.name} is ${down ? 'down' : 'restarting'} (${state})${cause ? `: ${cause.cause}` : ''}`,
        evidence: [
          `pod ${p.namespace}/${p.name}: ${state}`,
          ...(p.lastTermination
            ? [
                `last termination: ${p.lastTermination.reason} (exit ${p.lastTermination.exitCode}) at ${p.lastTermination.finishedAt ?? '?'}`,
              ]
            : []),
          ...(cause ? [`log: ${cause.line}`] : p.logTail.slice(-3).map((l) => `log: ${l}`)),
        ],
        fix:
          cause?.fix.replaceAll('<node>', p.node ?? 'the node') ??
          `Restart the flannel pod on ${p.node} (kubectl -n ${p.namespace} delete pod ${p.name}); if it fails again, read its log: kubectl -n ${p.namespace} logs ${p.name} --previous`,
      });
    }
  },
});
