/** `kubectl flannel bundle`: collect (or load) a snapshot and write a support bundle to attach to a ticket. */
import { type Command, Option } from 'commander';
import { analyze } from '../analyzers/run.js';
import { bundleFiles, writeBundle } from '../bundle/write.js';
import { EXIT, UserError } from '../errors.js';
import { assertCurrentDirectoryWritable, assertWritable, sameFile } from '../files.js';
import { SAMPLE_DEFAULTS } from '../live/sample-limits.js';
import { guardSnapshot } from '../parse/redact/guard.js';
import { buildReport } from '../render/report.js';
import { renderJSON } from '../render/structured.js';
import { styleFor } from '../render/style.js';
import { renderText } from '../render/text.js';
import type { Snapshot } from '../snapshot/types.js';
import { addClusterOptions, type ClusterFlagValues, clusterOptionsFrom, parseDuration } from './cluster-options.js';
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
    .addOption(
      new Option(
        '--samples-duration <duration>',
        `how long every node's tcpdump sample of the overlay runs (headers only; at most ${SAMPLE_DEFAULTS.count} packets and ${SAMPLE_DEFAULTS.maxBytes / 1024} KiB per node interface)`,
      )
        .default(SAMPLE_DEFAULTS.durationMs, `${SAMPLE_DEFAULTS.durationMs / 1000}s`)
        .argParser((v: string) => {
          const ms = parseDuration(v, '--samples-duration');
          if (ms < 1000 || ms > 120_000)
            throw new UserError(`--samples-duration: "${v}" must be between 1s and 2m`, EXIT.usage);
          return ms;
        }),
    )
    .option('--no-samples', 'take no tcpdump samples (the bundle then holds only the tables and logs)')
    .action(async (opts: BundleOptions, self: Command) => {
      if (opts.decryptEsp)
        throw new UserError('bundle never includes xfrm keys: it is meant to be shared; drop --decrypt-esp');
      if (opts.file && opts.from && sameFile(opts.file, opts.from))
        throw new UserError(`-f ${opts.file} is the same file as --from ${opts.from}: it would overwrite the snapshot`);
      // Before collecting and sampling, which is what a wrong path at the end would throw away.
      if (opts.file) assertWritable('-f', opts.file);
      else assertCurrentDirectoryWritable('the bundle (no -f given)');
      // Guarded before analysis, so the report quotes only what the bundle may hold.
      let collected = await obtainSnapshot(opts.from, self, live);
      let pcapng: Buffer | null = null;
      if (opts.samples && !opts.from) ({ snapshot: collected, pcapng } = await sample(self, collected, opts));
      const snapshot = guardSnapshot(collected, { keepXfrmKeys: false });
      const report = buildReport(snapshot, analyze(snapshot));
      const files = bundleFiles(
        snapshot,
        renderText(report, styleFor({ isTTY: false }, {}, true)),
        renderJSON(report),
        pcapng,
      );
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

interface BundleOptions {
  file?: string;
  from?: string;
  decryptEsp?: boolean;
  samples: boolean;
  samplesDuration: number;
}

/** Every node's tcpdump sample, all at once; a failure is recorded in the bundle, never fatal to it. */
async function sample(
  cmd: Command,
  snapshot: Snapshot,
  opts: BundleOptions,
): Promise<{ snapshot: Snapshot; pcapng: Buffer | null }> {
  const base = clusterOptionsFrom(cmd.opts<ClusterFlagValues>());
  if (base.mode !== 'cluster') return { snapshot, pcapng: null };
  process.stderr.write(`sampling the overlay with tcpdump on every node for ${opts.samplesDuration / 1000}s…\n`);
  try {
    // Loaded on use: sampling pulls in the Kubernetes client, which bundle --from never needs.
    const { collectSamples } = await import('../live/samples.js');
    const r = await collectSamples(
      base,
      snapshot,
      { ...SAMPLE_DEFAULTS, durationMs: opts.samplesDuration },
      { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    );
    if (r.samples.status === 'ok')
      for (const x of r.samples.data.sources)
        if (x.error) process.stderr.write(`  no samples from ${x.node}/${x.iface}: ${x.error}\n`);
    return { snapshot: { ...snapshot, underlaySamples: r.samples }, pcapng: r.pcapng };
  } catch (e) {
    if (e instanceof UserError && e.exitCode === EXIT.cluster) throw e;
    return {
      snapshot: { ...snapshot, underlaySamples: { status: 'failed', error: (e as Error).message } },
      pcapng: null,
    };
  }
}
