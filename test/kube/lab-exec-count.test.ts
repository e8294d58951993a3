/**
 * One exec per node: the API server's own counter of pods/exec requests
 * (apiserver_request_total{subresource="exec"}, from /metrics) before and after one doctor run
 * on the lab grows by at most the number of nodes. Skips when the lab is not up.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import https from 'node:https';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { LAB_KUBECONFIG, type Lab, requireLab, skipUnlessLab } from './lab-support.js';

const run = promisify(execFile);
const skip = await skipUnlessLab();

/** Sum of apiserver_request_total over every series of the exec subresource. */
async function execRequests(lab: Lab): Promise<number> {
  const kc = lab.cfg.kc;
  const server = new URL(kc.getCurrentCluster()?.server ?? '');
  const opts: https.RequestOptions = { host: server.hostname, port: server.port, path: '/metrics', method: 'GET' };
  await kc.applyToHTTPSOptions(opts);
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get(opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`/metrics: HTTP ${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });
  let total = 0;
  for (const line of body.split('\n')) {
    if (line.startsWith('apiserver_request_total{') && line.includes('subresource="exec"'))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

test('lab: one doctor run opens at most one exec session per node (apiserver_request_total)', { skip }, async () => {
  const lab = await requireLab();
  const before = await execRequests(lab);
  const r = await run('bin/kubectl-flannel', ['doctor', '--kubeconfig', LAB_KUBECONFIG, '-o', 'json'], {
    maxBuffer: 64 * 1024 * 1024,
  }).catch((e: { code: number; stdout: string; stderr: string }) => e);
  const after = await execRequests(lab);
  const report = JSON.parse(r.stdout) as { summary: { nodesCollected: number } };
  assert.equal(report.summary.nodesCollected, lab.nodes.length, r.stderr);
  assert.ok(after - before >= 1, 'the counter moved: doctor did exec');
  assert.ok(
    after - before <= lab.nodes.length,
    `${after - before} exec requests for ${lab.nodes.length} nodes\n${r.stderr}`,
  );
});
