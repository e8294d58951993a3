/** The "Exit codes:" section every command appends to its --help, from the codes in errors.ts. */
import type { Command } from 'commander';
import { EXIT, type ExitCode } from '../errors.js';

/** What every command can end with besides its own codes. */
const COMMON: readonly (readonly [ExitCode, string])[] = [
  [EXIT.usage, 'bad usage or unreadable input (a flag value, a file)'],
  [EXIT.runtime, 'internal error (a bug: please report it)'],
];

/** Appends the exit codes to cmd's --help: `own` first, then the common ones, in numeric order. */
export function addExitCodes(cmd: Command, own: readonly (readonly [ExitCode, string])[]): Command {
  const codes = [...own, ...COMMON].sort((a, b) => a[0] - b[0]);
  return cmd.addHelpText('after', `\nExit codes:\n${codes.map(([c, what]) => `  ${c}  ${what}`).join('\n')}`);
}

export const CLUSTER_UNREACHABLE: readonly [ExitCode, string] = [
  EXIT.cluster,
  'the cluster could not be reached or refused access',
];
