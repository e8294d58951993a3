// Every check against the committed fixtures: real kernel state collected from simulated
// clusters (test/sim), healthy and with one fault each. Regenerate with `npm run fixtures`.
import { test } from 'node:test';
import { readSnapshot } from '../../src/snapshot/io.js';
import { SIM_BACKENDS } from '../sim/cluster.js';
import { FAULTS } from '../sim/faults.js';
import { fixturePath } from '../sim/scenario.js';
import { assertFault, assertHealthy } from './expectations.js';

for (const backend of SIM_BACKENDS) {
  test(`fixture: healthy ${backend} cluster gives no findings`, async () => {
    assertHealthy(backend, await readSnapshot(fixturePath(backend)));
  });
}

for (const fault of FAULTS) {
  test(`fixture: ${fault.backend} ${fault.id} gives exactly its findings (${fault.sim.expect.map((e) => e.check).join(', ')})`, async () => {
    assertFault(fault, await readSnapshot(fixturePath(fault.backend, fault)));
  });
}
