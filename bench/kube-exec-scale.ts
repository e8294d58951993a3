/**
 * Benchmark: how per-node collection scales with the number of nodes in flight, beyond the
 * lab's 3 nodes. Each "virtual node" is a full per-node collection (collectHost through a
 * NodeRunner exec'ing into a real kube-flannel pod of the lab, round-robin over its nodes), so
 * every exec is real; only the node count is multiplied.
 *
 *   npx tsc -p . && node_modules/.bin/node dist/bench/kube-exec-scale.js [--max 48]
 *
 * Prints, per (virtual nodes, concurrency): wall time, time per node, execs/s and peak RSS.
 */

import fs from 'node:fs';
import os from 'node:os';
import { mapLimit, readClusterState, usablePod } from '../src/collectors/api/cluster.js';
import { collectHost } from '../src/collectors/node/host.js';
import { NodeRunner } from '../src/collectors/node/pod-runner.js';
import { KubeClient } from '../src/kube/client.js';
import { makeExec } from '../src/kube/exec.js';
import { loadKubeConfig } from '../src/kube/kubeconfig.js';

const kubeconfig = process.env['KF_LAB_KUBECONFIG'] ?? '/var/run/kubectl-flannel-lab/kubeconfig';
const maxIdx = process.argv.indexOf('--max');
const max = maxIdx > 0 ? Number(process.argv[maxIdx + 1]) : 48;
if (!fs.existsSync(kubeconfig)) {
  process.stdout.write(`lab not up (${kubeconfig} missing): nothing measured\n`);
  process.exit(0);
}
const cfg = loadKubeConfig({ kubeconfig });
const client = new KubeClient(cfg.kc, 30_000);
const read = await readClusterState(client, {});
const exec = makeExec(cfg.kc);
const targets = read.nodes.map((n) => ({
  node: n.name,
  pod: usablePod(read.podsByNode.get(n.name) ?? [], read.location.container)!,
}));

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

async function round(
  virtualNodes: number,
  concurrency: number,
): Promise<{ wallMs: number; execs: number; ok: number; rssMiB: number }> {
  peakRss = process.memoryUsage().rss;
  let execs = 0;
  let ok = 0;
  const started = performance.now();
  await mapLimit(
    Array.from({ length: virtualNodes }, (_, i) => targets[i % targets.length]!),
    concurrency,
    async (t) => {
      const runner = new NodeRunner({
        node: t.node,
        exec,
        flannelPod: {
          namespace: read.location.namespace,
          pod: t.pod.metadata!.name!,
          container: read.location.container,
        },
        helpers: null,
        timeoutMs: 30_000,
      });
      const host = await collectHost(t.node, runner, {
        keepKeys: false,
        peerAddresses: [],
        backend: 'vxlan',
        timeoutMs: 30_000,
      });
      execs += host.raw.length;
      if (host.links.status === 'ok') ok++;
    },
  );
  return { wallMs: Math.round(performance.now() - started), execs, ok, rssMiB: Math.round(peakRss / 1048576) };
}

process.stdout.write(
  `lab: ${targets.length} real nodes; CPU ${os.cpus().length} cores, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}\n`,
);
process.stdout.write('virtual nodes  concurrency  wall ms  ms/node  execs/s  peak RSS MiB  ok\n');
for (const concurrency of [32, 4]) {
  for (const n of [3, 6, 12, 24, max].filter((v, i, a) => v <= max && a.indexOf(v) === i)) {
    const r = await round(n, concurrency);
    process.stdout.write(
      `${String(n).padStart(13)}  ${String(concurrency).padStart(11)}  ${String(r.wallMs).padStart(7)}  ${String(Math.round(r.wallMs / n)).padStart(7)}  ${String(Math.round((r.execs * 1000) / r.wallMs)).padStart(7)}  ${String(r.rssMiB).padStart(12)}  ${String(r.ok).padStart(2)}\n`,
    );
  }
}
clearInterval(sampler);
