/** `kubectl flannel trace SRC DST`: the packet's path hop by hop, on a live cluster or a saved snapshot. */
import { type Command, Option } from 'commander';
import { trace } from '../analyzers/trace/trace.js';
import { EXIT, UserError } from '../errors.js';
import type { ProbeContext, ProbeResult } from '../live/probe.js';
import { familyOf } from '../net/cidr.js';
import { styleFor } from '../render/style.js';
import { renderTraceText } from '../render/trace.js';
import type { Snapshot } from '../snapshot/types.js';
import { addClusterOptions, type ClusterFlagValues, clusterOptionsFrom } from './cluster-options.js';
import { addExitCodes, CLUSTER_UNREACHABLE } from './exit-codes.js';
import { obtainSnapshot, type SnapshotSource } from './options.js';
import { resolvePodIPs } from './pod-address.js';

export function registerTrace(program: Command, live?: SnapshotSource): Command {
  const cmd = program.command('trace');
  addClusterOptions(cmd);
  addExitCodes(cmd, [
    [EXIT.ok, 'the packet arrives'],
    [EXIT.errors, 'a hop breaks (tables or probe)'],
    CLUSTER_UNREACHABLE,
    [EXIT.runtime, '--probe: the UDP probe could not be sent (no sender in the image)'],
  ]);
  return cmd
    .description(
      'Follow a packet from SRC to DST hop by hop through the kernel tables of each node, and show the first hop that breaks',
    )
    .argument('<src>', 'source: a pod (NAMESPACE/NAME, or NAME in the default namespace) or an IP address')
    .argument('<dst>', 'destination: a pod or an IP address')
    .option(
      '--from <file>',
      'trace on a saved snapshot (doctor --save) instead of the cluster; SRC and DST must then be IP addresses',
    )
    .option(
      '--probe',
      "also send real probes from SRC's network namespace (small ICMP echoes, and UDP datagrams of FLANNEL_MTU bytes with DF set) and capture them at every hop on both nodes; SRC and DST must be pods",
    )
    .option(
      '--size <bytes>',
      "the packet's size in bytes, IP header included, sent with DF (default: the largest the source sends: FLANNEL_MTU from a pod, the route's device MTU from a node); --probe's UDP datagrams take this size too",
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--no-color', 'never colour the output')
    .addHelpText(
      'after',
      `
Examples:
  kubectl flannel trace default/client default/server
  kubectl flannel trace 10.244.1.5 10.244.2.7 --from snapshot.json -o json`,
    )
    .action(
      async (
        srcArg: string,
        dstArg: string,
        opts: { from?: string; output: 'text' | 'json'; color: boolean; probe?: boolean; size?: string },
        self: Command,
      ) => {
        const size = opts.size === undefined ? undefined : packetSize(opts.size);
        let src = srcArg;
        let dst = dstArg;
        if (opts.probe && opts.from) throw new UserError('--probe sends real packets: it cannot be used with --from');
        if (opts.probe && [srcArg, dstArg].some((a) => familyOf(a)))
          throw new UserError('--probe needs SRC and DST to be pods (NAMESPACE/NAME): probes are sent from inside SRC');
        if (opts.from) {
          for (const a of [srcArg, dstArg])
            if (!familyOf(a))
              throw new UserError(
                `with --from, SRC and DST must be IP addresses ("${a}" is not): a snapshot holds no pods`,
              );
        } else if (live) {
          const ips = await resolvePodIPs(self, [srcArg, dstArg]);
          src = ips[0]!;
          dst = ips[1]!;
        }
        const snapshot = await obtainSnapshot(opts.from, self, live);
        if (familyOf(src) !== familyOf(dst))
          throw new UserError(`SRC ${src} and DST ${dst} are of different IP families`);
        const result = trace(snapshot, src, dst, size === undefined ? {} : { size });
        const probe = opts.probe
          ? await probeLive(self, withNamespace(srcArg), withNamespace(dstArg), {
              ...probeContext(snapshot),
              ...(size === undefined ? {} : { size }),
            })
          : null;
        const renderProbe = probe ? (await import('../live/probe.js')).renderProbe : null;
        process.stdout.write(
          opts.output === 'json'
            ? JSON.stringify(probe ? { ...result, probe } : result, null, 2) + '\n'
            : renderTraceText(result, styleFor(process.stdout, process.env, !opts.color)) +
                (probe && renderProbe ? renderProbe(probe, result.brokenAt === null) : ''),
        );
        const probeBroken =
          probe !== null && (probe.sent === 0 || probe.requestVanishedAt !== null || probe.udp.vanishedAt !== null);
        // A UDP probe that could not be sent leaves the packets' verdict incomplete: never a clean exit.
        const probeIncomplete = probe !== null && probe.udp.sent === 0;
        process.exitCode =
          result.brokenAt !== null || probeBroken ? EXIT.errors : probeIncomplete ? EXIT.runtime : EXIT.ok;
      },
    );
}

/** The smallest IPv4 packet with an ICMP or UDP header is 28 bytes; an IP packet is at most 65535. */
const MIN_SIZE = 28;
const MAX_SIZE = 65535;

function packetSize(v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < MIN_SIZE || n > MAX_SIZE)
    throw new UserError(
      `--size "${v}" is not a packet size: give a whole number of bytes from ${MIN_SIZE} to ${MAX_SIZE} (the IP header included)`,
    );
  return n;
}

const withNamespace = (a: string): string => (a.includes('/') ? a : `default/${a}`);

/** What the probe needs from the collected snapshot: the backend's encapsulation and each node's FLANNEL_MTU. */
function probeContext(s: Snapshot): ProbeContext {
  const f = s.cluster.flannel;
  const netConf = f.status === 'ok' && f.data.netConf.status === 'ok' ? f.data.netConf.data : null;
  return {
    backend: netConf?.backend ?? null,
    network: netConf?.network ?? null,
    flannelMtuOf: (node) => {
      const h = s.hosts[node];
      const env = h?.status === 'ok' && h.data.subnetEnv.status === 'ok' ? h.data.subnetEnv.data : null;
      return env?.mtu ?? null;
    },
  };
}

async function probeLive(cmd: Command, src: string, dst: string, ctx: ProbeContext): Promise<ProbeResult> {
  const base = clusterOptionsFrom(cmd.opts<ClusterFlagValues>());
  if (base.mode !== 'cluster') throw new UserError('--probe needs the cluster; it cannot be used with --local');
  // Loaded on use: the Kubernetes client is most of the start-up cost of commands that never reach the cluster.
  const [{ KubeClient }, { loadKubeConfig }, { runProbe }] = await Promise.all([
    import('../kube/client.js'),
    import('../kube/kubeconfig.js'),
    import('../live/probe.js'),
  ]);
  const client = new KubeClient(loadKubeConfig(base.kube).kc, base.requestTimeoutMs);
  process.stderr.write('probing: capturing on both nodes and in both pods, then sending from SRC…\n');
  return runProbe(
    {
      kube: base.kube,
      requestTimeoutMs: base.requestTimeoutMs,
      flannel: base.flannel,
      interfaces: [],
      durationMs: 30_000,
      count: 100_000,
      maxBytes: 64 * 1024 * 1024,
      snaplen: 262144,
      helperPods: base.helperPods,
      commandTimeoutMs: base.commandTimeoutMs,
      handleSignals: true,
    },
    client,
    src,
    dst,
    { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    ctx,
  );
}
