// The same expectations on freshly built network namespaces, so the checks are tested against
// the kernel and collector of this run, not only against saved output. Needs root.
import { test } from 'node:test';
import { canSimulate, SIM_BACKENDS } from '../sim/cluster.js';
import { FAULTS } from '../sim/faults.js';
import { runScenario } from '../sim/scenario.js';
import { assertFault, assertHealthy } from './expectations.js';

const skip = canSimulate() ? false : 'needs root to create network namespaces';

for (const backend of SIM_BACKENDS) {
  test(`live: healthy ${backend} cluster gives no findings`, { skip }, async () => {
    assertHealthy(backend, await runScenario(backend));
  });
}

for (const fault of FAULTS) {
  test(`live: ${fault.backend} ${fault.id} is found`, { skip }, async () => {
    assertFault(fault, await runScenario(fault.backend, fault));
  });
}
