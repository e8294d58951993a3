// route-decision on the fault fixtures twice: with the kernel's own answers (collected by one
// `ip -batch` per node) and with those answers removed, so the offline FIB model answers
// instead. Both must name the same nodes, peers and winners: the model replaces the kernel
// faithfully on snapshots that lack its answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import type { HostState, Snapshot } from '../../src/snapshot/types.js';

const FIXTURES = [
  'vxlan/policy-rule-other-table',
  'host-gw/hostgw-policy-rule-other-table',
  'vxlan/peer-podcidr-shadowed',
  'vxlan/blackhole-in-local-table',
  'vxlan/prohibit-for-forwarded-pods',
];

function withoutKernelAnswers(s: Snapshot): Snapshot {
  const hosts = Object.fromEntries(
    Object.entries(s.hosts).map(([k, h]) => {
      if (h.status !== 'ok') return [k, h];
      const { routeDecisions: _dropped, ...rest } = h.data;
      return [k, { status: 'ok', data: rest as HostState }];
    }),
  );
  return { ...s, hosts };
}

const summary = (s: Snapshot) =>
  analyze(s, { only: ['route-decision'] }).findings.map((f) => ({
    node: f.node,
    peer: f.peer,
    severity: f.severity,
    decidedBy: f.evidence.find((e) => e.startsWith('decided by:')) ?? null,
    fix: f.fix,
  }));

for (const name of FIXTURES) {
  test(`route-decision on ${name}: the offline model names what the kernel's answers name`, () => {
    const snapshot = JSON.parse(readFileSync(`fixtures/snapshots/${name}.json`, 'utf8')) as Snapshot;
    assert.ok(
      Object.values(snapshot.hosts).every((h) => h.status === 'ok' && h.data.routeDecisions?.status === 'ok'),
      'the fixture carries kernel answers',
    );
    const kernel = summary(snapshot);
    assert.equal(kernel.length, 1);
    assert.deepEqual(summary(withoutKernelAnswers(snapshot)), kernel);
  });
}

test('route-decision: a healthy snapshot without kernel answers stays silent under the model', () => {
  for (const backend of ['vxlan', 'host-gw', 'vxlan-dualstack', 'wireguard', 'udp', 'ipip']) {
    const s = JSON.parse(readFileSync(`fixtures/snapshots/${backend}/healthy.json`, 'utf8')) as Snapshot;
    assert.deepEqual(summary(withoutKernelAnswers(s)), [], backend);
  }
});
