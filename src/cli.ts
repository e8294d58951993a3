import { Command } from 'commander';
import { registerCapture } from './commands/capture.js';
import { EXIT, UserError } from './errors.js';
const program = new Command('kubectl-flannel');
program.description('Diagnose Flannel pod networking');
registerCapture(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof UserError) {
    process.stderr.write(`kubectl-flannel: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`kubectl-flannel: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = EXIT.runtime;
  }
}
