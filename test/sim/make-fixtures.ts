/**
 * Regenerates fixtures/snapshots from simulated clusters (needs root): `npm run fixtures`.
 * Every fixture is real kernel state collected by the real collector; see cluster.ts for the
 * parts this kernel cannot produce. With arguments, only those: fault IDs, `healthy` (every
 * backend's), `healthy:<backend>` (one backend's), `example`: `npm run fixtures -- blackhole-in-local-table example`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SIM_BACKENDS } from './cluster.js';
import { FAULTS } from './faults.js';
import { EXAMPLE_FAULTS, EXAMPLE_PATH, fixturePath, runScenario, runWithFaults } from './scenario.js';

const only = new Set(process.argv.slice(2));
const wanted = (id: string): boolean => only.size === 0 || only.has(id);

for (const backend of SIM_BACKENDS) {
  for (const fault of [undefined, ...FAULTS.filter((f) => f.backend === backend)]) {
    if (!wanted(fault ? fault.id : 'healthy') && !(fault === undefined && wanted(`healthy:${backend}`))) continue;
    const path = fixturePath(backend, fault);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(await runScenario(backend, fault), null, 1) + '\n');
    process.stderr.write(`wrote ${path}\n`);
  }
}

if (wanted('example')) {
  mkdirSync(dirname(EXAMPLE_PATH), { recursive: true });
  writeFileSync(
    EXAMPLE_PATH,
    JSON.stringify(
      await runWithFaults(
        'vxlan',
        EXAMPLE_FAULTS.map((id) => FAULTS.find((f) => f.id === id)!),
      ),
      null,
      1,
    ) + '\n',
  );
  process.stderr.write(`wrote ${EXAMPLE_PATH}\n`);
}
