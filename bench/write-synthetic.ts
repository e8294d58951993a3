/**
 * Writes a synthetic snapshot (bench/synthetic.ts) to a file, to run doctor --from on it by hand:
 *   node dist/bench/write-synthetic.js NODES FILE [--fault=underlay-ip-changed] [--bare]
 * With the default ip rules and iptables rules, as bench:analyze writes it; --bare leaves both out.
 */
import { writeFileSync } from 'node:fs';
import { SYNTHETIC_FAULTS, syntheticSnapshot } from './synthetic.js';

const [nodes, file] = process.argv.slice(2);
if (!nodes || !file) {
  process.stderr.write('usage: write-synthetic NODES FILE [--fault=NAME] [--bare]\n');
  process.exit(3);
}
const fault = SYNTHETIC_FAULTS.find((f) => process.argv.includes(`--fault=${f}`)) ?? null;
writeFileSync(
  file,
  JSON.stringify(syntheticSnapshot(Number(nodes), fault, { full: !process.argv.includes('--bare') })),
);
