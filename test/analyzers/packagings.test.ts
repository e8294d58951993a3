/**
 * The packaging- and mode-specific analysis on real data: flannel's own nft output (fixtures/raw/nft,
 * from flannel-io/flannel#2273's layout, captured from the kernel) read by the nft parser against
 * the rules flanneld v0.28.9 writes, and flanneld's health probe on a real healthy fixture.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { nftTable, normaliseNftRule } from '../../src/analyzers/nft.js';
import { analyze } from '../../src/analyzers/run.js';
import { parsePrefix } from '../../src/net/cidr.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import type { FlanneldHealth, HostState, Snapshot } from '../../src/snapshot/types.js';

test("nft's printed rules are read per table and chain, counters and comments dropped", () => {
  const text = readFileSync('fixtures/raw/nft/ruleset.txt', 'utf8');
  const t = nftTable(text, 'ip', 'flannel-ipv4');
  assert.ok(t);
  assert.equal(t.chains.get('postrtg')?.base, 'type nat hook postrouting priority srcnat; policy accept;');
  const pod = parsePrefix('10.244.1.0/24')!.text;
  assert.deepEqual(t.chains.get('postrtg')?.rules, [
    'meta mark 0x00004000 return',
    `ip saddr ${pod} ip daddr 10.244.0.0/16 return`,
    `ip saddr 10.244.0.0/16 ip daddr ${pod} return`,
    `ip saddr != ${pod} ip daddr 10.244.0.0/16 return`,
    'ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random',
    'ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random',
  ]);
  // iptables-nft's own tables are not flanneld's nftables-mode tables.
  assert.equal(nftTable(text, 'ip', 'nat')?.chains.has('FLANNEL-POSTRTG'), true);
  assert.equal(
    normaliseNftRule('ip saddr 10.244.0.0/16  counter packets 12 bytes 1008 accept comment "x"'),
    'ip saddr 10.244.0.0/16 accept',
  );
});

function withHealth(s: Snapshot, node: string, health: FlanneldHealth, podReady = true): Snapshot {
  const h = s.hosts[node];
  assert.ok(h?.status === 'ok');
  const host: HostState = { ...h.data, flanneldHealth: { status: 'ok', data: health } };
  const pods = s.cluster.flannelPods;
  assert.ok(pods.status === 'ok');
  return {
    ...s,
    hosts: { ...s.hosts, [node]: { status: 'ok', data: host } },
    cluster: {
      ...s.cluster,
      flannelPods: {
        status: 'ok',
        data: pods.data.map((p) => (p.node === node && !podReady ? { ...p, ready: false } : p)),
      },
    },
  };
}

const OK = { code: 200, detail: 'HTTP 200' };
const NONE = { code: null, detail: 'no answer (connection refused or timed out after 2 s)' };

test('a hung flanneld behind a Running pod is found on its node; healthy answers give nothing', async () => {
  const base = await readSnapshot('fixtures/snapshots/vxlan/healthy.json');
  const healthy = withHealth(base, 'node1', { port: 8081, healthz: OK, readyz: OK });
  assert.deepEqual(analyze(healthy).findings, []);
  const hung = analyze(withHealth(base, 'node2', { port: 8081, healthz: NONE, readyz: NONE })).findings;
  assert.deepEqual(
    hung.map((f) => `${f.check} ${f.node} ${f.severity}`),
    ['flanneld-health node2 error'],
  );
  assert.match(hung[0]!.message, /does not answer \/healthz on :8081 \(no answer\)/);
  const notReady = analyze(
    withHealth(base, 'node3', { port: 8081, healthz: OK, readyz: { code: 503, detail: 'HTTP 503' } }),
  ).findings;
  assert.deepEqual(
    notReady.map((f) => `${f.check} ${f.node}`),
    ['flanneld-health node3'],
  );
  // A pod already shown down is flannel-pod-unhealthy's to report, not a second finding.
  const down = analyze(withHealth(base, 'node1', { port: 8081, healthz: NONE, readyz: NONE }, false)).findings;
  assert.deepEqual(
    down.map((f) => f.check),
    ['flannel-pod-unhealthy'],
  );
});
