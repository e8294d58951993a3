/** One scenario: a simulated cluster of a backend, optionally with one fault applied, collected. */

import type { Snapshot } from '../../src/snapshot/types.js';
import { type SimBackend, SimCluster } from './cluster.js';
import type { Fault } from './faults.js';
import { RING, sampleCluster } from './samples.js';

export async function runScenario(backend: SimBackend, fault?: Fault): Promise<Snapshot> {
  return runWithFaults(backend, fault ? [fault] : []);
}

export async function runWithFaults(backend: SimBackend, faults: readonly Fault[]): Promise<Snapshot> {
  const c = new SimCluster(backend).build();
  try {
    for (const f of faults) f.apply(c);
    const what = faults.length ? `faults: ${faults.map((f) => `${f.id} (${f.description})`).join('; ')}` : 'healthy';
    let snapshot = await c.snapshot(`simulated ${backend} cluster in network namespaces, ${what}`);
    for (const f of faults) if (f.addToSnapshot) snapshot = f.addToSnapshot(snapshot);
    if (faults.some((f) => f.sampled))
      snapshot = { ...snapshot, underlaySamples: { status: 'ok', data: await sampleCluster(c, snapshot, RING) } };
    return snapshot;
  } finally {
    c.destroy();
  }
}

/** The bundled example the README's first command analyses: several faults on one vxlan cluster. */
export const EXAMPLE_FAULTS = [
  'fdb-deleted',
  'ip-forward-off',
  'stale-node-entries',
  'mtu-underlay',
  'flannel-crashloop-br-netfilter',
];
export const EXAMPLE_PATH = 'fixtures/example/broken-vxlan.json';

export function fixturePath(backend: SimBackend, fault?: Fault): string {
  return `fixtures/snapshots/${backend}/${fault ? fault.id : 'healthy'}.json`;
}
