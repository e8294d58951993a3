/** The assertions shared by the fixture tests and the live simulated-cluster tests. */
import assert from 'node:assert/strict';
import { analyze } from '../../src/analyzers/run.js';
import type { Snapshot } from '../../src/snapshot/types.js';
import type { SimBackend } from '../sim/cluster.js';
import { type Fault, HEALTHY_INFO_ALLOWED } from '../sim/faults.js';

export function assertHealthy(backend: SimBackend, snapshot: Snapshot): void {
  const { findings } = analyze(snapshot);
  const allowed = HEALTHY_INFO_ALLOWED[backend] ?? [];
  const unexpected = findings.filter((f) => !(f.severity === 'info' && allowed.includes(f.check)));
  assert.deepEqual(
    unexpected.map((f) => `${f.severity} ${f.check} ${f.node}: ${f.message}`),
    [],
    `healthy ${backend} must give no findings`,
  );
}

export function assertFault(fault: Fault, snapshot: Snapshot): void {
  const { findings } = analyze(snapshot);
  for (const want of fault.expect) {
    const hit = findings.find(
      (f) =>
        f.check === want.check &&
        f.node === want.node &&
        (want.peer === undefined || f.peer === want.peer) &&
        [f.message, ...f.evidence].some((e) => want.evidence.test(e)),
    );
    assert.ok(
      hit,
      `${fault.id}: expected ${want.check} on ${want.node ?? 'cluster'}${want.peer ? ` toward ${want.peer}` : ''} with evidence ${want.evidence}; got:\n${findings.map((f) => `  ${f.check} ${f.node} ${f.peer ?? ''}: ${f.message} | ${f.evidence.join(' | ')}`).join('\n')}`,
    );
  }
  for (const want of fault.expect) {
    const same = findings.filter(
      (f) => f.check === want.check && f.node === want.node && (want.peer === undefined || f.peer === want.peer),
    );
    if (want.count !== undefined)
      assert.equal(same.length, want.count, `${fault.id}: ${want.check} on ${want.node} count`);
    if (want.severity !== undefined)
      assert.deepEqual(
        same.map((f) => f.severity),
        same.map(() => want.severity),
        `${fault.id}: ${want.check} on ${want.node} severity`,
      );
  }
  const allowed = new Set([
    ...fault.expect.map((e) => e.check),
    ...(fault.alsoAllowed ?? []),
    ...(HEALTHY_INFO_ALLOWED[fault.backend] ?? []),
  ]);
  const extra = findings.filter((f) => !allowed.has(f.check));
  assert.deepEqual(
    extra.map((f) => `${f.check} ${f.node}: ${f.message}`),
    [],
    `${fault.id}: findings from checks the fault does not explain`,
  );
}
