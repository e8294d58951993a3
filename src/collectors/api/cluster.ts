/**
 * The Kubernetes side of the snapshot: where flannel is installed and how (DaemonSet, image,
 * args, net-conf.json), the Nodes with their flannel annotations, the flannel pods with their
 * health and log tails, and the NetworkPolicies (which flannel does not enforce).
 *
 * Only the discovery of flannel itself is fatal; every other part is a Collected<T>, so an
 * RBAC gap on, say, pods/log costs the log tails and nothing else.
 */
import type { V1Container, V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import { EXIT, UserError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { KubeAccessError } from '../../kube/errors.js';
import { parseNetConf } from '../../parse/netconf.js';
import { redactCniConf } from '../../parse/redact/cni.js';
import { redactArgv } from '../../parse/redact/free-text.js';
import { redactLogLine } from '../../parse/redact/log-line.js';
import { redactNetConf } from '../../parse/redact/netconf.js';
import type {
  ClusterState,
  Collected,
  ConditionStatus,
  FlannelInstall,
  FlannelPod,
  KubeNode,
} from '../../snapshot/types.js';
import { DEFAULT_ANNOTATION_PREFIX } from '../../snapshot/types.js';

export interface FlannelLocator {
  /** --flannel-namespace: only look here. Default: kube-flannel, then kube-system. */
  readonly namespace?: string | undefined;
  /** --flannel-daemonset: the DaemonSet's name. Default: any DaemonSet matching the selector. */
  readonly daemonSet?: string | undefined;
  /** --flannel-selector. Default app=flannel. */
  readonly selector?: string | undefined;
  /** --flannel-configmap. Default: the ConfigMap the DaemonSet mounts, else kube-flannel-cfg. */
  readonly configMap?: string | undefined;
}

export const DEFAULT_FLANNEL_NAMESPACES = ['kube-flannel', 'kube-system'] as const;
export const DEFAULT_FLANNEL_SELECTOR = 'app=flannel';
export const DEFAULT_CONFIGMAP = 'kube-flannel-cfg';

/** What the rest of collection needs to know about the flannel installation. */
export interface FlannelLocation {
  readonly namespace: string;
  readonly daemonSet: V1DaemonSet;
  /** Name of the container running flanneld (kube-flannel in the shipped manifest). */
  readonly container: string;
  readonly image: string;
  readonly args: readonly string[];
  /** Normalised to end in `/` or `-`, as flanneld does. */
  readonly annotationPrefix: string;
  readonly configMap: string;
}

function ok<T>(data: T): Collected<T> {
  return { status: 'ok', data };
}

function failure<T>(e: unknown): Collected<T> {
  const status = e instanceof KubeAccessError && e.kind === 'timeout' ? 'timeout' : 'failed';
  return { status, error: (e as Error).message };
}

function flanneldContainer(ds: V1DaemonSet): V1Container | undefined {
  const containers = ds.spec?.template.spec?.containers ?? [];
  return (
    containers.find((c) => c.name === 'kube-flannel') ??
    containers.find((c) =>
      [...(c.command ?? []), ...(c.args ?? [])].some((a) => /flanneld|--kube-subnet-mgr/.test(a)),
    ) ??
    containers[0]
  );
}

/** flanneld's flags as given on the command line: flags in `command` (after the binary) plus `args`. */
function flanneldArgs(c: V1Container): string[] {
  return [...(c.command ?? []).filter((a) => a.startsWith('-')), ...(c.args ?? [])];
}

/** Value of a Go flag (`--name=v`, `-name=v`, `--name v`) in args, or from its FLANNELD_ env var. */
export function flagValue(
  args: readonly string[],
  name: string,
  env: readonly { name: string; value?: string }[] = [],
): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a);
    if (!m || m[1] !== name) continue;
    value = m[2] ?? args[i + 1];
  }
  if (value !== undefined) return value;
  const envName = `FLANNELD_${name.toUpperCase().replace(/-/g, '_')}`;
  return env.find((e) => e.name === envName)?.value;
}

/** flanneld's own normalisation of --kube-annotation-prefix (pkg/subnet/kube/annotations.go). */
export function normaliseAnnotationPrefix(prefix: string): string {
  let p = prefix;
  if (!p.includes('/')) p += '/';
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  return p;
}

/** Finds flannel's DaemonSet, or fails saying what was looked for and where. */
export async function locateFlannel(client: KubeClient, loc: FlannelLocator): Promise<FlannelLocation> {
  const namespaces = loc.namespace ? [loc.namespace] : [...DEFAULT_FLANNEL_NAMESPACES];
  const selector = loc.selector ?? DEFAULT_FLANNEL_SELECTOR;
  const problems: string[] = [];
  let found: { ns: string; ds: V1DaemonSet } | null = null;
  for (const ns of namespaces) {
    try {
      let list: V1DaemonSet[];
      if (loc.daemonSet) list = [await client.readDaemonSet(ns, loc.daemonSet)];
      else list = await client.listDaemonSets(ns, selector);
      // Old manifests had one DaemonSet per arch; the one with the most pods is the one that matters.
      list.sort((a, b) => (b.status?.desiredNumberScheduled ?? 0) - (a.status?.desiredNumberScheduled ?? 0));
      if (list[0]) {
        found = { ns, ds: list[0] };
        break;
      }
    } catch (e) {
      if (e instanceof KubeAccessError && e.kind === 'not-found') continue;
      if (e instanceof KubeAccessError && (e.kind === 'unreachable' || e.kind === 'unauthorized'))
        throw new UserError(e.message, EXIT.cluster);
      problems.push((e as Error).message);
    }
  }
  if (!found) {
    const what = loc.daemonSet ? `DaemonSet ${loc.daemonSet}` : `a DaemonSet labelled ${selector}`;
    throw new UserError(
      `flannel not found: looked for ${what} in namespace${namespaces.length > 1 ? 's' : ''} ${namespaces.join(', ')}` +
        (problems.length ? ` (${problems.join('; ')})` : '') +
        '. If flannel is installed elsewhere, pass --flannel-namespace, --flannel-daemonset or --flannel-selector.',
      EXIT.cluster,
    );
  }
  const c = flanneldContainer(found.ds);
  const args = c ? flanneldArgs(c) : [];
  const env = (c?.env ?? []).map((e) => ({ name: e.name, ...(e.value !== undefined ? { value: e.value } : {}) }));
  const prefix = flagValue(args, 'kube-annotation-prefix', env);
  const cfgVolume = found.ds.spec?.template.spec?.volumes?.find(
    (v) =>
      v.configMap &&
      (c?.volumeMounts ?? []).some((m) => m.name === v.name && m.mountPath.startsWith('/etc/kube-flannel')),
  );
  return {
    namespace: found.ns,
    daemonSet: found.ds,
    container: c?.name ?? 'kube-flannel',
    image: c?.image ?? '',
    args,
    annotationPrefix: prefix ? normaliseAnnotationPrefix(prefix) : DEFAULT_ANNOTATION_PREFIX,
    configMap: loc.configMap ?? cfgVolume?.configMap?.name ?? DEFAULT_CONFIGMAP,
  };
}

export async function readInstall(client: KubeClient, loc: FlannelLocation): Promise<FlannelInstall> {
  const ds = loc.daemonSet;
  const daemonSet = {
    name: ds.metadata?.name ?? '',
    image: loc.image,
    args: redactArgv(loc.args),
    desired: ds.status?.desiredNumberScheduled ?? 0,
    ready: ds.status?.numberReady ?? 0,
  };
  try {
    const cm = await client.readConfigMap(loc.namespace, loc.configMap);
    const netRaw = cm.data?.['net-conf.json'] ?? null;
    const cniRaw = cm.data?.['cni-conf.json'] ?? null;
    const parsed = netRaw === null ? null : parseNetConf(netRaw);
    return {
      namespace: loc.namespace,
      daemonSet,
      netConf:
        parsed === null
          ? {
              status: 'failed',
              error: `ConfigMap ${loc.namespace}/${loc.configMap} has no net-conf.json key (keys: ${Object.keys(cm.data ?? {}).join(', ') || 'none'})`,
            }
          : parsed.ok
            ? ok(parsed.netConf)
            : { status: 'failed', error: `ConfigMap ${loc.namespace}/${loc.configMap}: ${parsed.error}` },
      netConfRaw: netRaw === null ? null : redactNetConf(netRaw).text,
      cniConfRaw: cniRaw === null ? null : redactCniConf(cniRaw),
    };
  } catch (e) {
    return { namespace: loc.namespace, daemonSet, netConf: failure(e), netConfRaw: null, cniConfRaw: null };
  }
}

function condition(node: V1Node, type: string): ConditionStatus & { reason: string | null } {
  const c = node.status?.conditions?.find((x) => x.type === type);
  if (!c) return { status: 'absent', reason: null };
  const status = c.status === 'True' || c.status === 'False' ? c.status : 'Unknown';
  return { status, reason: c.reason ?? null };
}

export function toKubeNode(node: V1Node, annotationPrefix: string): KubeNode {
  const annotations = node.metadata?.annotations ?? {};
  const flannelAnnotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations))
    if (k.startsWith(annotationPrefix)) flannelAnnotations[k.slice(annotationPrefix.length)] = v;
  const podCIDRs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  const ready = condition(node, 'Ready');
  return {
    name: node.metadata?.name ?? '',
    internalIPs: (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    podCIDRs,
    flannelAnnotations,
    ready: { status: ready.status },
    networkUnavailable: condition(node, 'NetworkUnavailable'),
    unschedulable: node.spec?.unschedulable ?? false,
    taints: (node.spec?.taints ?? []).map((t) => ({ key: t.key, effect: t.effect })),
  };
}

export function toFlannelPod(pod: V1Pod, container: string, logTail: readonly string[]): FlannelPod {
  const cs = pod.status?.containerStatuses?.find((c) => c.name === container) ?? pod.status?.containerStatuses?.[0];
  const term = cs?.lastState?.terminated;
  return {
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? '',
    node: pod.spec?.nodeName ?? null,
    phase: pod.status?.phase ?? 'Unknown',
    ready: cs?.ready ?? false,
    restarts: cs?.restartCount ?? 0,
    waitingReason: cs?.state?.waiting?.reason ?? null,
    lastTermination: term
      ? {
          reason: term.reason ?? 'Unknown',
          exitCode: term.exitCode,
          finishedAt: term.finishedAt ? new Date(term.finishedAt).toISOString() : null,
        }
      : null,
    image: pod.spec?.containers.find((c) => c.name === container)?.image ?? cs?.image ?? '',
    logTail,
  };
}

/** The pod a runner should exec into: Running, its flannel container running, preferring ready and newest. */
export function usablePod(pods: readonly V1Pod[], container: string): V1Pod | null {
  const running = pods.filter(
    (p) =>
      p.status?.phase === 'Running' &&
      !p.metadata?.deletionTimestamp &&
      p.status.containerStatuses?.some((c) => c.name === container && c.state?.running),
  );
  running.sort((a, b) => {
    const ra = a.status?.containerStatuses?.find((c) => c.name === container)?.ready ? 1 : 0;
    const rb = b.status?.containerStatuses?.find((c) => c.name === container)?.ready ? 1 : 0;
    if (ra !== rb) return rb - ra;
    const t = (p: V1Pod) => (p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).getTime() : 0);
    return t(b) - t(a);
  });
  return running[0] ?? null;
}

export function daemonSetSelector(ds: V1DaemonSet): string {
  const labels = ds.spec?.selector.matchLabels ?? {};
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  for (const e of ds.spec?.selector.matchExpressions ?? []) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

async function logTail(client: KubeClient, pod: V1Pod, container: string, lines: number): Promise<string[]> {
  const ns = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const cs = pod.status?.containerStatuses?.find((c) => c.name === container);
  const split = (s: string) =>
    s
      .split('\n')
      .filter((l, i, a) => l !== '' || i < a.length - 1)
      .map(redactLogLine);
  // After a restart the interesting lines are the dead instance's: why it exited.
  if ((cs?.restartCount ?? 0) > 0 && cs?.lastState?.terminated) {
    try {
      return [
        '--- previous container ---',
        ...split(await client.readPodLog(ns, name, container, { tailLines: lines, previous: true })),
      ];
    } catch {
      // The previous log may be gone (rotated, node rebooted); fall through to the current one.
    }
  }
  return split(await client.readPodLog(ns, name, container, { tailLines: lines, previous: false }));
}

export interface ClusterReadOptions {
  /** --node: only these nodes (names are checked). */
  readonly nodeNames?: readonly string[] | undefined;
  /** --selector: a label selector over Nodes. */
  readonly nodeSelector?: string | undefined;
  readonly logTailLines?: number | undefined;
  readonly concurrency?: number | undefined;
}

export interface ClusterRead {
  readonly state: ClusterState;
  readonly location: FlannelLocation;
  /** Focused nodes, in name order (from the flannel pods' nodes when Nodes cannot be listed). */
  readonly nodes: readonly KubeNode[];
  /** All flannel pods by node name. */
  readonly podsByNode: ReadonlyMap<string, readonly V1Pod[]>;
}

export async function readClusterState(
  client: KubeClient,
  locator: FlannelLocator,
  opts: ClusterReadOptions = {},
): Promise<ClusterRead> {
  const location = await locateFlannel(client, locator);
  const installP = readInstall(client, location);
  const podsP = client.listPods(location.namespace, {
    labelSelector: daemonSetSelector(location.daemonSet) || DEFAULT_FLANNEL_SELECTOR,
  });
  const policiesP = client.listNetworkPolicies();
  // Awaited further down; a UserError on the way there must not turn their failure into an unhandled rejection.
  podsP.catch(() => undefined);
  policiesP.catch(() => undefined);

  let nodes: Collected<readonly KubeNode[]>;
  let focused: KubeNode[] = [];
  try {
    const all = (await client.listNodes(opts.nodeSelector))
      .map((n) => toKubeNode(n, location.annotationPrefix))
      .sort((a, b) => a.name.localeCompare(b.name));
    focused = all;
    if (opts.nodeNames?.length) {
      const missing = opts.nodeNames.filter((n) => !all.some((k) => k.name === n));
      if (missing.length) {
        throw new UserError(
          `--node ${missing.join(', ')}: no such node${opts.nodeSelector ? ` matching --selector ${opts.nodeSelector}` : ''} (${all.length} nodes: ${all
            .slice(0, 10)
            .map((n) => n.name)
            .join(', ')}${all.length > 10 ? ', …' : ''})`,
          EXIT.usage,
        );
      }
      focused = all.filter((n) => opts.nodeNames!.includes(n.name));
    }
    if (opts.nodeSelector && all.length === 0)
      throw new UserError(`--selector ${opts.nodeSelector} matches no node`, EXIT.usage);
    // Analyzers compare every node with its peers, so the snapshot keeps all nodes; focus only limits host collection.
    nodes = ok(all);
  } catch (e) {
    if (e instanceof UserError) throw e;
    nodes = failure(e);
  }

  const podsByNode = new Map<string, V1Pod[]>();
  let flannelPods: Collected<readonly FlannelPod[]>;
  try {
    const pods = await podsP;
    for (const p of pods) {
      const n = p.spec?.nodeName ?? '';
      podsByNode.set(n, [...(podsByNode.get(n) ?? []), p]);
    }
    const focusNames = new Set(focused.map((n) => n.name));
    const withLogs = pods.filter((p) => nodes.status !== 'ok' || focusNames.has(p.spec?.nodeName ?? ''));
    const logs = await mapLimit(withLogs, opts.concurrency ?? 16, async (p) => {
      try {
        return await logTail(client, p, location.container, opts.logTailLines ?? 40);
      } catch (e) {
        return [`(log not available: ${(e as Error).message})`];
      }
    });
    const logByName = new Map(withLogs.map((p, i) => [p.metadata?.name ?? '', logs[i]!]));
    flannelPods = ok(
      pods
        .map((p) => toFlannelPod(p, location.container, logByName.get(p.metadata?.name ?? '') ?? []))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
  } catch (e) {
    flannelPods = failure(e);
  }

  let networkPolicies: Collected<readonly { namespace: string; name: string }[]>;
  try {
    networkPolicies = ok(await policiesP);
  } catch (e) {
    networkPolicies = failure(e);
  }

  // Without the Node list (RBAC), the nodes that run a flannel pod can still be reached.
  if (nodes.status !== 'ok') {
    focused = [...podsByNode.keys()]
      .filter((n) => n !== '' && (!opts.nodeNames?.length || opts.nodeNames.includes(n)))
      .sort()
      .map((name) => ({
        name,
        internalIPs: [podsByNode.get(name)?.[0]?.status?.hostIP].filter((ip): ip is string => !!ip),
        podCIDRs: [],
        flannelAnnotations: {},
        ready: { status: 'Unknown' },
        networkUnavailable: { status: 'Unknown', reason: null },
        unschedulable: false,
        taints: [],
      }));
  }
  const install = await installP;
  return {
    state: { flannel: ok(install), nodes, flannelPods, networkPolicies },
    location,
    nodes: focused,
    podsByNode,
  };
}
