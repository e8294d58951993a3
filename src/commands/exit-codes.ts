/** The "Exit codes:" section every command appends to its --help, from the codes in errors.ts. */
import type { Command } from 'commander';
import { EXIT, type ExitCode } from '../errors.js';

/** What every command can end with besides its own codes. */
const COMMON: readonly (readonly [ExitCode, string])[] = [
  [EXIT.usage, 'bad usage or unreadable input (a flag value, a file)'],
  [EXIT.runtime, 'internal error (a bug: please report it)'],
];

/**
 * Appends the exit codes to cmd's --help, in numeric order: `own`, and the common ones `own` does not name (a
 * command that also ends with 5 for a reason of its own says both in one line).
 */
export function addExitCodes(cmd: Command, own: readonly (readonly [ExitCode, string])[]): Command {
  const common = COMMON.map(([c, what]): readonly [ExitCode, string] => {
    const mine = own.find(([o]) => o === c);
    return mine ? [c, `${mine[1]}; or ${what}`] : [c, what];
  });
  const codes = [...own.filter(([o]) => !COMMON.some(([c]) => c === o)), ...common].sort((a, b) => a[0] - b[0]);
  return cmd.addHelpText('after', `\nExit codes:\n${codes.map(([c, what]) => `  ${c}  ${what}`).join('\n')}`);
}

export const CLUSTER_UNREACHABLE: readonly [ExitCode, string] = [
  EXIT.cluster,
  'the cluster could not be reached or refused access',
];
