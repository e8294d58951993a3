/**
 * The model: a snapshot read the way flanneld reads the cluster. Nodes become leases
 * (podCIDR, public-ip, backend-type, backend-data), and each node's collected kernel
 * state sits next to its lease, so checks compare the two without re-deriving anything.
 */

import { type Prefix, parsePrefix } from '../net/cidr.js';
import type { Backend, HostState, KubeNode, Link, NetConf, Snapshot } from '../snapshot/types.js';

export interface VxlanLeaseData {
  readonly vni: number | null;
  readonly vtepMAC: string;
}

export interface WireguardLeaseData {
  readonly publicKey: string;
  readonly port: number;
}

export interface FlannelNode {
  readonly name: string;
  readonly kube: KubeNode;
  /** Kernel state, or null when it was not collected (see hostError). */
  readonly host: HostState | null;
  readonly hostError: string | null;
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

export interface Model {
  readonly snapshot: Snapshot;
  readonly netConf: NetConf | null;
  readonly backend: Backend | null;
  readonly network: Prefix | null;
  readonly network6: Prefix | null;
  readonly nodes: readonly FlannelNode[];
  readonly byName: ReadonlyMap<string, FlannelNode>;
}

/** The value flanneld writes into `backend-type` for a backend. */
export function annotationBackendType(backend: Backend): string {
  if (backend.type === 'udp') return '';
  if (backend.type === 'other') return backend.name;
  return backend.type;
}

export function buildModel(snapshot: Snapshot): Model {
  const flannel = snapshot.cluster.flannel.status === 'ok' ? snapshot.cluster.flannel.data : null;
  const netConf = flannel && flannel.netConf.status === 'ok' ? flannel.netConf.data : null;
  const kubeNodes =
    snapshot.cluster.nodes.status === 'ok'
      ? snapshot.cluster.nodes.data
      : snapshot.source.kind === 'local'
        ? localNodes(snapshot)
        : [];
  const nodes = kubeNodes.map((k) => toFlannelNode(k, snapshot));
  return {
    snapshot,
    netConf,
    backend: netConf?.backend ?? null,
    // flanneld ignores the Network of a disabled family, and k3s fills it with a placeholder
    // (0.0.0.0/0 when IPv4 is off, ::/0 when IPv6 is off) that would cover every address.
    network: netConf?.network && netConf.enableIPv4 ? parsePrefix(netConf.network) : null,
    network6: netConf?.ipv6Network && netConf.enableIPv6 ? parsePrefix(netConf.ipv6Network) : null,
    nodes,
    byName: new Map(nodes.map((n) => [n.name, n])),
  };
}

/**
 * `doctor --local` reads no Node objects: each collected host stands for a node whose API side
 * is unknown, with the podCIDR flanneld leased it (subnet.env), so every node check that reads
 * the kernel runs on it. Checks of Node objects and peers have nothing to compare and stay silent.
 */
function localNodes(snapshot: Snapshot): KubeNode[] {
  return Object.entries(snapshot.hosts).map(([name, h]) => {
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

function toFlannelNode(kube: KubeNode, snapshot: Snapshot): FlannelNode {
  const a = kube.flannelAnnotations;
  const hostC = snapshot.hosts[kube.name];
  const cidrs = kube.podCIDRs.map(parsePrefix);
  const backendType = a['backend-type'] ?? null;
  const data = parseBackendData(backendType, a['backend-data']);
  const data6 = parseBackendData(backendType, a['backend-v6-data']);
  return {
    name: kube.name,
    kube,
    host: hostC?.status === 'ok' ? hostC.data : null,
    hostError: hostC === undefined ? 'not collected' : hostC.status === 'ok' ? null : `${hostC.status}: ${hostC.error}`,
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
export function peersOf(model: Model, node: FlannelNode): FlannelNode[] {
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
