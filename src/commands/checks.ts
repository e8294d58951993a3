/** `kubectl flannel checks`: the check catalog, as a table, JSON, or the Markdown of docs/checks.md. */
import { type Command, Option } from 'commander';
import { table } from 'table';
import { CHECKS } from '../analyzers/index.js';
import { EXIT } from '../errors.js';
import { checksMarkdown } from '../render/checks-doc.js';
import { addExitCodes } from './exit-codes.js';

export function registerChecks(program: Command): Command {
  const cmd = program.command('checks');
  addExitCodes(cmd, [[EXIT.ok, 'the catalog was printed']]);
  return cmd
    .description('List every check doctor runs, with what it means and how to fix it')
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'),
    )
    .action((opts: { output: 'text' | 'json' | 'markdown' }) => {
      if (opts.output === 'json') {
        process.stdout.write(
          JSON.stringify(
            CHECKS.map((c) => ({
              id: c.id,
              scope: c.scope,
              severity: c.severity,
              title: c.title,
              docs: c.docs,
              failureModes: c.failureModes,
            })),
            null,
            2,
          ) + '\n',
        );
      } else if (opts.output === 'markdown') {
        process.stdout.write(checksMarkdown());
      } else {
        process.stdout.write(
          table([['ID', 'Severity', 'Title'], ...CHECKS.map((c) => [c.id, c.severity, c.title])], {
            columns: { 2: { width: 70, wrapWord: true } },
            drawHorizontalLine: (i, size) => i <= 1 || i === size,
          }),
        );
      }
    });
}
