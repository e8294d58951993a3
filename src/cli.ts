/**
 * kubectl-flannel's entry point. Commands only declare options and call into the core;
 * every failure is turned into one line on stderr and an exit code here, never a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { registerBundle } from './commands/bundle.js';
import { registerCapture } from './commands/capture.js';
import { registerChecks } from './commands/checks.js';
import { registerCleanup } from './commands/cleanup.js';
import { liveSnapshot } from './commands/cluster-options.js';
import { registerComplete } from './commands/complete.js';
import { registerDoctor } from './commands/doctor.js';
import { addExitCodes, CLUSTER_UNREACHABLE } from './commands/exit-codes.js';
import { registerTrace } from './commands/trace.js';
import { registerVersion } from './commands/version.js';
import { EXIT, UserError } from './errors.js';
import { neutralise } from './neutralise.js';
import { VERSION } from './version.js';

// A reader that stops early (`doctor --help | head -1`) closes the pipe: end quietly, as cat does.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
    throw e;
  });
// An error raised outside the awaited command (a stream's 'error' event) still ends as one line.
process.on('uncaughtException', (e) => {
  process.exitCode = exitFor(e);
  process.exit();
});

const program = new Command('kubectl-flannel')
  .description('Diagnose Flannel pod networking: doctor, trace, capture and support bundles')
  .version(VERSION)
  .showSuggestionAfterError()
  .exitOverride();

registerDoctor(program, liveSnapshot);
registerTrace(program, liveSnapshot);
registerBundle(program, liveSnapshot);
registerChecks(program);
registerCapture(program);
registerCleanup(program);
registerComplete(program);
registerVersion(program);
addExitCodes(program, [
  [EXIT.ok, 'success; doctor: no problem found'],
  [EXIT.warnings, 'doctor: warnings found, with --fail-on warning'],
  [EXIT.errors, 'doctor: errors found; trace: a hop breaks'],
  CLUSTER_UNREACHABLE,
  [EXIT.incomplete, 'doctor: no errors found, but the analysis is incomplete (a node, part or check missing)'],
]).addHelpText('after', "Each command's --help lists the codes it can end with.");

// No top-level await: the release bundle is CommonJS (scripts/bundle.mjs).
program.parseAsync(process.argv).catch((e: unknown) => {
  process.exitCode = exitFor(e);
});

function exitFor(e: unknown): number {
  if (e instanceof CommanderError) {
    // Commander already printed its message (unknown option, --help, --version).
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (e instanceof UserError) {
    process.stderr.write(`kubectl-flannel: ${neutralise(e.message)}\n`);
    if (process.env.KUBECTL_FLANNEL_DEBUG) process.stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  process.stderr.write(
    `kubectl-flannel: internal error: ${neutralise((e as Error)?.message ?? String(e))}\n  (set KUBECTL_FLANNEL_DEBUG=1 for the stack trace, and please report it)\n`,
  );
  if (process.env.KUBECTL_FLANNEL_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  return EXIT.runtime;
}
