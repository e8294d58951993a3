/**
 * The snapshot: everything kubectl-flannel knows about a cluster at one moment.
 *
 * It is the only thing analyzers read, so every check runs the same on a live cluster,
 * on a saved `--save` file and on a support bundle. It is plain JSON (no Dates, Maps or
 * classes) so that it round-trips through a file unchanged.
 *
 * Collection failures are data: every part that can fail is a `Collected<T>`, so an
 * analyzer can tell "not collected" from "empty" and stay silent on what it cannot see.
 */

export const SCHEMA_VERSION = 1 as const;

export type Collected<T> =
  | { readonly status: 'ok'; readonly data: T }
  | { readonly status: 'failed' | 'timeout' | 'skipped' | 'unavailable'; readonly error: string };

export interface Snapshot {
  readonly schemaVersion: typeof SCHEMA_VERSION;
  readonly collectedAt: string;
  readonly source: SnapshotSource;
  /** Objects read from the Kubernetes API. */
  readonly cluster: ClusterState;
  /** Kernel state per node, keyed by Node name. A node missing here was not collected. */
  readonly hosts: Readonly<Record<string, Collected<HostState>>>;
  /** Errors that are not tied to one part above (for example a node whose exec failed). */
  readonly errors: readonly CollectionError[];
}

export interface SnapshotSource {
  readonly kind: 'cluster' | 'local' | 'fixture';
  readonly description: string;
  readonly toolVersion: string;
  /** True when xfrm keys were kept because the user asked for them (--decrypt-esp). */
  readonly keysIncluded: boolean;
}

export interface CollectionError {
  readonly node: string | null;
  readonly what: string;
  readonly error: string;
}

// ---------------------------------------------------------------------------------------
// Kubernetes side

export interface ClusterState {
  readonly flannel: Collected<FlannelInstall>;
  readonly nodes: Collected<readonly KubeNode[]>;
  readonly flannelPods: Collected<readonly FlannelPod[]>;
  /** Number of NetworkPolicy objects by namespace; flannel enforces none of them. */
  readonly networkPolicies: Collected<readonly { namespace: string; name: string }[]>;
}

export interface FlannelInstall {
  readonly namespace: string;
  readonly daemonSet: {
    readonly name: string;
    readonly image: string;
    readonly args: readonly string[];
    readonly desired: number;
    readonly ready: number;
  } | null;
  /** net-conf.json as parsed; `raw` has the PSK replaced by a placeholder. */
  readonly netConf: Collected<NetConf>;
  readonly netConfRaw: string | null;
  readonly cniConfRaw: string | null;
}

/** Annotation prefix flanneld was started with (`--kube-annotation-prefix`), normalised to end in `/` or `-`. */
export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com/';

export interface KubeNode {
  readonly name: string;
  readonly internalIPs: readonly string[];
  readonly podCIDRs: readonly string[];
  /** Only the flannel annotations, keys without the prefix (e.g. `public-ip`). */
  readonly flannelAnnotations: Readonly<Record<string, string>>;
  readonly ready: ConditionStatus;
  readonly networkUnavailable: ConditionStatus & { readonly reason: string | null };
  readonly unschedulable: boolean;
  readonly taints: readonly { key: string; effect: string }[];
}

export type ConditionStatus = { readonly status: 'True' | 'False' | 'Unknown' | 'absent' };

export interface FlannelPod {
  readonly name: string;
  readonly namespace: string;
  readonly node: string | null;
  readonly phase: string;
  readonly ready: boolean;
  readonly restarts: number;
  /** e.g. CrashLoopBackOff, ImagePullBackOff. */
  readonly waitingReason: string | null;
  /** e.g. OOMKilled, Error, with exit code. */
  readonly lastTermination: {
    readonly reason: string;
    readonly exitCode: number;
    readonly finishedAt: string | null;
  } | null;
  readonly image: string;
  /** Last lines of the kube-flannel container's log (the previous instance's when it restarted). */
  readonly logTail: readonly string[];
}

// ---------------------------------------------------------------------------------------
// net-conf.json

export type Backend =
  | {
      readonly type: 'vxlan';
      readonly vni: number;
      readonly port: number;
      readonly gbp: boolean;
      readonly learning: boolean;
      readonly directRouting: boolean;
      readonly mtu: number | null;
    }
  | { readonly type: 'host-gw' }
  | { readonly type: 'udp'; readonly port: number }
  | { readonly type: 'ipip'; readonly directRouting: boolean }
  | {
      readonly type: 'wireguard';
      readonly listenPort: number;
      readonly listenPortV6: number;
      readonly mtu: number | null;
      readonly pskSet: boolean;
      readonly persistentKeepalive: number;
      readonly mode: 'separate' | 'auto' | 'ipv4' | 'ipv6';
    }
  | { readonly type: 'ipsec'; readonly pskLength: number; readonly udpEncap: boolean; readonly espProposal: string }
  | { readonly type: 'other'; readonly name: string };

export type BackendType = Backend['type'];

export interface NetConf {
  readonly network: string | null;
  readonly ipv6Network: string | null;
  readonly enableIPv4: boolean;
  readonly enableIPv6: boolean;
  readonly enableNFTables: boolean;
  readonly backend: Backend;
  /** Problems found while parsing that do not stop analysis (e.g. Backend absent means udp). */
  readonly warnings: readonly string[];
}

// ---------------------------------------------------------------------------------------
// Node kernel state

export interface HostState {
  readonly node: string;
  readonly kernel: string | null;
  /** How the host was reached: the flannel pod, a helper pod, or the local machine. */
  readonly via: string;
  readonly links: Collected<readonly Link[]>;
  readonly routes: Collected<readonly Route[]>;
  readonly rules: Collected<readonly RoutingRule[]>;
  readonly neighbours: Collected<readonly Neighbour[]>;
  readonly fdb: Collected<readonly FdbEntry[]>;
  readonly xfrmStates: Collected<readonly XfrmState[]>;
  readonly xfrmPolicies: Collected<readonly XfrmPolicy[]>;
  readonly wireguard: Collected<readonly WireguardDevice[]>;
  /** null when /run/flannel/subnet.env does not exist. */
  readonly subnetEnv: Collected<SubnetEnv | null>;
  /** Keyed by dotted sysctl name, e.g. `net.ipv4.ip_forward`; absent key = file absent. */
  readonly sysctls: Collected<Readonly<Record<string, string>>>;
  readonly firewall: Collected<Firewall>;
  /** The CNI configuration and plugins the container runtime uses on this node. Absent in snapshots made before it was collected. */
  readonly cni?: Collected<CniState>;
  /** `ip route get <peer public-ip>` per address, for DirectRouting and host-gw on-link tests. */
  readonly routeGets: Collected<Readonly<Record<string, Route | null>>>;
  /**
   * The kernel's own answer, from one `ip -batch` of `route get`, for the first and last usable
   * address of every peer podCIDR (and each peer public-ip): as the node itself sends, and as
   * forwarded pod traffic (`from <pod address> iif cni0`). Absent in snapshots made before it
   * was collected and in `--local` runs without a cluster.
   */
  readonly routeDecisions?: Collected<readonly RouteDecision[]>;
  /** Raw output of every command, secrets removed, for bundles and re-parsing. */
  readonly raw: readonly RawCommand[];
}

export interface RawCommand {
  readonly id: string;
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** Set when this is a fallback form (e.g. text after JSON): why the preferred form failed. */
  readonly fallbackReason?: string;
}

export interface Link {
  readonly ifindex: number;
  readonly name: string;
  readonly flags: readonly string[];
  readonly mtu: number;
  readonly operstate: string;
  readonly mac: string | null;
  /** `ip -d` link kind: vxlan, bridge, veth, tun, ipip, wireguard, … or null for plain devices. */
  readonly kind: string | null;
  readonly master: string | null;
  /** `link` in iproute2 terms: the peer/lower device name or index, e.g. eth0@if12. */
  readonly parent: string | null;
  readonly vxlan: VxlanInfo | null;
  readonly addresses: readonly Address[];
  /**
   * Set when the node's `ip` prints no link details (busybox `ip addr`): `kind` and `vxlan`
   * are then unknown, not absent, and `operstate` is UNKNOWN.
   */
  readonly detailsMissing?: true;
}

export interface VxlanInfo {
  readonly id: number;
  readonly local: string | null;
  readonly dev: string | null;
  readonly port: number;
  readonly learning: boolean;
  readonly gbp: boolean;
}

export interface Address {
  readonly family: 'inet' | 'inet6';
  readonly local: string;
  readonly prefixlen: number;
  readonly scope: string;
}

export interface Route {
  readonly family: 'inet' | 'inet6';
  readonly table: string;
  /** `default` is normalised to 0.0.0.0/0 or ::/0; host routes get /32 or /128. */
  readonly dst: string;
  readonly type: string;
  readonly gateway: string | null;
  readonly dev: string | null;
  readonly protocol: string | null;
  readonly scope: string | null;
  readonly prefsrc: string | null;
  readonly metric: number | null;
  readonly flags: readonly string[];
}

/** One `ip route get` answer, kept compact: the query and what the kernel decided. */
export interface RouteDecision {
  readonly dst: string;
  /** `node`: sent by the node itself; `pod`: forwarded from a pod (`from <pod address> iif cni0`). */
  readonly as: 'node' | 'pod';
  /** The pod source address used for `as: pod`. */
  readonly src: string | null;
  /** unicast, local, broadcast, …; null when the kernel answered with an error. */
  readonly type: string | null;
  readonly dev: string | null;
  readonly gateway: string | null;
  readonly table: string | null;
  readonly prefsrc: string | null;
  /** The error `ip route get` printed (e.g. `No route to host`), or null. */
  readonly error: string | null;
}

export interface RoutingRule {
  readonly family: 'inet' | 'inet6';
  readonly priority: number;
  readonly text: string;
}

export interface Neighbour {
  readonly dst: string;
  readonly dev: string;
  readonly lladdr: string | null;
  readonly state: readonly string[];
}

export interface FdbEntry {
  readonly mac: string;
  readonly dev: string;
  readonly dst: string | null;
  readonly vlan: number | null;
  readonly master: string | null;
  readonly flags: readonly string[];
  readonly state: string;
}

export interface XfrmKey {
  /** Algorithm as the kernel names it, e.g. rfc4106(gcm(aes)) or hmac(sha256). */
  readonly name: string;
  readonly keyBits: number;
  /** ICV length in bits (aead) or truncation length (auth-trunc); null for enc. */
  readonly icvBits: number | null;
  /** First 16 hex chars of SHA-256 of the key, so keys compare without being shown. */
  readonly digest: string;
  /** The key itself, as 0x-prefixed hex. Present only when keys were requested. */
  readonly hex?: string;
}

export interface XfrmState {
  readonly src: string;
  readonly dst: string;
  readonly proto: 'esp' | 'ah' | 'comp' | string;
  readonly spi: number;
  readonly reqid: number;
  readonly mode: string;
  readonly aead: XfrmKey | null;
  readonly enc: XfrmKey | null;
  readonly auth: XfrmKey | null;
  readonly encap: { readonly type: string; readonly sport: number; readonly dport: number } | null;
  readonly selector: { readonly src: string; readonly dst: string } | null;
}

export interface XfrmPolicy {
  readonly src: string;
  readonly dst: string;
  readonly dir: 'in' | 'out' | 'fwd';
  readonly priority: number;
  readonly action: string;
  readonly templates: readonly {
    readonly src: string;
    readonly dst: string;
    readonly proto: string;
    readonly reqid: number;
    readonly mode: string;
  }[];
}

export interface WireguardDevice {
  readonly name: string;
  readonly publicKey: string;
  readonly listenPort: number;
  readonly peers: readonly {
    readonly publicKey: string;
    readonly presharedKey: boolean;
    readonly endpoint: string | null;
    readonly allowedIPs: readonly string[];
    /** Unix seconds; 0 means never. */
    readonly latestHandshake: number;
    readonly persistentKeepalive: number | null;
  }[];
}

export interface CniState {
  readonly confDir: string;
  /** Files in the CNI config directory; null when the directory does not exist. */
  readonly confFiles: readonly string[] | null;
  /** The config the runtime loads: the first *.conf, *.conflist or *.json by name (libcni's order). */
  readonly activeConf: {
    readonly file: string;
    readonly types: readonly string[];
    readonly error: string | null;
  } | null;
  readonly binDir: string;
  /** Plugin binaries; null when the directory does not exist (k3s and RKE2 keep them elsewhere). */
  readonly binaries: readonly string[] | null;
}

export interface SubnetEnv {
  readonly network: string | null;
  readonly subnet: string | null;
  readonly ipv6Network: string | null;
  readonly ipv6Subnet: string | null;
  readonly mtu: number | null;
  readonly ipMasq: boolean | null;
}

/** iptables as `iptables-save` shows it, per backend that holds any rules. */
export interface Firewall {
  readonly iptables: readonly IptablesDump[];
  /** `nft list ruleset` text, for the flannel tables and foreign forward hooks. */
  readonly nftRuleset: string | null;
}

export interface IptablesDump {
  /** legacy or nft: which iptables backend these rules live in. */
  readonly backend: 'legacy' | 'nft';
  readonly family: 'inet' | 'inet6';
  readonly tables: Readonly<Record<string, IptablesTable>>;
}

export interface IptablesTable {
  /** Built-in and user chains with policy (`-` for user chains). */
  readonly chains: Readonly<Record<string, { readonly policy: string }>>;
  /** Rules in order, as `-A CHAIN …` lines. */
  readonly rules: readonly { readonly chain: string; readonly spec: string }[];
}
