/** `kubectl flannel doctor`: obtain a snapshot, analyse it, render the findings, exit by severity. */
import { type Command, Option } from 'commander';
import { analyze, selectChecks } from '../analyzers/run.js';
import { EXIT, type ExitCode, UserError } from '../errors.js';
import { assertWritable, sameFile } from '../files.js';
import { guardSnapshot } from '../parse/redact/guard.js';
import { buildReport, type DoctorReport } from '../render/report.js';
import { renderJSON, renderYAML } from '../render/structured.js';
import { styleFor } from '../render/style.js';
import { DEFAULT_WIDTH, renderText } from '../render/text.js';
import { writeSnapshot } from '../snapshot/io.js';
import type { Snapshot } from '../snapshot/types.js';
import { POOL_MIN_NODES } from './analysis-pool.js';
import { analyzeFromFile } from './analyze-from.js';
import { addClusterOptions, type ClusterFlagValues, clusterOptionsFrom } from './cluster-options.js';
import { addExitCodes, CLUSTER_UNREACHABLE } from './exit-codes.js';
import { obtainSnapshot, type SnapshotSource } from './options.js';
import { timingsFor } from './timings.js';

export interface DoctorOptions {
  from?: string;
  example?: boolean;
  save?: string;
  output: 'text' | 'json' | 'yaml';
  check: string[];
  skip: string[];
  failOn: 'error' | 'warning';
  color: boolean;
  probe?: boolean;
  probeLimit?: number;
  timings?: boolean;
  threads?: number;
}

const collect = (value: string, previous: string[]) => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerDoctor(program: Command, live?: SnapshotSource): Command {
  const cmd = program
    .command('doctor')
    .description(
      "Collect flannel's state from every node, compare it with what flannel must have configured, and report every difference with evidence and the fix",
    )
    .option('--from <file>', 'analyse a saved snapshot (doctor --save, or a support bundle) instead of the cluster')
    .addOption(
      new Option(
        '--example',
        'analyse the bundled example: a simulated 3-node vxlan cluster with five faults',
      ).conflicts('from'),
    )
    .option('--save <file>', 'also write the collected snapshot (secrets removed) to this file')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'yaml']).default('text'))
    .option('--check <id>', 'run only this check (repeatable, or comma-separated)', collect, [])
    .option('--skip <id>', 'skip this check (repeatable, or comma-separated)', collect, [])
    .addOption(
      new Option('--fail-on <severity>', 'exit non-zero from this severity on')
        .choices(['error', 'warning'])
        .default('error'),
    )
    .option('--no-color', 'never colour the output (NO_COLOR is honoured too)')
    .option(
      '--probe',
      'also send real packets of the backend between node pairs and look for them on arrival (finds an underlay that drops the overlay; sends traffic, so opt-in)',
    )
    .option(
      '--probe-limit <n>',
      'probe every pair up to this many nodes; beyond, each node probes this many random peers',
      (v: string) => {
        if (!/^\d+$/.test(v) || Number(v) < 2) throw new UserError(`--probe-limit: "${v}" must be a whole number ≥ 2`);
        return Number(v);
      },
      50,
    )
    .option('--timings', 'print where the run spent its time (API reads, nodes, analysis, rendering, CPU) to stderr')
    .option(
      '--threads <n>',
      `with --from: worker threads that analyse the nodes while the main thread reads the file (default: one per core, up to 4, from ${POOL_MIN_NODES} nodes; 0: all on the main thread)`,
      (v: string) => {
        if (!/^\d+$/.test(v) || Number(v) > 64)
          throw new UserError(`--threads: "${v}" must be a whole number from 0 to 64`);
        return Number(v);
      },
    );
  addClusterOptions(cmd);
  addExitCodes(cmd, [
    [EXIT.ok, 'no problem found (warnings only, without --fail-on warning)'],
    [EXIT.warnings, 'warnings found, with --fail-on warning'],
    [EXIT.errors, 'errors found'],
    CLUSTER_UNREACHABLE,
    [EXIT.incomplete, 'no errors found, but the analysis is incomplete (the first line says what is missing)'],
  ])
    .addHelpText(
      'after',
      `
Examples:
  kubectl flannel doctor
  kubectl flannel doctor --example
  kubectl flannel doctor --from snapshot.json -o json
  kubectl flannel doctor --check vxlan-fdb,peer-routes --fail-on warning`,
    )
    .action(async (opts: DoctorOptions, self: Command) => {
      if (opts.probe && (opts.from || opts.example))
        throw new UserError(
          '--probe sends packets in the cluster: it cannot be used with --from or --example',
          EXIT.usage,
        );
      if (opts.save && opts.from && sameFile(opts.save, opts.from))
        throw new UserError(
          `--save ${opts.save} is the same file as --from ${opts.from}: it would overwrite the input`,
        );
      const runOpts = { only: opts.check, skip: opts.skip };
      // A saved file is analysed while it is read; --save needs the whole snapshot to write it again.
      if (opts.from && !opts.save) {
        const { snapshot, result } = await analyzeFromFile(opts.from, runOpts, opts.threads);
        const report = buildReport(snapshot, result);
        process.stdout.write(render(report, opts));
        process.exitCode = exitCodeFor(report, opts.failOn);
        return;
      }
      // A mistyped check ID or an unwritable --save is a usage error before any node is collected, not after
      // (minutes on a large cluster).
      selectChecks(runOpts);
      if (opts.save) assertWritable('--save', opts.save);
      let snapshot = opts.example
        ? (await import('../snapshot/example.js')).exampleSnapshot()
        : await obtainSnapshot(opts.from, self, live);
      if (opts.probe)
        snapshot = { ...snapshot, underlayProbe: await probeSnapshot(self, snapshot, opts.probeLimit ?? 50) };
      // Keys stay in a saved file only when this run was asked for them (--decrypt-esp).
      if (opts.save)
        await writeSnapshot(opts.save, guardSnapshot(snapshot, { keepXfrmKeys: snapshot.source.keysIncluded }));
      const timings = timingsFor(self);
      timings?.begin('analysis');
      const result = analyze(snapshot, runOpts);
      const report = buildReport(snapshot, result);
      timings?.begin('render');
      process.stdout.write(render(report, opts));
      process.exitCode = exitCodeFor(report, opts.failOn);
      if (timings) process.stderr.write(`${timings.lines().join('\n')}\n`);
    });
  return cmd;
}

async function probeSnapshot(cmd: Command, snapshot: Snapshot, limit: number): Promise<Snapshot['underlayProbe']> {
  const base = clusterOptionsFrom(cmd.opts<ClusterFlagValues>());
  if (base.mode !== 'cluster') throw new UserError('--probe needs the cluster; it cannot be used with --local');
  process.stderr.write('probing the underlay: capturing on every uplink, then pinging between nodes…\n');
  // Loaded on use: probing pulls in the Kubernetes client, which doctor --from must not load at start-up.
  const { probeUnderlay } = await import('../live/underlay-probe.js');
  try {
    return await probeUnderlay(
      {
        kube: base.kube,
        requestTimeoutMs: base.requestTimeoutMs,
        flannel: base.flannel,
        durationMs: 30_000,
        count: 1_000_000,
        maxBytes: 256 * 1024 * 1024,
        snaplen: 128,
        helperPods: base.helperPods,
        commandTimeoutMs: base.commandTimeoutMs,
        handleSignals: true,
      },
      snapshot,
      limit,
      { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    );
  } catch (e) {
    return { status: 'failed', error: (e as Error).message };
  }
}

export function render(report: DoctorReport, opts: Pick<DoctorOptions, 'output' | 'color'>): string {
  if (opts.output === 'json') return renderJSON(report);
  if (opts.output === 'yaml') return renderYAML(report);
  const width = process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : DEFAULT_WIDTH;
  return renderText(report, styleFor(process.stdout, process.env, !opts.color), width);
}

export function exitCodeFor(report: DoctorReport, failOn: 'error' | 'warning'): ExitCode {
  if (report.summary.errors > 0) return EXIT.errors;
  if (report.summary.incomplete.length > 0) return EXIT.incomplete;
  if (failOn === 'warning' && report.summary.warnings > 0) return EXIT.warnings;
  return EXIT.ok;
}
