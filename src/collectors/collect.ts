/**
 * Fills a Snapshot from a live cluster (or from this host with --local).
 *
 * Cluster objects first, then every focused node in a bounded pool: each node gets its own
 * deadline, a NodeRunner (flannel pod, helper pod as fallback) and the shared per-node
 * collector. A node that fails is recorded with its reason and the others carry on. Helper
 * pods are deleted when collection ends, however it ends.
 */
import os from 'node:os';
import { dirname } from 'node:path';
import type { Exec } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.js';
import { makeExec } from '../kube/exec.js';
import { type KubeConfigOptions, loadKubeConfig } from '../kube/kubeconfig.js';
import { hostAt, type Prefix, parsePrefix, usableEnds } from '../net/cidr.js';
import type { ProgressEvent } from '../snapshot/progress.js';
import {
  type BackendType,
  type Collected,
  type CollectionError,
  type FlannelInstall,
  type HostState,
  type KubeNode,
  SCHEMA_VERSION,
  type Snapshot,
} from '../snapshot/types.js';
import { VERSION } from '../version.js';
import { type FlannelLocator, mapLimit, type NodePaths, readClusterState, usablePod } from './api/cluster.js';
import type { RouteDecisionPlan } from './node/commands.js';
import { HelperPods, installSignalCleanup, newRunId, RUN_LABEL } from './node/helper-pods.js';
import { collectHost as defaultCollectHost } from './node/host.js';
import { localRunner } from './node/local.js';
import { healthzPort, installFromNodeFiles } from './node/node-files.js';
import { NodeRunner } from './node/pod-runner.js';
import type { CommandResult, CommandRunner } from './node/runner.js';

/** The per-node collector's signature (src/collectors/node/host.ts). */
export type CollectHost = (
  node: string,
  runner: CommandRunner,
  opts: {
    keepKeys: boolean;
    peerAddresses: readonly string[];
    routeDecisions?: RouteDecisionPlan;
    timeoutMs?: number;
    signal?: AbortSignal;
  },
) => Promise<HostState>;

export interface HelperPodSettings {
  readonly enabled: boolean;
  /** Use a helper pod on every node, never the flannel pod (--node-access helper-pod). */
  readonly always?: boolean | undefined;
  /** Default: the image the flannel DaemonSet runs (every node has it already). */
  readonly image?: string | undefined;
  readonly imagePullSecrets: readonly string[];
  /** activeDeadlineSeconds of each helper pod. */
  readonly deadlineSeconds: number;
  readonly startTimeoutMs: number;
}

interface CommonOptions {
  readonly keepKeys: boolean;
  readonly commandTimeoutMs: number;
  readonly onProgress?: ((e: ProgressEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Default: collectHost from ./host.js. */
  readonly collectHost?: CollectHost | undefined;
  readonly toolVersion?: string | undefined;
}

export interface ClusterCollectOptions extends CommonOptions {
  readonly mode: 'cluster';
  readonly kube: KubeConfigOptions;
  /** 0 = no per-request deadline. */
  readonly requestTimeoutMs: number;
  readonly flannel: FlannelLocator;
  readonly nodeNames: readonly string[];
  readonly nodeSelector?: string | undefined;
  readonly concurrency: number;
  readonly nodeTimeoutMs: number;
  readonly helperPods: HelperPodSettings;
  /** Install SIGINT/SIGTERM handlers that delete helper pods before exiting (the CLI sets this). */
  readonly handleSignals?: boolean | undefined;
}

export interface LocalCollectOptions extends CommonOptions {
  readonly mode: 'local';
  /** A network namespace name (as for `ip netns exec`); default the host's own. */
  readonly netns?: string | undefined;
  /** Peer addresses for `ip route get`. */
  readonly peerAddresses?: readonly string[] | undefined;
}

export type CollectOptions = ClusterCollectOptions | LocalCollectOptions;

/** Counts commands and remembers whether any of them actually ran, for progress and failure reporting. */
class CountingRunner implements CommandRunner {
  commands = 0;
  started = 0;
  firstError: string | null = null;
  constructor(
    private readonly inner: CommandRunner,
    private readonly onCommand: (n: number) => void,
  ) {}
  get description(): string {
    return this.inner.description;
  }
  get shell(): CommandRunner['shell'] {
    return this.inner.shell;
  }
  async run(argv: readonly string[], opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<CommandResult> {
    const r = await this.inner.run(argv, opts);
    this.commands++;
    if (r.exitCode !== null) this.started++;
    else this.firstError ??= r.error ?? 'no exit status';
    this.onCommand(this.commands);
    return r;
  }
}

/**
 * What the node is asked in its one `ip -batch`: the first and last usable address of every
 * other node's podCIDRs, and as the pod source an address in its own podCIDR (cni0's + 1).
 */
export function routeDecisionPlan(node: KubeNode, nodes: readonly KubeNode[]): RouteDecisionPlan {
  const own = node.podCIDRs.map(parsePrefix).filter((p): p is Prefix => p !== null);
  const src = (f: 'inet' | 'inet6'): string | null => {
    const p = own.find((x) => x.family === f);
    return p ? hostAt(p, 2) : null;
  };
  const dsts = nodes
    .filter((n) => n.name !== node.name)
    .flatMap((n) => n.podCIDRs.map(parsePrefix).flatMap((p) => (p ? usableEnds(p) : [])));
  return { dsts: [...new Set(dsts)], podSource4: src('inet'), podSource6: src('inet6') };
}

function peerAddresses(nodes: readonly KubeNode[]): string[] {
  const out = new Set<string>();
  for (const n of nodes) {
    const v4 = n.flannelAnnotations['public-ip'] ?? n.internalIPs.find((ip) => !ip.includes(':'));
    const v6 = n.flannelAnnotations['public-ipv6'];
    if (v4) out.add(v4);
    if (v6) out.add(v6);
  }
  return [...out].sort();
}

/**
 * Runs `work` until it settles or `signal` aborts, whichever is first. The listener is removed
 * afterwards, and a late rejection of either side is absorbed: an AbortSignal.timeout firing
 * after its node finished must not become an unhandled rejection that kills a long run.
 */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export async function collectSnapshot(opts: CollectOptions): Promise<Snapshot> {
  return opts.mode === 'local' ? collectLocal(opts) : collectCluster(opts);
}

async function collectLocal(opts: LocalCollectOptions): Promise<Snapshot> {
  const emit = opts.onProgress ?? (() => undefined);
  const collectHost = opts.collectHost ?? defaultCollectHost;
  const name = opts.netns ?? os.hostname();
  const runner = new CountingRunner(localRunner(opts.netns !== undefined ? { netns: opts.netns } : {}), (n) =>
    emit({ type: 'node', node: name, state: 'running', via: runner.description, commands: n }),
  );
  emit({ type: 'phase', phase: 'nodes', message: `collecting from ${runner.description}` });
  emit({ type: 'nodes', nodes: [name] });
  emit({ type: 'node', node: name, state: 'running', via: runner.description });
  const started = performance.now();
  const host = await collectHost(name, runner, {
    keepKeys: opts.keepKeys,
    peerAddresses: opts.peerAddresses ?? [],
    timeoutMs: opts.commandTimeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  emit({
    type: 'node',
    node: name,
    state: 'ok',
    via: runner.description,
    durationMs: Math.round(performance.now() - started),
    commands: runner.commands,
  });
  const skipped = { status: 'skipped', error: 'collected with --local: the Kubernetes API was not used' } as const;
  emit({ type: 'phase', phase: 'done', message: 'collected' });
  return {
    schemaVersion: SCHEMA_VERSION,
    collectedAt: new Date().toISOString(),
    source: {
      kind: 'local',
      description: opts.netns ? `network namespace ${opts.netns} on ${os.hostname()}` : `host ${os.hostname()}`,
      toolVersion: opts.toolVersion ?? VERSION,
      keysIncluded: opts.keepKeys,
    },
    cluster: { flannel: skipped, nodes: skipped, flannelPods: skipped, networkPolicies: skipped },
    hosts: { [name]: { status: 'ok', data: host } },
    errors: [],
  };
}

async function collectCluster(opts: ClusterCollectOptions): Promise<Snapshot> {
  const emit = opts.onProgress ?? (() => undefined);
  const controller = new AbortController();
  const runSignal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
  const collectHost = opts.collectHost ?? defaultCollectHost;

  emit({ type: 'phase', phase: 'connect', message: 'loading kubeconfig' });
  const cfg = loadKubeConfig(opts.kube);
  const client = new KubeClient(cfg.kc, opts.requestTimeoutMs, runSignal);
  const exec: Exec = makeExec(cfg.kc);
  emit({
    type: 'phase',
    phase: 'cluster',
    message: `reading flannel and nodes from ${cfg.server} (context ${cfg.context})`,
  });
  const read = await readClusterState(client, opts.flannel, {
    nodeNames: opts.nodeNames,
    nodeSelector: opts.nodeSelector,
    concurrency: opts.concurrency,
    // The log tails (one request per flannel pod) are read while the nodes are collected.
    deferLogs: true,
  });
  const errors: CollectionError[] = [];
  for (const [what, part] of Object.entries(read.state) as [string, Collected<unknown>][]) {
    // skipped = deliberately not read (embedded flannel has no pods), not a collection failure.
    if (part.status !== 'ok' && part.status !== 'skipped') errors.push({ node: null, what, error: part.error });
  }

  const helpers = opts.helperPods.enabled
    ? new HelperPods(
        client,
        {
          namespace: read.location.namespace,
          image: opts.helperPods.image ?? read.location.image,
          imagePullSecrets: opts.helperPods.imagePullSecrets,
          runId: newRunId(),
          deadlineSeconds: opts.helperPods.deadlineSeconds,
          hostPaths: helperHostPaths(read.location.nodePaths),
        },
        opts.helperPods.startTimeoutMs,
      )
    : null;
  const cleanup = async () => {
    if (!helpers || helpers.names().length === 0) return;
    emit({ type: 'phase', phase: 'cleanup', message: `deleting ${helpers.names().length} helper pod(s)` });
    const r = await helpers.deleteAll();
    for (const f of r.failed)
      emit({
        type: 'warning',
        message: `helper pod ${f.name} not deleted (${f.error}); it stops by itself after ${opts.helperPods.deadlineSeconds} s, or run: kubectl flannel cleanup`,
      });
  };
  const uninstall = opts.handleSignals ? installSignalCleanup(controller, cleanup) : () => undefined;

  const hosts: Record<string, Collected<HostState>> = {};
  const allNodes = read.state.nodes.status === 'ok' ? read.state.nodes.data : read.nodes;
  const peers = peerAddresses(allNodes);
  const paths = read.location.nodePaths;
  const port = healthzPort(read.location.args);
  try {
    const names = read.nodes.map((n) => n.name);
    emit({ type: 'nodes', nodes: names });
    const label = helpers ? `; helper pods, if any: ${RUN_LABEL}=${helpers.options.runId}` : '';
    emit({
      type: 'phase',
      phase: 'nodes',
      message: `collecting ${names.length} node(s), ${opts.concurrency} at a time${label}`,
    });
    await mapLimit(read.nodes, opts.concurrency, async (node) => {
      const name = node.name;
      if (runSignal.aborted) {
        hosts[name] = { status: 'skipped', error: 'collection was interrupted' };
        return;
      }
      const started = performance.now();
      const deadline = AbortSignal.timeout(opts.nodeTimeoutMs);
      const nodeSignal = AbortSignal.any([deadline, runSignal]);
      const pod = usablePod(read.podsByNode.get(name) ?? [], read.location.container);
      const nodeRunner = new NodeRunner({
        node: name,
        exec,
        flannelPod:
          pod && !opts.helperPods.always
            ? { namespace: read.location.namespace, pod: pod.metadata?.name ?? '', container: read.location.container }
            : null,
        helpers,
        fallbackOnMissingTool:
          helpers !== null &&
          helpers.options.image !==
            (pod?.spec?.containers.find((c) => c.name === read.location.container)?.image ?? read.location.image),
        timeoutMs: opts.commandTimeoutMs,
        signal: nodeSignal,
        noFlannelPodReason:
          pod && opts.helperPods.always
            ? '--node-access helper-pod'
            : read.location.packaging.kind === 'embedded'
              ? `flanneld is embedded in ${read.location.packaging.distribution === 'k3s' ? 'k3s' : 'the node agent'}, no flannel pod`
              : undefined,
        onFallback: (reason) => emit({ type: 'node', node: name, state: 'running', via: 'helper pod', detail: reason }),
      });
      const counter = new CountingRunner(nodeRunner, (n) =>
        emit({ type: 'node', node: name, state: 'running', via: nodeRunner.description, commands: n }),
      );
      emit({ type: 'node', node: name, state: 'running', via: nodeRunner.description, commands: 0 });
      try {
        const host = await untilAborted(
          collectHost(name, counter, {
            keepKeys: opts.keepKeys,
            backend: backendOf(read.state.flannel),
            peerAddresses: peers.filter(
              (p) => !node.internalIPs.includes(p) && p !== node.flannelAnnotations['public-ip'],
            ),
            routeDecisions: routeDecisionPlan(node, allNodes),
            timeoutMs: opts.commandTimeoutMs,
            signal: nodeSignal,
            subnetEnvPath: paths.subnetEnv,
            cniConfDir: paths.cniConfDir,
            cniBinDir: paths.cniBinDir,
            netConfPath: paths.netConf,
            healthzPort: pod ? port : null,
          }),
          nodeSignal,
        );
        const durationMs = Math.round(performance.now() - started);
        if (counter.started === 0) {
          const error = `no command ran on node ${name}: ${counter.firstError ?? 'unknown error'}`;
          hosts[name] = { status: 'failed', error };
          errors.push({ node: name, what: 'node-access', error });
          emit({ type: 'node', node: name, state: 'failed', detail: error, durationMs, commands: counter.commands });
        } else {
          hosts[name] = { status: 'ok', data: host };
          emit({
            type: 'node',
            node: name,
            state: 'ok',
            via: nodeRunner.description,
            durationMs,
            commands: counter.commands,
          });
        }
      } catch (e) {
        const durationMs = Math.round(performance.now() - started);
        if (deadline.aborted) {
          const error = `node ${name} not collected within ${opts.nodeTimeoutMs < 1000 ? `${opts.nodeTimeoutMs} ms` : `${Math.round(opts.nodeTimeoutMs / 1000)} s`} (--node-timeout); ${counter.commands} command(s) had finished`;
          hosts[name] = { status: 'timeout', error };
          errors.push({ node: name, what: 'node-timeout', error });
          emit({ type: 'node', node: name, state: 'timeout', detail: error, durationMs });
        } else if (runSignal.aborted) {
          hosts[name] = { status: 'skipped', error: 'collection was interrupted' };
          emit({ type: 'node', node: name, state: 'failed', detail: 'interrupted', durationMs });
        } else {
          const error = `node ${name}: ${(e as Error).message}`;
          hosts[name] = { status: 'failed', error };
          errors.push({ node: name, what: 'node-collect', error });
          emit({ type: 'node', node: name, state: 'failed', detail: error, durationMs });
        }
      }
    });
  } finally {
    await cleanup();
    uninstall();
  }
  let cluster = read.flannelPodsWithLogs ? { ...read.state, flannelPods: await read.flannelPodsWithLogs } : read.state;
  emit({ type: 'phase', phase: 'done', message: 'collected' });
  if (paths.netConf && cluster.flannel.status === 'ok') {
    // Embedded flannel: no ConfigMap; every node's flanneld reads its own file.
    const { install, differing } = installFromNodeFiles(cluster.flannel.data, hosts, paths.netConf);
    cluster = { ...cluster, flannel: { status: 'ok', data: install } };
    if (install.netConf.status !== 'ok') errors.push({ node: null, what: 'flannel', error: install.netConf.error });
    for (const node of differing)
      errors.push({
        node,
        what: 'netConf',
        error: `${paths.netConf} on ${node} differs from the one most nodes hold; analysed with the majority's`,
      });
  }
  return {
    schemaVersion: SCHEMA_VERSION,
    collectedAt: new Date().toISOString(),
    source: {
      kind: 'cluster',
      description: `context ${cfg.context} (${cfg.server})`,
      toolVersion: opts.toolVersion ?? VERSION,
      keysIncluded: opts.keepKeys,
    },
    cluster,
    // Completion order is random; a stable order keeps saved snapshots diffable.
    hosts: Object.fromEntries(Object.entries(hosts).sort(([a], [b]) => a.localeCompare(b))),
    errors: [...errors].sort((a, b) => (a.node ?? '').localeCompare(b.node ?? '') || a.what.localeCompare(b.what)),
  };
}

/** Directories a helper pod must see besides the standard ones: where this packaging keeps flannel's files. */
function helperHostPaths(p: NodePaths): string[] {
  const dirs = [p.netConf ? dirname(p.netConf) : null, dirname(p.subnetEnv), p.cniConfDir, p.cniBinDir];
  return [...new Set(dirs.filter((d): d is string => d !== null))];
}

/** The configured backend type, so the host collector skips commands that backend never needs. */
function backendOf(flannel: Collected<FlannelInstall>): BackendType | null {
  return flannel.status === 'ok' && flannel.data.netConf.status === 'ok'
    ? flannel.data.netConf.data.backend.type
    : null;
}
