/**
 * One measured collection, in its own process so peak RSS belongs to it alone.
 * usage: node collect-child.js KUBECONFIG CONCURRENCY NODE[,NODE…]
 * prints one JSON line: { nodes, concurrency, wallMs, nodePhaseMs, maxRssMiB, hostsOk }
 */
import { collectSnapshot } from '../src/collectors/collect.js';

const [kubeconfig, concurrency, nodes] = process.argv.slice(2) as [string, string, string];
const nodeNames = nodes.split(',');
const started = performance.now();
let nodesStarted = 0;
const snap = await collectSnapshot({
  onProgress: (e) => {
    if (e.type === 'phase' && e.phase === 'nodes') nodesStarted = performance.now();
  },
  mode: 'cluster',
  kube: { kubeconfig },
  requestTimeoutMs: 30_000,
  flannel: {},
  nodeNames,
  concurrency: Number(concurrency),
  nodeTimeoutMs: 120_000,
  commandTimeoutMs: 30_000,
  keepKeys: false,
  helperPods: { enabled: false, imagePullSecrets: [], deadlineSeconds: 300, startTimeoutMs: 60_000 },
});
const wallMs = Math.round(performance.now() - started);
const hostsOk = Object.values(snap.hosts).filter((h) => h.status === 'ok').length;
const nodePhaseMs = Math.round(performance.now() - nodesStarted);
process.stdout.write(
  `${JSON.stringify({ nodes: nodeNames.length, concurrency: Number(concurrency), wallMs, nodePhaseMs, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), hostsOk })}\n`,
);
