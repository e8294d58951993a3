/** The assertions shared by the fixture tests and the live simulated-cluster tests. */
import assert from 'node:assert/strict';
import type { NodeVars, RunVars } from '../../src/analyzers/fault-catalog/types.js';
import { analyze } from '../../src/analyzers/run.js';
import type { Snapshot } from '../../src/snapshot/types.js';
import { mismatches, rolesOf } from '../catalog/match.js';
import type { SimBackend } from '../sim/cluster.js';
import type { Fault } from '../sim/faults.js';

export const SIM_NODES = ['node1', 'node2', 'node3'];

/** A simulated node as test/sim/cluster.ts builds it: nodeK has 192.168.56.1K and 10.244.K.0/24. */
function simNode(name: string): NodeVars {
  const k = name.replace(/^node/, '');
  return { name, ip: `192.168.56.1${k}`, podCIDR: `10.244.${k}.0/24`, podNet: `10.244.${k}.0` };
}

export function assertHealthy(backend: SimBackend, snapshot: Snapshot): void {
  const { findings } = analyze(snapshot);
  assert.deepEqual(
    findings.map((f) => `${f.severity} ${f.check} ${f.node}: ${f.message}`),
    [],
    `healthy ${backend} must give no findings at any severity`,
  );
}

export function assertFault(fault: Fault, snapshot: Snapshot): void {
  const { findings } = analyze(snapshot);
  const roles = rolesOf(SIM_NODES, fault.sim.on);
  const vars: RunVars = { node: simNode(roles.node), peer: simNode(roles.peer), third: simNode(roles.third) };
  assert.deepEqual(mismatches(fault.sim, findings, vars), [], `${fault.id} (${fault.backend} on ${fault.sim.on})`);
}
