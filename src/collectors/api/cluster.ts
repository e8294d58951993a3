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
  Packaging,
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
/** Canal (Calico's canal.yaml and RKE2's rke2-canal chart): DaemonSet labelled k8s-app=canal in kube-system. */
export const CANAL_SELECTOR = 'k8s-app=canal';
export const CANAL_NAMESPACE = 'kube-system';
/** The upstream image, for helper pods where no flannel image runs (embedded flannel); --image overrides it. */
export const DEFAULT_HELPER_IMAGE = 'ghcr.io/flannel-io/flannel:v0.28.9';

/** Where flannel's files are on a node. */
export interface NodePaths {
  /** net-conf.json on the node; read there only for embedded flannel (elsewhere it comes from the ConfigMap). */
  readonly netConf: string | null;
  readonly subnetEnv: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
}

export const STANDARD_PATHS: NodePaths = {
  netConf: null,
  subnetEnv: '/run/flannel/subnet.env',
  cniConfDir: '/etc/cni/net.d',
  cniBinDir: '/opt/cni/bin',
};

/**
 * k3s's layout (pkg/agent/config: <data-dir>/agent/etc/flannel/net-conf.json and <data-dir>/agent/etc/cni/net.d;
 * the CNI bin dir is where host-local is on k3s's PATH, the stable <data-dir>/data/cni that k3s fills with links
 * to its cni multicall binary). subnet.env keeps flannel's default path.
 */
export const K3S_PATHS: NodePaths = {
  netConf: '/var/lib/rancher/k3s/agent/etc/flannel/net-conf.json',
  subnetEnv: '/run/flannel/subnet.env',
  cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d',
  cniBinDir: '/var/lib/rancher/k3s/data/cni',
};

/** flanneld's own default --net-config-path, for embedded flannel of an unknown distribution. */
const UNKNOWN_EMBEDDED_PATHS: NodePaths = { ...STANDARD_PATHS, netConf: '/etc/kube-flannel/net-conf.json' };

/** What the rest of collection needs to know about the flannel installation. */
export interface FlannelLocation {
  readonly packaging: Packaging;
  /** The DaemonSet's namespace; for embedded flannel, where helper pods go (kube-system). */
  readonly namespace: string;
  /** null for embedded flannel: no DaemonSet runs flanneld. */
  readonly daemonSet: V1DaemonSet | null;
  /** Name of the container running flanneld (kube-flannel in the shipped manifest and in Canal); '' when embedded. */
  readonly container: string;
  /** The flannel container's image, or the helper image for embedded flannel. */
  readonly image: string;
  readonly args: readonly string[];
  /** Normalised to end in `/` or `-`, as flanneld does. */
  readonly annotationPrefix: string;
  /** null for embedded flannel. */
  readonly configMap: string | null;
  readonly nodePaths: NodePaths;
  /** The Node list read while looking for embedded flannel, reused so large clusters are listed once. */
  readonly nodesSeen?: readonly V1Node[];
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

interface Search {
  readonly namespaces: readonly string[];
  readonly selector: string;
}

/** First DaemonSet matching one search, with the most pods (old manifests had one per arch). */
async function findDaemonSet(
  client: KubeClient,
  search: Search,
  name: string | undefined,
  problems: string[],
): Promise<{ ns: string; ds: V1DaemonSet } | null> {
  for (const ns of search.namespaces) {
    try {
      const list = name ? [await client.readDaemonSet(ns, name)] : await client.listDaemonSets(ns, search.selector);
      list.sort((a, b) => (b.status?.desiredNumberScheduled ?? 0) - (a.status?.desiredNumberScheduled ?? 0));
      if (list[0]) return { ns, ds: list[0] };
    } catch (e) {
      if (e instanceof KubeAccessError && e.kind === 'not-found') continue;
      if (e instanceof KubeAccessError && (e.kind === 'unreachable' || e.kind === 'unauthorized'))
        throw new UserError(e.message, EXIT.cluster);
      problems.push((e as Error).message);
    }
  }
  return null;
}

/** Embedded flannel is seen only through its lease annotations on the Nodes. */
export function embeddedFlannel(nodes: readonly V1Node[], prefix: string): Packaging | null {
  const leased = nodes.filter((n) => {
    const a = n.metadata?.annotations ?? {};
    return a[`${prefix}kube-subnet-manager`] !== undefined || a[`${prefix}backend-type`] !== undefined;
  });
  if (leased.length === 0) return null;
  const version = nodes.map((n) => n.status?.nodeInfo?.kubeletVersion).find((v) => v) ?? null;
  const k3s =
    (version !== null && /\+k3s\d*/.test(version)) ||
    nodes.some((n) => Object.keys(n.metadata?.annotations ?? {}).some((k) => k.startsWith('k3s.io/')));
  return k3s
    ? { kind: 'embedded', distribution: 'k3s', version, netConfPath: K3S_PATHS.netConf! }
    : { kind: 'embedded', distribution: 'unknown', version, netConfPath: UNKNOWN_EMBEDDED_PATHS.netConf! };
}

/**
 * Finds flannel: the kube-flannel DaemonSet (app=flannel in kube-flannel, then kube-system), else Canal's
 * (k8s-app=canal in kube-system), else flannel embedded in the distribution (k3s): Nodes carry flannel's
 * annotations but no DaemonSet runs it. --flannel-namespace/-daemonset/-selector restrict the search to
 * what they name. Fails saying what was looked for and where.
 */
export async function locateFlannel(client: KubeClient, loc: FlannelLocator): Promise<FlannelLocation> {
  const explicit = loc.namespace !== undefined || loc.daemonSet !== undefined || loc.selector !== undefined;
  const searches: Search[] = explicit
    ? [
        {
          namespaces: loc.namespace ? [loc.namespace] : [...DEFAULT_FLANNEL_NAMESPACES],
          selector: loc.selector ?? DEFAULT_FLANNEL_SELECTOR,
        },
      ]
    : [
        { namespaces: [...DEFAULT_FLANNEL_NAMESPACES], selector: DEFAULT_FLANNEL_SELECTOR },
        { namespaces: [CANAL_NAMESPACE], selector: CANAL_SELECTOR },
      ];
  const problems: string[] = [];
  let found: { ns: string; ds: V1DaemonSet } | null = null;
  for (const search of searches) {
    found = await findDaemonSet(client, search, loc.daemonSet, problems);
    if (found) break;
  }
  if (!found) {
    let nodes: V1Node[] | null = null;
    if (!explicit) {
      try {
        nodes = await client.listNodes();
      } catch (e) {
        if (e instanceof KubeAccessError && (e.kind === 'unreachable' || e.kind === 'unauthorized'))
          throw new UserError(e.message, EXIT.cluster);
        problems.push(`listing Nodes for embedded flannel: ${(e as Error).message}`);
      }
    }
    const embedded = nodes ? embeddedFlannel(nodes, DEFAULT_ANNOTATION_PREFIX) : null;
    if (embedded?.kind === 'embedded') {
      return {
        packaging: embedded,
        namespace: loc.namespace ?? CANAL_NAMESPACE,
        daemonSet: null,
        container: '',
        image: DEFAULT_HELPER_IMAGE,
        args: [],
        annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
        configMap: null,
        nodePaths: embedded.distribution === 'k3s' ? K3S_PATHS : UNKNOWN_EMBEDDED_PATHS,
        ...(nodes ? { nodesSeen: nodes } : {}),
      };
    }
    const where = searches
      .map(
        (s) =>
          `${loc.daemonSet ? `DaemonSet ${loc.daemonSet}` : `a DaemonSet labelled ${s.selector}`} in namespace${s.namespaces.length > 1 ? 's' : ''} ${s.namespaces.join(', ')}`,
      )
      .join(', then ');
    throw new UserError(
      `flannel not found: looked for ${where}${explicit ? '' : `, then for Nodes with flannel's ${DEFAULT_ANNOTATION_PREFIX} annotations (embedded flannel, as in k3s)`}` +
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
  const canal = (found.ds.spec?.template.spec?.containers ?? []).some((x) => x.name === 'calico-node');
  return {
    packaging: { kind: canal ? 'canal' : 'kube-flannel' },
    namespace: found.ns,
    daemonSet: found.ds,
    container: c?.name ?? 'kube-flannel',
    image: c?.image ?? '',
    args,
    annotationPrefix: prefix ? normaliseAnnotationPrefix(prefix) : DEFAULT_ANNOTATION_PREFIX,
    configMap: loc.configMap ?? cfgVolume?.configMap?.name ?? DEFAULT_CONFIGMAP,
    nodePaths: STANDARD_PATHS,
  };
}

export async function readInstall(client: KubeClient, loc: FlannelLocation): Promise<FlannelInstall> {
  const ds = loc.daemonSet;
  const daemonSet = ds
    ? {
        name: ds.metadata?.name ?? '',
        image: loc.image,
        args: redactArgv(loc.args),
        desired: ds.status?.desiredNumberScheduled ?? 0,
        ready: ds.status?.numberReady ?? 0,
      }
    : null;
  const base = { packaging: loc.packaging, namespace: loc.namespace, daemonSet };
  if (loc.configMap === null) {
    // Embedded: net-conf.json is a file on every node; collection fills it in from there.
    return {
      ...base,
      netConf: { status: 'unavailable', error: `net-conf.json is read from ${loc.nodePaths.netConf} on the nodes` },
      netConfRaw: null,
      cniConfRaw: null,
    };
  }
  try {
    const cm = await client.readConfigMap(loc.namespace, loc.configMap);
    const netRaw = cm.data?.['net-conf.json'] ?? null;
    const cniRaw = cm.data?.['cni-conf.json'] ?? null;
    const parsed = netRaw === null ? null : parseNetConf(netRaw);
    return {
      ...base,
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
    return { ...base, netConf: failure(e), netConfRaw: null, cniConfRaw: null };
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

class EmbeddedNoPods extends Error {
  constructor(readonly packaging: Packaging) {
    super('embedded flannel has no pods');
  }
}

export interface ClusterReadOptions {
  /** --node: only these nodes (names are checked). */
  readonly nodeNames?: readonly string[] | undefined;
  /** --selector: a label selector over Nodes. */
  readonly nodeSelector?: string | undefined;
  readonly logTailLines?: number | undefined;
  readonly concurrency?: number | undefined;
  /**
   * Don't wait for the flannel pods' log tails (one request per pod): `state.flannelPods` is then
   * complete only once `flannelPodsWithLogs` settles, and the caller reaches the nodes meanwhile.
   */
  readonly deferLogs?: boolean | undefined;
}

export interface ClusterRead {
  readonly state: ClusterState;
  readonly location: FlannelLocation;
  /** Focused nodes, in name order (from the flannel pods' nodes when Nodes cannot be listed). */
  readonly nodes: readonly KubeNode[];
  /** All flannel pods by node name. */
  readonly podsByNode: ReadonlyMap<string, readonly V1Pod[]>;
  /** With deferLogs: the flannel pods with their log tails (state.flannelPods until then has none). */
  readonly flannelPodsWithLogs?: Promise<ClusterState['flannelPods']>;
}

export async function readClusterState(
  client: KubeClient,
  locator: FlannelLocator,
  opts: ClusterReadOptions = {},
): Promise<ClusterRead> {
  const location = await locateFlannel(client, locator);
  const installP = readInstall(client, location);
  const ds = location.daemonSet;
  // Embedded flannel has no pods: flanneld runs inside the distribution's own process.
  const podsP: Promise<V1Pod[] | null> = ds
    ? client.listPods(location.namespace, { labelSelector: daemonSetSelector(ds) || DEFAULT_FLANNEL_SELECTOR })
    : Promise.resolve(null);
  const policiesP = client.listNetworkPolicies();
  // Awaited further down; a UserError on the way there must not turn their failure into an unhandled rejection.
  podsP.catch(() => undefined);
  policiesP.catch(() => undefined);

  let nodes: Collected<readonly KubeNode[]>;
  let focused: KubeNode[] = [];
  try {
    const listed =
      location.nodesSeen && !opts.nodeSelector ? location.nodesSeen : await client.listNodes(opts.nodeSelector);
    const all = listed
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
    // A selector the API server cannot parse is the user's input, not a gap in the analysis.
    if (opts.nodeSelector && e instanceof KubeAccessError && e.httpStatus === 400)
      throw new UserError(`--selector ${opts.nodeSelector}: the API server refused it: ${e.detail}`, EXIT.usage);
    nodes = failure(e);
  }

  const podsByNode = new Map<string, V1Pod[]>();
  let flannelPods: Collected<readonly FlannelPod[]>;
  let withLogsLater: Promise<Collected<readonly FlannelPod[]>> | undefined;
  try {
    const pods = await podsP;
    if (pods === null) throw new EmbeddedNoPods(location.packaging);
    for (const p of pods) {
      const n = p.spec?.nodeName ?? '';
      podsByNode.set(n, [...(podsByNode.get(n) ?? []), p]);
    }
    const focusNames = new Set(focused.map((n) => n.name));
    const withLogs = pods.filter((p) => nodes.status !== 'ok' || focusNames.has(p.spec?.nodeName ?? ''));
    const logsP = mapLimit(withLogs, opts.concurrency ?? 16, async (p) => {
      try {
        return await logTail(client, p, location.container, opts.logTailLines ?? 40);
      } catch (e) {
        return [`(log not available: ${(e as Error).message})`];
      }
    });
    const podsWith = (logs: readonly string[][]): Collected<readonly FlannelPod[]> => {
      const logByName = new Map(withLogs.map((p, i) => [p.metadata?.name ?? '', logs[i] ?? []]));
      return ok(
        pods
          .map((p) => toFlannelPod(p, location.container, logByName.get(p.metadata?.name ?? '') ?? []))
          .sort((a, b) => a.name.localeCompare(b.name)),
      );
    };
    if (opts.deferLogs) {
      withLogsLater = logsP.then(podsWith);
      flannelPods = podsWith([]);
    } else flannelPods = podsWith(await logsP);
  } catch (e) {
    flannelPods =
      e instanceof EmbeddedNoPods
        ? {
            status: 'skipped',
            error: `flanneld is embedded in ${e.packaging.kind === 'embedded' && e.packaging.distribution !== 'unknown' ? e.packaging.distribution : 'the node agent'}: there are no flannel pods`,
          }
        : failure(e);
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
    ...(withLogsLater ? { flannelPodsWithLogs: withLogsLater } : {}),
  };
}
