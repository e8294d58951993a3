/**
 * The model: a snapshot read the way flanneld reads the cluster. Nodes become leases
 * (podCIDR, public-ip, backend-type, backend-data), and each node's collected kernel
 * state sits next to its lease, so checks compare the two without re-deriving anything.
 */

import { type Prefix, parsePrefix } from '../net/cidr.js';
import type {
  Backend,
  Collected,
  HostState,
  KubeNode,
  Link,
  NetConf,
  Snapshot,
  SnapshotHead,
} from '../snapshot/types.js';

export interface VxlanLeaseData {
  readonly vni: number | null;
  readonly vtepMAC: string;
}

export interface WireguardLeaseData {
  readonly publicKey: string;
  readonly port: number;
}

/** A node as flanneld sees it through the API: its Node object and the lease its annotations publish. */
export interface Lease {
  readonly name: string;
  readonly kube: KubeNode;
  readonly podCIDR: Prefix | null;
  readonly podCIDRv6: Prefix | null;
  /** flanneld ignores nodes without `kube-subnet-manager: "true"`: no routes or fdb toward them. */
  readonly managed: boolean;
  /** The `backend-type` annotation; "" for udp and alloc. null when absent. */
  readonly backendType: string | null;
  readonly publicIP: string | null;
  readonly publicIPv6: string | null;
  readonly vxlan: VxlanLeaseData | null;
  readonly vxlanV6: VxlanLeaseData | null;
  readonly wireguard: WireguardLeaseData | null;
  readonly wireguardV6: WireguardLeaseData | null;
  /** Why backend-data could not be read, when it could not. */
  readonly backendDataError: string | null;
}

/** A lease with the node's collected kernel state next to it. */
export interface FlannelNode extends Lease {
  /** Kernel state, or null when it was not collected (see hostError). */
  readonly host: HostState | null;
  readonly hostError: string | null;
}

/**
 * The cluster as the analysis sees it: configuration and every node's lease, but no node's
 * kernel state. Checks see one host at a time (NodeContext.host), so a snapshot can be analysed
 * while it is read, host by host, without holding every host at once.
 */
export interface Model {
  readonly snapshot: SnapshotHead;
  readonly netConf: NetConf | null;
  readonly backend: Backend | null;
  readonly network: Prefix | null;
  readonly network6: Prefix | null;
  readonly nodes: readonly Lease[];
  readonly byName: ReadonlyMap<string, Lease>;
}

/** The model of a whole snapshot in memory, every host included (for trace, which walks across hosts). */
export interface SnapshotModel extends Model {
  readonly snapshot: Snapshot;
  readonly nodes: readonly FlannelNode[];
  readonly byName: ReadonlyMap<string, FlannelNode>;
}

/** The value flanneld writes into `backend-type` for a backend. */
export function annotationBackendType(backend: Backend): string {
  if (backend.type === 'udp') return '';
  if (backend.type === 'other') return backend.name;
  return backend.type;
}

export function buildModel(snapshot: Snapshot): SnapshotModel {
  const hosts = new Map(Object.entries(snapshot.hosts));
  const nodes = kubeNodesOf(snapshot, hosts).map((k) => withHost(toLease(k), hosts.get(k.name)));
  return { ...configOf(snapshot), snapshot, nodes, byName: new Map(nodes.map((n) => [n.name, n])) };
}

/**
 * The model without kernel state: what the analysis needs before the first host is read. `hosts` is
 * needed only for a `--local` snapshot without Node objects, whose nodes are its hosts.
 */
export function buildLeaseModel(head: SnapshotHead, hosts: ReadonlyMap<string, Collected<HostState>>): Model {
  const nodes = kubeNodesOf(head, hosts).map(toLease);
  return { ...configOf(head), snapshot: head, nodes, byName: new Map(nodes.map((n) => [n.name, n])) };
}

/** True when the nodes come from the hosts (a `--local` snapshot without Node objects), not from the API. */
export function nodesFromHosts(head: SnapshotHead): boolean {
  return head.cluster.nodes.status !== 'ok' && head.source.kind === 'local';
}

/** The lease with its host: the node a node check looks at. */
export function withHost(lease: Lease, hostC: Collected<HostState> | undefined): FlannelNode {
  return {
    ...lease,
    host: hostC?.status === 'ok' ? hostC.data : null,
    hostError: hostC === undefined ? 'not collected' : hostC.status === 'ok' ? null : `${hostC.status}: ${hostC.error}`,
  };
}

function kubeNodesOf(head: SnapshotHead, hosts: ReadonlyMap<string, Collected<HostState>>): readonly KubeNode[] {
  if (head.cluster.nodes.status === 'ok') return head.cluster.nodes.data;
  return nodesFromHosts(head) ? localNodes(hosts) : [];
}

function configOf(snapshot: SnapshotHead): Omit<Model, 'snapshot' | 'nodes' | 'byName'> {
  const flannel = snapshot.cluster.flannel.status === 'ok' ? snapshot.cluster.flannel.data : null;
  const netConf = flannel && flannel.netConf.status === 'ok' ? flannel.netConf.data : null;
  return {
    netConf,
    backend: netConf?.backend ?? null,
    // flanneld ignores the Network of a disabled family, and k3s fills it with a placeholder
    // (0.0.0.0/0 when IPv4 is off, ::/0 when IPv6 is off) that would cover every address.
    network: netConf?.network && netConf.enableIPv4 ? parsePrefix(netConf.network) : null,
    network6: netConf?.ipv6Network && netConf.enableIPv6 ? parsePrefix(netConf.ipv6Network) : null,
  };
}

/**
 * `doctor --local` reads no Node objects: each collected host stands for a node whose API side
 * is unknown, with the podCIDR flanneld leased it (subnet.env), so every node check that reads
 * the kernel runs on it. Checks of Node objects and peers have nothing to compare and stay silent.
 */
function localNodes(hosts: ReadonlyMap<string, Collected<HostState>>): KubeNode[] {
  return [...hosts].map(([name, h]) => {
    const env = h.status === 'ok' && h.data.subnetEnv.status === 'ok' ? h.data.subnetEnv.data : null;
    const subnets = [env?.subnet, env?.ipv6Subnet].flatMap((s) => {
      const p = s ? parsePrefix(s) : null;
      return p ? [p.text] : [];
    });
    return {
      name,
      internalIPs: [],
      podCIDRs: subnets,
      flannelAnnotations: {},
      ready: { status: 'absent' },
      networkUnavailable: { status: 'absent', reason: null },
      unschedulable: false,
      taints: [],
    };
  });
}

function toLease(kube: KubeNode): Lease {
  const a = kube.flannelAnnotations;
  const cidrs = kube.podCIDRs.map(parsePrefix);
  const backendType = a['backend-type'] ?? null;
  const data = parseBackendData(backendType, a['backend-data']);
  const data6 = parseBackendData(backendType, a['backend-v6-data']);
  return {
    name: kube.name,
    kube,
    podCIDR: cidrs.find((c) => c?.family === 'inet') ?? null,
    podCIDRv6: cidrs.find((c) => c?.family === 'inet6') ?? null,
    managed: a['kube-subnet-manager'] === 'true',
    backendType,
    publicIP: a['public-ip'] ?? null,
    publicIPv6: a['public-ipv6'] ?? null,
    vxlan: data.vxlan,
    vxlanV6: data6.vxlan,
    wireguard: data.wireguard,
    wireguardV6: data6.wireguard,
    backendDataError: data.error ?? data6.error,
  };
}

interface ParsedBackendData {
  readonly vxlan: VxlanLeaseData | null;
  readonly wireguard: WireguardLeaseData | null;
  readonly error: string | null;
}

const NONE: ParsedBackendData = { vxlan: null, wireguard: null, error: null };

function parseBackendData(type: string | null, raw: string | undefined): ParsedBackendData {
  if (raw === undefined || raw === '' || raw === 'null') return NONE;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { ...NONE, error: `backend-data is not JSON: ${raw}` };
  }
  if (typeof v !== 'object' || v === null) return NONE;
  // Go's encoding/json matches keys case-insensitively; flannel writes VtepMAC/VNI/PublicKey/Port.
  const get = (k: string): unknown =>
    Object.entries(v as Record<string, unknown>).find(([key]) => key.toLowerCase() === k)?.[1];
  if (type === 'vxlan') {
    const mac = get('vtepmac');
    if (typeof mac !== 'string') return { ...NONE, error: `backend-data has no VtepMAC: ${raw}` };
    const vni = get('vni');
    return { ...NONE, vxlan: { vtepMAC: mac.toLowerCase(), vni: typeof vni === 'number' ? vni : null } };
  }
  if (type === 'wireguard') {
    const key = get('publickey');
    const port = get('port');
    if (typeof key !== 'string') return { ...NONE, error: `backend-data has no PublicKey: ${raw}` };
    return { ...NONE, wireguard: { publicKey: key, port: typeof port === 'number' ? port : 0 } };
  }
  return NONE;
}

/**
 * False when the node's flanneld runs another backend than net-conf.json names (its backend-type annotation
 * differs: the ConfigMap was changed without a restart). That node's devices and MTU follow the backend it runs,
 * so checks that derive them from net-conf.json stay silent there; backend-type-mismatch reports the drift.
 */
export function runsConfiguredBackend(model: Model, node: FlannelNode): boolean {
  if (!model.backend) return false;
  return node.backendType === null || node.backendType === annotationBackendType(model.backend);
}

/**
 * The leases flanneld on `node` programs toward: every other managed node with a podCIDR
 * whose backend-type matches the configured backend (flanneld ignores the others).
 */
export function peersOf(model: Model, node: Lease): Lease[] {
  if (!model.backend) return [];
  const want = annotationBackendType(model.backend);
  return model.nodes.filter(
    (n) => n !== node && n.managed && n.backendType === want && (n.podCIDR !== null || n.podCIDRv6 !== null),
  );
}

export function linkByName(host: HostState, name: string): Link | undefined {
  return host.links.status === 'ok' ? host.links.data.find((l) => l.name === name) : undefined;
}

/** The data of a collected part, or undefined when it was not collected (checks then stay silent). */
export function ok<T>(c: { status: string; data?: T } | undefined): T | undefined {
  return c && c.status === 'ok' ? c.data : undefined;
}
