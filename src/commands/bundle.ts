/** `kubectl flannel bundle`: collect (or load) a snapshot and write a support bundle to attach to a ticket. */
import type { Command } from 'commander';
import { analyze } from '../analyzers/run.js';
import { bundleFiles, writeBundle } from '../bundle/write.js';
import { EXIT, UserError } from '../errors.js';
import { sameFile } from '../files.js';
import { guardSnapshot } from '../parse/redact/guard.js';
import { buildReport } from '../render/report.js';
import { renderJSON } from '../render/structured.js';
import { styleFor } from '../render/style.js';
import { renderText } from '../render/text.js';
import { addClusterOptions } from './cluster-options.js';
import { addExitCodes, CLUSTER_UNREACHABLE } from './exit-codes.js';
import { obtainSnapshot, type SnapshotSource } from './options.js';

export function registerBundle(program: Command, live?: SnapshotSource): Command {
  const cmd = program.command('bundle');
  addClusterOptions(cmd);
  addExitCodes(cmd, [[EXIT.ok, 'the bundle was written (whatever it found)'], CLUSTER_UNREACHABLE]);
  return cmd
    .description(
      "Write a support bundle (.tar.gz): the snapshot, the report and every node's command output, secrets removed; `doctor --from` re-analyses it offline",
    )
    .option(
      '-f, --file <path>',
      'where to write the bundle (default: flannel-bundle-<time>.tar.gz in the current directory)',
    )
    .option('--from <file>', 'bundle a saved snapshot instead of collecting the cluster')
    .action(async (opts: { file?: string; from?: string; decryptEsp?: boolean }, self: Command) => {
      if (opts.decryptEsp)
        throw new UserError('bundle never includes xfrm keys: it is meant to be shared; drop --decrypt-esp');
      if (opts.file && opts.from && sameFile(opts.file, opts.from))
        throw new UserError(`-f ${opts.file} is the same file as --from ${opts.from}: it would overwrite the snapshot`);
      // Guarded before analysis, so the report quotes only what the bundle may hold.
      const snapshot = guardSnapshot(await obtainSnapshot(opts.from, self, live), { keepXfrmKeys: false });
      const report = buildReport(snapshot, analyze(snapshot));
      const files = bundleFiles(snapshot, renderText(report, styleFor({ isTTY: false }, {}, true)), renderJSON(report));
      const path = opts.file ?? `flannel-bundle-${snapshot.collectedAt.replace(/[:.]/g, '-')}.tar.gz`;
      try {
        await writeBundle(path, files);
      } catch (e) {
        throw new UserError(`cannot write the bundle to ${path}: ${(e as Error).message}`);
      }
      process.stderr.write(
        `wrote ${path}: ${files.length} files, ${report.summary.nodesCollected}/${report.summary.nodes} nodes, ${report.summary.errors} errors and ${report.summary.warnings} warnings found\n  re-analyse offline: kubectl flannel doctor --from ${path}\n`,
      );
    });
}
