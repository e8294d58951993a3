import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'node-network-unavailable',
  severity: 'error',
  title: 'No node reports NetworkUnavailable=True',
  failureModes: [14],
  docs: {
    meaning:
      "The Node's NetworkUnavailable condition is True. flanneld sets it to False (reason FlannelIsUp) once its lease is complete; True means flanneld never got that far, or something else (a cloud route controller) reset it.",
    impact: 'The scheduler keeps ordinary pods off the node (node.kubernetes.io/network-unavailable taint).',
    fix: "Restart the flannel pod on <node> (once flanneld completes its lease it sets the condition to False itself; if it stays True, read the pod's log).",
  },
  scope: 'node',
  runNode({ node: n }, report) {
    const c = n.kube.networkUnavailable;
    if (c.status !== 'True') return;
    report({
      node: n.name,
      message: `NetworkUnavailable is True${c.reason ? ` (reason ${c.reason})` : ''}`,
      evidence: [`condition NetworkUnavailable=True reason=${c.reason ?? ''}`],
    });
  },
});
