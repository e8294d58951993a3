/**
 * One measured collection, in its own process so peak RSS belongs to it alone.
 * usage: node collect-child.js KUBECONFIG CONCURRENCY NODE[,NODE…]
 * prints one JSON line: { nodes, concurrency, wallMs, maxRssMiB, hostsOk }
 */
import { collectSnapshot } from '../src/collectors/cluster-collect.js';

const [kubeconfig, concurrency, nodes] = process.argv.slice(2) as [string, string, string];
const nodeNames = nodes.split(',');
const started = performance.now();
const snap = await collectSnapshot({
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
process.stdout.write(`${JSON.stringify({ nodes: nodeNames.length, concurrency: Number(concurrency), wallMs, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), hostsOk })}\n`);
