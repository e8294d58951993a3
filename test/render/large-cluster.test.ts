// The report of a 1,000-node cluster with one cause: one headline, one fix, one screen.
// The snapshot is bench/synthetic.ts's: 999 routes, neighbours and fdb entries per node, and
// node-0 moved to a new underlay IP that every peer's fdb entry missed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syntheticSnapshot } from '../../bench/synthetic.js';
import { analyze } from '../../src/analyzers/run.js';
import { buildReport } from '../../src/render/report.js';
import { renderJSON } from '../../src/render/structured.js';
import { styleFor } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import type { HostState, Snapshot } from '../../src/snapshot/types.js';

const plain = styleFor({ isTTY: false }, {}, true);
const columns = (line: string) => [...line].length;

test('1,000 nodes, node-0 moved: one headline naming node-0, 999 nodes, one restart command; < 50 KB, ≤ 120 columns', () => {
  const snapshot = syntheticSnapshot(1000, 'underlay-ip-changed');
  const report = buildReport(snapshot, analyze(snapshot));
  assert.equal(report.findings.length, 999);
  assert.ok(report.findings.every((f) => f.check === 'vxlan-fdb' && f.peer === 'node-0' && f.severity === 'error'));
  assert.equal(report.groups.length, 1);
  const [g] = report.groups;
  assert.equal(g!.nodes.length, 999);
  assert.ok(!g!.nodes.includes('node-0'));
  assert.deepEqual(g!.peers, ['node-0']);

  const text = renderText(report, plain, 120);
  assert.ok(Buffer.byteLength(text) < 50_000, `report is ${Buffer.byteLength(text)} bytes`);
  const lines = text.split('\n');
  for (const l of lines) assert.ok(columns(l) <= 120, `line of ${columns(l)} columns: ${l.slice(0, 80)}…`);
  const headlines = lines.filter((l) => /^ {2}✖ /.test(l));
  assert.equal(headlines.length, 1);
  assert.match(
    headlines[0]!,
    /^ {2}✖ 999 nodes hold the same wrong state about node-0: fdb entry for node-0's VtepMAC/,
  );
  assert.match(text, /on 999 nodes: node-\[1-999\]\n/);
  // One example's evidence, not 999.
  assert.equal(lines.filter((l) => l.includes('│ actual: 0a:58:00:00:00:00 dev flannel.1 dst 172.16.0.0')).length, 1);
  // The pods on every node but node-0, and none elsewhere in the namespace.
  assert.match(
    text,
    /kubectl -n kube-flannel get pod -o name --field-selector spec\.nodeName!=node-0 \| grep '\^pod\/kube-flannel-ds-' \\\n\s+\| xargs kubectl -n kube-flannel delete\n/,
  );
  // The matrix would be 1,000 columns wide: a summary of the pairs instead.
  assert.doesNotMatch(text, /╔/);
  assert.match(text, /999 node\(s\) → node-0 \(vxlan-fdb ×999\): node-\[1-999\]/);

  // An 80-column terminal: still one headline, nothing wider.
  const narrow = renderText(report, plain, 80);
  for (const l of narrow.split('\n')) assert.ok(columns(l) <= 80, `line of ${columns(l)} columns: ${l}`);

  // JSON keeps every finding and adds the group, pointing at them.
  const doc = JSON.parse(renderJSON(report)) as { findings: unknown[]; groups: { findings: number[] }[] };
  assert.equal(doc.findings.length, 999);
  assert.deepEqual(
    doc.groups[0]!.findings,
    Array.from({ length: 999 }, (_, i) => i),
  );
});

test('one node that programmed none of its peers: one headline for that node, listing the peers', () => {
  const snapshot = syntheticSnapshot(40);
  const host = (snapshot.hosts['node-7'] as { data: HostState }).data;
  const broken: Snapshot = {
    ...snapshot,
    hosts: { ...snapshot.hosts, 'node-7': { status: 'ok', data: { ...host, fdb: { status: 'ok', data: [] } } } },
  };
  const report = buildReport(broken, analyze(broken));
  assert.equal(report.findings.length, 39);
  assert.ok(report.findings.every((f) => f.check === 'vxlan-fdb' && f.node === 'node-7'));
  assert.equal(report.groups.length, 1);
  const g = report.groups[0]!;
  assert.equal(g.kind, 'node');
  assert.deepEqual(g.nodes, ['node-7']);
  assert.equal(g.peers.length, 39);
  const text = renderText(report, plain, 120);
  const headlines = text.split('\n').filter((l) => /^ {2}✖ /.test(l));
  assert.equal(headlines.length, 1);
  assert.match(headlines[0]!, /node-7 is wrong about 39 peers: no fdb entry for node-0's VtepMAC/);
  assert.match(text, /for 39 peers: node-\[0-6,8-39\]\n/);
  assert.match(text, /kubectl -n kube-flannel delete pod kube-flannel-ds-7\n/);
});

test('healthy 300 nodes: nothing found, nothing grouped', () => {
  const snapshot = syntheticSnapshot(300);
  const report = buildReport(snapshot, analyze(snapshot));
  assert.deepEqual([report.findings.length, report.groups.length], [0, 0]);
  assert.match(renderText(report, plain, 120), /^✔ No problems found \(300\/300 nodes collected/);
});
