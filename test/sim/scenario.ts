/** One scenario: a simulated cluster of a backend, optionally with one fault applied, collected. */
import { SimCluster, type SimBackend } from './cluster.js';
import type { Fault } from './faults.js';
import type { Snapshot } from '../../src/snapshot/types.js';

export async function runScenario(backend: SimBackend, fault?: Fault): Promise<Snapshot> {
  const c = new SimCluster(backend).build();
  try {
    fault?.apply(c);
    return await c.snapshot(fault ? `simulated ${backend} cluster, fault ${fault.id}: ${fault.description}` : `simulated healthy ${backend} cluster (network namespaces)`);
  } finally {
    c.destroy();
  }
}

export function fixturePath(backend: SimBackend, fault?: Fault): string {
  return `fixtures/snapshots/${backend}/${fault ? fault.id : 'healthy'}.json`;
}
