/**
 * Benchmark: live collection wall time and peak memory as the node count grows, on the lab.
 *
 *   npx tsc -p . && node_modules/.bin/node dist/bench/kube-collect.js [--repeat N]
 *
 * For k = 1 … all lab nodes, collects k nodes with the default concurrency (32: all in
 * parallel, so the time should stay flat) and with --concurrency 1 (serial, for contrast).
 * Each run is a fresh process; the figure is the median of --repeat runs (default 3).
 * Uses the lab's kubeconfig (KF_LAB_KUBECONFIG overrides); exits 0 with a note if the lab is down.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/kubeconfig.js';

const run = promisify(execFile);
const kubeconfig = process.env['KF_LAB_KUBECONFIG'] ?? '/var/run/kubectl-flannel-lab/kubeconfig';
const repeatIdx = process.argv.indexOf('--repeat');
const repeat = repeatIdx > 0 ? Number(process.argv[repeatIdx + 1]) : 3;

if (!fs.existsSync(kubeconfig)) {
  process.stdout.write(`lab not up (${kubeconfig} missing): nothing measured\n`);
  process.exit(0);
}
const cfg = loadKubeConfig({ kubeconfig });
const nodes = (await new KubeClient(cfg.kc, 10_000).listNodes()).map((n) => n.metadata?.name ?? '').sort();
const child = new URL('./collect-child.js', import.meta.url).pathname;

interface Sample {
  nodes: number;
  concurrency: number;
  wallMs: number;
  nodePhaseMs: number;
  maxRssMiB: number;
  hostsOk: number;
}

async function measure(k: number, concurrency: number): Promise<Sample> {
  const samples: Sample[] = [];
  for (let i = 0; i < repeat; i++) {
    const { stdout } = await run(process.execPath, [
      child,
      kubeconfig,
      String(concurrency),
      nodes.slice(0, k).join(','),
    ]);
    samples.push(JSON.parse(stdout.trim().split('\n').at(-1)!) as Sample);
  }
  samples.sort((a, b) => a.wallMs - b.wallMs);
  return samples[Math.floor(samples.length / 2)]!;
}

process.stdout.write(
  `lab: ${nodes.length} nodes; median of ${repeat} runs per row; helper pods off (every node has a flannel pod)\n`,
);
process.stdout.write(
  `CPU: ${os.cpus().length} cores, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}\n`,
);
process.stdout.write('nodes  concurrency  wall ms  node phase ms  peak RSS MiB  nodes ok\n');
for (const concurrency of [32, 1]) {
  for (let k = 1; k <= nodes.length; k++) {
    const s = await measure(k, concurrency);
    process.stdout.write(
      `${String(s.nodes).padStart(5)}  ${String(s.concurrency).padStart(11)}  ${String(s.wallMs).padStart(7)}  ${String(s.nodePhaseMs).padStart(13)}  ${String(s.maxRssMiB).padStart(12)}  ${String(s.hostsOk).padStart(8)}\n`,
    );
  }
}
