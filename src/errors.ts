/**
 * Exit codes and the one error type that reaches the user. Everything the CLI prints on
 * failure goes through `UserError`, so no stack trace ever reaches a terminal.
 */
export const EXIT = {
  /** Nothing found (doctor) or the command succeeded. */
  ok: 0,
  /** Warnings found and `--fail-on warning` was given. */
  warnings: 1,
  /** Errors found. */
  errors: 2,
  /** Bad usage or unreadable input (a file, a flag value). */
  usage: 3,
  /** The cluster could not be reached or refused access. */
  cluster: 4,
  /** Something failed at run time that is not the user's input (e.g. a tool missing). */
  runtime: 5,
  /** No errors found, but the analysis is incomplete: a node or part not collected, or a check failed. */
  incomplete: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.usage,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
