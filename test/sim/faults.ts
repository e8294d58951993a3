/**
 * The catalog's simulator faults (src/analyzers/fault-catalog), each joined with its injection (inject.ts): used
 * to generate the broken fixtures, by the live tests and by the trace tests.
 */
import { FAULT_CATALOG } from '../../src/analyzers/fault-catalog/catalog.js';
import type { FaultEntry, SimPackaging } from '../../src/analyzers/fault-catalog/types.js';
import type { SimBackend, SimCluster } from './cluster.js';
import { SIM_INJECT } from './inject.js';

export interface Fault {
  readonly id: string;
  readonly backend: SimBackend;
  readonly description: string;
  readonly sim: SimPackaging;
  apply(c: SimCluster): void;
}

export const FAULTS: readonly Fault[] = FAULT_CATALOG.filter(
  (e): e is FaultEntry & { sim: SimPackaging } => e.sim !== undefined,
).map((e) => {
  const apply = SIM_INJECT[e.id];
  if (!apply) throw new Error(`fault catalog: ${e.id} has a sim packaging but test/sim/inject.ts has no injection`);
  return { id: e.id, backend: e.sim.backend, description: e.changes, sim: e.sim, apply };
});
