// The lab's view of the fault catalog (src/analyzers/fault-catalog): one line per lab fault,
// "ID<TAB>INJECT<TAB>BACKENDS<TAB>CHANGES<TAB>kube-flannel-only|-", for lab/faults.sh. Reads the compiled catalog (npx tsc -p .).
import { FAULT_CATALOG } from '../../dist/src/analyzers/fault-catalog/catalog.js';

process.stdout.on('error', () => process.exit(0)); // a reader that stops early (| head) is not an error
const lines = FAULT_CATALOG.filter((e) => e.lab).map(
  (e) =>
    `${e.id}\t${e.lab.inject}\t${e.lab.backends.join(',')}\t${e.changes}\t${e.lab.kubeFlannelOnly ? 'kube-flannel-only' : '-'}\n`,
);
process.stdout.write(lines.join(''));
