// The bundle's entry (scripts/bundle.mjs). First the Node check: the npm package runs on the user's own `node`,
// and on one older than the bundled packages need it would fail mid-run (src/node-floor.ts). Then yoga's
// WebAssembly is instantiated before the CLI's modules are evaluated, because the bundle is CommonJS and cannot
// await it at top level as yoga-layout itself does.
import { nodeTooOld } from '../dist/src/node-floor.js';
import { initYoga } from 'kubectl-flannel:yoga';

const tooOld = nodeTooOld(process.versions.node, KUBECTL_FLANNEL_NODE_FLOOR, process.execPath);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exitCode = 5;
} else {
  initYoga()
    .then(() => import('../dist/src/cli.js'))
    .catch((e) => {
      process.stderr.write(`kubectl-flannel: internal error: cannot start: ${e?.message ?? e}\n`);
      process.exitCode = 5;
    });
}
