// The bundle's entry (scripts/bundle.mjs): yoga's WebAssembly is instantiated before the CLI's modules are
// evaluated, because the bundle is CommonJS and cannot await it at top level as yoga-layout itself does.
import { initYoga } from 'kubectl-flannel:yoga';

initYoga()
  .then(() => import('../dist/src/cli.js'))
  .catch((e) => {
    process.stderr.write(`kubectl-flannel: internal error: cannot start: ${e?.message ?? e}\n`);
    process.exitCode = 5;
  });
