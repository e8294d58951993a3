/**
 * The flags every cluster-reading command shares (doctor, …), following kubectl's names where
 * kubectl has one (--kubeconfig, --context, --request-timeout, -l/--selector), and their
 * translation into CollectOptions. A command wires them with two calls:
 *
 *   addClusterOptions(cmd);
 *   … collectSnapshot({ ...clusterOptionsFrom(cmd.opts()), onProgress })
 */
import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CANAL_SELECTOR, DEFAULT_FLANNEL_SELECTOR } from '../collectors/api/cluster.js';
import type { CollectOptions } from '../collectors/collect.js';
import { EXIT, UserError } from '../errors.js';
import { KubeAccessError } from '../kube/errors.js';
import type { Snapshot } from '../snapshot/types.js';
import { timingsFor } from './timings.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration (`30s`, `1m30s`, `500ms`) or a bare number of seconds, as kubectl does; returns ms. */
export function parseDuration(value: string, flag: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (v === '' || matched !== v.length)
    throw new InvalidArgumentError(
      `${flag}: "${value}" is not a duration (examples: 30s, 2m, 1m30s, 500ms; a bare number means seconds)`,
    );
  return Math.round(total);
}

function duration(flag: string) {
  return (v: string) => parseDuration(v, flag);
}

function positiveInt(flag: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1)
      throw new InvalidArgumentError(`${flag}: "${v}" is not a positive whole number`);
    return Number(v);
  };
}

function collect(v: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

export const DEFAULTS = {
  requestTimeout: '30s',
  /** Nodes in flight at once. Each node runs a few execs in parallel, so 32 nodes keep ~128 exec streams open: enough to collect 1000 nodes in minutes without loading the API server. */
  concurrency: 32,
  nodeTimeout: '90s',
  commandTimeout: '20s',
  helperDeadline: '10m',
  helperStartTimeout: '90s',
} as const;

export function addClusterOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)').helpGroup(
        'Cluster access:',
      ),
    )
    .addOption(new Option('--context <name>', 'kubeconfig context to use').helpGroup('Cluster access:'))
    .addOption(
      new Option('--request-timeout <duration>', 'deadline for each API request (0 = none)')
        .default(parseDuration(DEFAULTS.requestTimeout, '--request-timeout'), DEFAULTS.requestTimeout)
        .argParser(duration('--request-timeout'))
        .helpGroup('Cluster access:'),
    )
    .addOption(
      new Option(
        '--flannel-namespace <ns>',
        'namespace flannel runs in (default: kube-flannel, then kube-system)',
      ).helpGroup('Finding flannel:'),
    )
    .addOption(
      new Option(
        '--flannel-daemonset <name>',
        'flannel DaemonSet name (default: any matching --flannel-selector)',
      ).helpGroup('Finding flannel:'),
    )
    .addOption(
      // No commander default: without any --flannel-* flag discovery also tries Canal and embedded flannel (k3s).
      new Option(
        '--flannel-selector <selector>',
        `label selector of the flannel DaemonSet (default: ${DEFAULT_FLANNEL_SELECTOR}, then Canal's ${CANAL_SELECTOR}, then flannel embedded in k3s)`,
      ).helpGroup('Finding flannel:'),
    )
    .addOption(
      new Option(
        '--flannel-configmap <name>',
        'ConfigMap holding net-conf.json (default: the one the DaemonSet mounts, else kube-flannel-cfg)',
      ).helpGroup('Finding flannel:'),
    )
    .addOption(
      new Option('--node <name>', 'only collect this node (repeatable, or comma-separated)')
        .argParser(collect)
        .helpGroup('Which nodes:'),
    )
    .addOption(
      new Option('-l, --selector <selector>', 'only collect nodes matching this label selector').helpGroup(
        'Which nodes:',
      ),
    )
    .addOption(
      new Option('--concurrency <n>', 'nodes collected at once')
        .default(DEFAULTS.concurrency)
        .argParser(positiveInt('--concurrency'))
        .helpGroup('Which nodes:'),
    )
    .addOption(
      new Option('--node-timeout <duration>', 'give up on a node after this long')
        .default(parseDuration(DEFAULTS.nodeTimeout, '--node-timeout'), DEFAULTS.nodeTimeout)
        .argParser(duration('--node-timeout'))
        .helpGroup('Which nodes:'),
    )
    .addOption(
      new Option('--command-timeout <duration>', 'deadline for each command run on a node')
        .default(parseDuration(DEFAULTS.commandTimeout, '--command-timeout'), DEFAULTS.commandTimeout)
        .argParser(duration('--command-timeout'))
        .helpGroup('Which nodes:'),
    )
    .addOption(
      new Option(
        '--image <image>',
        "helper pod image (default: the flannel DaemonSet's image, already on every node)",
      ).helpGroup('Helper pods:'),
    )
    .addOption(
      new Option('--image-pull-secret <name>', 'pull secret for --image (repeatable)')
        .argParser(collect)
        .helpGroup('Helper pods:'),
    )
    .addOption(
      new Option(
        '--no-helper-pods',
        'never create helper pods; nodes without a running flannel pod are reported as not collected',
      ).helpGroup('Helper pods:'),
    )
    .addOption(
      new Option(
        '--node-access <mode>',
        'how to reach nodes: auto (flannel pod, helper pod where needed), flannel-pod (never a helper pod), helper-pod (always a helper pod)',
      )
        .choices(['auto', 'flannel-pod', 'helper-pod'])
        .default('auto')
        .helpGroup('Helper pods:'),
    )
    .addOption(
      new Option(
        '--helper-deadline <duration>',
        'activeDeadlineSeconds of helper pods: the kubelet kills them after this even if kubectl-flannel dies',
      )
        .default(parseDuration(DEFAULTS.helperDeadline, '--helper-deadline'), DEFAULTS.helperDeadline)
        .argParser(duration('--helper-deadline'))
        .helpGroup('Helper pods:'),
    )
    .addOption(
      new Option('--local', 'collect from this host instead of through the cluster (no API access needed)').helpGroup(
        'Local mode:',
      ),
    )
    .addOption(
      new Option(
        '--netns <name>',
        'with --local: collect inside this network namespace (as for `ip netns exec`)',
      ).helpGroup('Local mode:'),
    );
}

/** Raw option values as commander returns them for the flags above. */
export interface ClusterFlagValues {
  kubeconfig?: string;
  context?: string;
  requestTimeout?: number;
  flannelNamespace?: string;
  flannelDaemonset?: string;
  flannelSelector?: string;
  flannelConfigmap?: string;
  node?: string[];
  selector?: string;
  concurrency?: number;
  nodeTimeout?: number;
  commandTimeout?: number;
  image?: string;
  imagePullSecret?: string[];
  helperPods?: boolean;
  nodeAccess?: 'auto' | 'flannel-pod' | 'helper-pod';
  helperDeadline?: number;
  local?: boolean;
  netns?: string;
  /** Set by commands that offer --decrypt-esp. */
  decryptEsp?: boolean;
}

/** Where `ip netns exec NAME` looks for the namespace: a path as given, else iproute2's run directory. */
function netnsPath(name: string): string {
  return name.includes('/') ? name : `/run/netns/${name}`;
}

export function clusterOptionsFrom(o: ClusterFlagValues): CollectOptions {
  const keepKeys = o.decryptEsp === true;
  const commandTimeoutMs = o.commandTimeout ?? parseDuration(DEFAULTS.commandTimeout, '--command-timeout');
  if (o.netns !== undefined && !o.local) throw new UserError('--netns needs --local', EXIT.usage);
  if (o.local) {
    const clusterOnly = (
      [
        'kubeconfig',
        'context',
        'flannelNamespace',
        'flannelDaemonset',
        'flannelConfigmap',
        'node',
        'selector',
        'image',
      ] as const
    ).filter((k) => o[k] !== undefined);
    if (clusterOnly.length) {
      const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new UserError(
        `--local does not use the cluster, so ${clusterOnly.map(flag).join(', ')} cannot be combined with it`,
        EXIT.usage,
      );
    }
    if (o.netns !== undefined && !existsSync(netnsPath(o.netns)))
      throw new UserError(
        `--netns ${o.netns}: no such network namespace (${netnsPath(o.netns)} does not exist; \`ip netns list\` shows them)`,
        EXIT.usage,
      );
    return { mode: 'local', netns: o.netns, keepKeys, commandTimeoutMs };
  }
  if (o.nodeAccess === 'helper-pod' && o.helperPods === false)
    throw new UserError('--node-access helper-pod and --no-helper-pods contradict each other', EXIT.usage);
  const helperDeadlineMs = o.helperDeadline ?? parseDuration(DEFAULTS.helperDeadline, '--helper-deadline');
  if (helperDeadlineMs < 30_000)
    throw new UserError(
      `--helper-deadline ${Math.round(helperDeadlineMs / 1000)}s is too short: helper pods need at least 30s to start and run`,
      EXIT.usage,
    );
  return {
    mode: 'cluster',
    kube: { kubeconfig: o.kubeconfig, context: o.context },
    requestTimeoutMs: o.requestTimeout ?? parseDuration(DEFAULTS.requestTimeout, '--request-timeout'),
    flannel: {
      namespace: o.flannelNamespace,
      daemonSet: o.flannelDaemonset,
      selector: o.flannelSelector,
      configMap: o.flannelConfigmap,
    },
    nodeNames: o.node ?? [],
    nodeSelector: o.selector,
    concurrency: o.concurrency ?? DEFAULTS.concurrency,
    nodeTimeoutMs: o.nodeTimeout ?? parseDuration(DEFAULTS.nodeTimeout, '--node-timeout'),
    commandTimeoutMs,
    keepKeys,
    helperPods: {
      enabled: o.helperPods !== false && o.nodeAccess !== 'flannel-pod',
      always: o.nodeAccess === 'helper-pod',
      image: o.image,
      imagePullSecrets: o.imagePullSecret ?? [],
      deadlineSeconds: Math.ceil(helperDeadlineMs / 1000),
      startTimeoutMs: parseDuration(DEFAULTS.helperStartTimeout, 'helper start'),
    },
    handleSignals: true,
  };
}

/**
 * doctor's live snapshot source: the flags above, collection with progress on stderr, and
 * cluster-access failures turned into the "cluster" exit code.
 */
export async function liveSnapshot(cmd: Command): Promise<Snapshot> {
  const options = clusterOptionsFrom(cmd.opts<ClusterFlagValues>());
  const timings = timingsFor(cmd);
  timings?.begin('loading modules');
  // Loaded on use, not at start: the Kubernetes client and ink are most of the start-up time (bench/startup.sh).
  const [{ collectSnapshot }, { progressRenderer }] = await Promise.all([
    import('../collectors/collect.js'),
    import('../render/progress.js'),
  ]);
  const progress = progressRenderer();
  if (timings && options.mode === 'cluster') timings.setConcurrency(options.concurrency);
  const onProgress = timings
    ? (e: Parameters<typeof progress.onProgress>[0]) => {
        timings.observe(e);
        progress.onProgress(e);
      }
    : progress.onProgress;
  try {
    return await collectSnapshot({ ...options, onProgress });
  } catch (e) {
    if (e instanceof KubeAccessError) throw new UserError(e.message, EXIT.cluster);
    throw e;
  } finally {
    await progress.done();
  }
}
