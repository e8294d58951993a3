/**
 * Regenerates fixtures/snapshots from simulated clusters (needs root): `npm run fixtures`.
 * Every fixture is real kernel state collected by the real collector; see cluster.ts for the
 * parts this kernel cannot produce.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SIM_BACKENDS } from './cluster.js';
import { FAULTS } from './faults.js';
import { fixturePath, runScenario } from './scenario.js';

for (const backend of SIM_BACKENDS) {
  for (const fault of [undefined, ...FAULTS.filter((f) => f.backend === backend)]) {
    const path = fixturePath(backend, fault);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(await runScenario(backend, fault), null, 1) + '\n');
    process.stderr.write(`wrote ${path}\n`);
  }
}
