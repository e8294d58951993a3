import { type Command, InvalidArgumentError, Option } from 'commander';
import { runCapture } from '../capture/run.js';
import { EXIT, UserError } from '../errors.js';
import { addClusterOptions, type ClusterFlagValues, clusterOptionsFrom, parseDuration } from './cluster-options.js';
import { addExitCodes, CLUSTER_UNREACHABLE } from './exit-codes.js';

/** Live capture defaults: every capture is bounded even when no limit is given. */
export const CAPTURE_DEFAULTS = { duration: '60s', count: 100_000, maxSize: '100M', snaplen: 262144 } as const;

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, ki: 1024, mi: 1 << 20, gi: 1 << 30 };

/** `100M`, `1.5G`, `512k`, `64Mi` or a bare number of bytes. */
export function parseSize(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?)?b?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`${flag}: "${value}" is not a size (examples: 100M, 1G, 512k, 2000000)`);
  const n = Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]!);
  if (n < 1) throw new InvalidArgumentError(`${flag}: "${value}" must be at least 1 byte`);
  return n;
}

const collect = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

const positive = (flag: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new InvalidArgumentError(`${flag}: "${v}" is not a positive whole number`);
  return Number(v);
};

interface CaptureFlags extends ClusterFlagValues {
  read?: string;
  write?: string;
  xfrmState?: string;
  writeKeys?: string;
  threads?: number;
  pod?: string[];
  interface?: string[];
  filter?: string;
  duration: number;
  count: number;
  maxSize: number;
  snaplen: number;
}

export function registerCapture(program: Command): void {
  const cmd = program.command('capture');
  addExitCodes(cmd, [
    [EXIT.ok, 'the output was written (packets that could not be decrypted are kept, and counted)'],
    // A live source that could not be captured (the others are in the output) exits 5, as a run-time failure.
    CLUSTER_UNREACHABLE,
  ]);
  cmd
    .description(
      'Capture live on nodes (--node, -l) and inside pods (--pod) into one pcapng, or read a pcap/pcapng file (-r); ' +
        'with --decrypt-esp, replace each ESP packet (flannel ipsec backend, any xfrm tunnel) by its decrypted inner ' +
        'packet, using the keys from `ip xfrm state`',
    )
    .option('-r, --read <file>', "pcap or pcapng file to read, as written by `tcpdump -w` ('-' for stdin)")
    .option('-w, --write <file>', "file to write ('-' for stdout): pcap when reading a file, pcapng when live")
    .addOption(
      new Option('--pod <ns/name>', "live: capture inside this pod's network namespace (repeatable)").argParser(
        collect,
      ),
    )
    .addOption(
      new Option(
        '-i, --interface <name>',
        "live: node interfaces to capture on (repeatable; 'uplink' = the interface with the node's address; " +
          'default: the uplink filtered to the overlay, the flannel device, cni0)',
      ).argParser(collect),
    )
    .option('-f, --filter <bpf>', 'live: BPF filter for every source (replaces the default uplink filter)')
    .addOption(
      new Option('--duration <duration>', 'live: stop after this long')
        .default(parseDuration(CAPTURE_DEFAULTS.duration, '--duration'), CAPTURE_DEFAULTS.duration)
        .argParser((v) => parseDuration(v, '--duration')),
    )
    .addOption(
      new Option('--count <n>', 'live: stop after writing this many packets in all')
        .default(CAPTURE_DEFAULTS.count)
        .argParser(positive('--count')),
    )
    .addOption(
      new Option('--max-size <size>', 'live: stop before the output exceeds this size')
        .default(parseSize(CAPTURE_DEFAULTS.maxSize, '--max-size'), CAPTURE_DEFAULTS.maxSize)
        .argParser((v) => parseSize(v, '--max-size')),
    )
    .addOption(
      new Option('--snaplen <bytes>', 'live: bytes kept of each packet')
        .default(CAPTURE_DEFAULTS.snaplen)
        .argParser(positive('--snaplen')),
    )
    .option(
      '--xfrm-state <file>',
      'output of `ip xfrm state` run as root on the nodes involved (several nodes may be concatenated)',
    )
    .option('--decrypt-esp', 'decrypt ESP packets whose SA is in --xfrm-state; others are kept as captured')
    .option(
      '--threads <n>',
      'worker threads that decrypt pcap input while the main thread reads and writes (default: one per core, ' +
        'up to 4; 0 decrypts on the main thread; pcapng is always decrypted on the main thread)',
      (v: string) => Number(v),
    )
    .option(
      '--write-keys <file>',
      'write the SAs and their keys as a Wireshark esp_sa table (secret: keys are written only here)',
    );
  addClusterOptions(cmd)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kubectl flannel capture --node node1 --node node2 --pod default/web -w out.pcapng --duration 30s\n' +
        '  kubectl flannel capture -l kubernetes.io/os=linux -i cni0 -f icmp -w - | wireshark -k -i -\n' +
        '  kubectl flannel capture -r node1.pcap --xfrm-state node1-xfrm.txt --decrypt-esp -w node1-clear.pcap\n' +
        'A summary (per source: packets, kernel drops; or decrypted per SA) goes to stderr.',
    )
    .action(async (opts: CaptureFlags, self: Command) => {
      const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
      const live = !!(opts.pod?.length || opts.node?.length || opts.selector);
      if (!live) {
        const liveOnly = (['pod', 'interface', 'filter'] as const).filter((k) => opts[k] !== undefined);
        for (const k of ['duration', 'count', 'maxSize', 'snaplen'] as const)
          if (self.getOptionValueSource(k) === 'cli') liveOnly.push(k as never);
        if (liveOnly.length)
          throw new UserError(
            `${liveOnly.map((k) => `--${String(k).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} ` +
              'only apply to a live capture: add --node, -l or --pod',
          );
        await runCapture(opts, io);
        return;
      }
      if (opts.read) throw new UserError('--read reads a file; it cannot be combined with --node, -l or --pod');
      if (!opts.write) throw new UserError('a live capture needs an output: -w FILE, or -w - for stdout');
      if (opts.write === '-' && process.stdout.isTTY)
        throw new UserError('refusing to write pcapng data to a terminal: redirect stdout or give -w FILE');
      if ((opts.xfrmState || opts.writeKeys) && !opts.decryptEsp)
        throw new UserError('on a live capture, --xfrm-state and --write-keys go with --decrypt-esp');
      if (opts.writeKeys && opts.writeKeys === opts.write)
        throw new UserError('--write-keys and --write name the same file');
      for (const p of opts.pod ?? [])
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(p))
          throw new UserError(`--pod ${p}: expected NAMESPACE/NAME`);
      const base = clusterOptionsFrom(opts);
      if (base.mode !== 'cluster') throw new UserError('capture has no --local mode: it captures through the cluster');
      // Loaded on use: live capture pulls in the Kubernetes client, which commands that never touch the cluster
      // (doctor --from, --example) must not pay for at start-up.
      const { formatLiveSummary, runLiveCapture } = await import('../live/run.js');
      const result = await runLiveCapture(
        {
          kube: base.kube,
          requestTimeoutMs: base.requestTimeoutMs,
          flannel: base.flannel,
          nodeNames: base.nodeNames,
          nodeSelector: base.nodeSelector,
          pods: opts.pod ?? [],
          interfaces: opts.interface ?? [],
          filter: opts.filter,
          durationMs: opts.duration,
          count: opts.count,
          maxBytes: opts.maxSize,
          snaplen: opts.snaplen,
          write: opts.write,
          helperPods: base.helperPods,
          commandTimeoutMs: base.commandTimeoutMs,
          decryptEsp: opts.decryptEsp === true,
          xfrmStateFile: opts.xfrmState,
          writeKeys: opts.writeKeys,
          handleSignals: true,
          onAllListening: (n) =>
            process.stderr.write(`capturing on ${n} source(s); stop with Ctrl-C (everything captured is kept)\n`),
        },
        io,
      );
      process.stderr.write(formatLiveSummary(result, opts.write === '-' ? 'stdout' : opts.write));
      const failed = result.sources.filter((s) => s.setupError || s.result?.error);
      if (failed.length === result.sources.length)
        throw new UserError(`nothing was captured: every source failed (see above)`, EXIT.runtime);
      if (failed.length) process.exitCode = EXIT.runtime;
    });
}
