// `kubectl flannel version` as a user runs it: the plugin's version always; flannel's "unknown", with the
// reason, when no cluster answers (a real refused connection on 127.0.0.1), and still exit 0.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync('bin/kubectl-flannel', args, { encoding: 'utf8', env: { ...process.env, ...env } });

test('version --client -o json: package.json version, this Node and platform; flannel not asked', () => {
  const r = cli(['version', '--client', '-o', 'json']);
  assert.equal(r.status, 0, r.stderr);
  const v = JSON.parse(r.stdout);
  assert.deepEqual(v, {
    kubectlFlannel: {
      version: pkg.version,
      node: process.versions.node,
      platform: `${process.platform}/${process.arch}`,
    },
    flannel: { found: false, version: 'unknown', reason: '--client: the cluster was not asked' },
  });
});

/** A loopback port nothing listens on: bound, then released (fetch refuses the well-known "bad ports"). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('version with an unreachable cluster: flannel "unknown" and why, exit 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kf-version-'));
  const kc = join(dir, 'kubeconfig');
  const port = await closedPort();
  writeFileSync(
    kc,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
  );
  const r = cli(['version', '--kubeconfig', kc]);
  assert.equal(r.status, 0, r.stderr);
  const [plugin, flannel, ...rest] = r.stdout.split('\n');
  assert.equal(
    plugin,
    `kubectl-flannel ${pkg.version} (Node ${process.versions.node}, ${process.platform}/${process.arch})`,
  );
  assert.equal(
    flannel,
    `flannel unknown (cannot reach the API server to list daemonsets.apps in namespace kube-flannel: fetch failed: connect ECONNREFUSED 127.0.0.1:${port})`,
  );
  assert.deepEqual(rest, ['']);
});

test('version without any kubeconfig: "unknown", naming what was looked for', () => {
  const r = cli(['version', '-o', 'json'], { KUBECONFIG: '', HOME: mkdtempSync(join(tmpdir(), 'kf-home-')) });
  assert.equal(r.status, 0, r.stderr);
  const v = JSON.parse(r.stdout);
  assert.equal(v.flannel.version, 'unknown');
  assert.match(v.flannel.reason, /no kubeconfig found/);
});
