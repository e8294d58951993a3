/**
 * The snapshot's one schema. Every snapshot read from a file or a bundle is checked against it,
 * field by field, before anything else sees it; src/snapshot/types.ts derives the TypeScript types
 * from it, so the two cannot drift.
 *
 * TypeBox was chosen by measurement (bench/validate.ts): its compiled check of the 1,000-node bench
 * snapshot costs a few percent of doctor's analysis time, where valibot and zod cost a multiple.
 *
 * One entry per field, one schema per line where it fits, so that additions from parallel work merge
 * as separate lines. A field added later must be `Type.Optional` so older snapshots stay readable.
 */
import Type, { type Static, type TSchema } from 'typebox';

export const SCHEMA_VERSION = 1 as const;

const Str = Type.String();
const Num = Type.Number();
const Bool = Type.Boolean();
const NullableStr = Type.Union([Type.String(), Type.Null()]);
const NullableNum = Type.Union([Type.Number(), Type.Null()]);
const Strings = Type.Array(Type.String());
const Family = Type.Union([Type.Literal('inet'), Type.Literal('inet6')]);

export const CollectedStatus = Type.Union([
  Type.Literal('failed'),
  Type.Literal('timeout'),
  Type.Literal('skipped'),
  Type.Literal('unavailable'),
]);

/** A part that can fail to be collected: its data, or why it is missing. */
export const Collected = <T extends TSchema>(data: T) =>
  Type.Union([Type.Object({ status: Type.Literal('ok'), data }), Type.Object({ status: CollectedStatus, error: Str })]);

// ---------------------------------------------------------------------------------------
// Kubernetes side

export const ConditionStatus = Type.Object({
  status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown'), Type.Literal('absent')]),
});

export const KubeNode = Type.Object({
  name: Str,
  internalIPs: Strings,
  podCIDRs: Strings,
  /** Only the flannel annotations, keys without the prefix (e.g. `public-ip`). */
  flannelAnnotations: Type.Record(Type.String(), Type.String()),
  ready: ConditionStatus,
  networkUnavailable: Type.Object({ status: ConditionStatus.properties.status, reason: NullableStr }),
  unschedulable: Bool,
  taints: Type.Array(Type.Object({ key: Str, effect: Str })),
});

export const FlannelPod = Type.Object({
  name: Str,
  namespace: Str,
  node: NullableStr,
  phase: Str,
  ready: Bool,
  restarts: Num,
  /** e.g. CrashLoopBackOff, ImagePullBackOff. */
  waitingReason: NullableStr,
  /** e.g. OOMKilled, Error, with exit code. */
  lastTermination: Type.Union([Type.Object({ reason: Str, exitCode: Num, finishedAt: NullableStr }), Type.Null()]),
  image: Str,
  /** Last lines of the kube-flannel container's log (the previous instance's when it restarted). */
  logTail: Strings,
});

// ---------------------------------------------------------------------------------------
// net-conf.json

export const Backend = Type.Union([
  Type.Object({
    type: Type.Literal('vxlan'),
    vni: Num,
    port: Num,
    gbp: Bool,
    learning: Bool,
    directRouting: Bool,
    mtu: NullableNum,
  }),
  Type.Object({ type: Type.Literal('host-gw') }),
  Type.Object({ type: Type.Literal('udp'), port: Num }),
  Type.Object({ type: Type.Literal('ipip'), directRouting: Bool }),
  Type.Object({
    type: Type.Literal('wireguard'),
    listenPort: Num,
    listenPortV6: Num,
    mtu: NullableNum,
    pskSet: Bool,
    persistentKeepalive: Num,
    mode: Type.Union([Type.Literal('separate'), Type.Literal('auto'), Type.Literal('ipv4'), Type.Literal('ipv6')]),
  }),
  Type.Object({ type: Type.Literal('ipsec'), pskLength: Num, udpEncap: Bool, espProposal: Str }),
  Type.Object({ type: Type.Literal('other'), name: Str }),
]);

export const NetConf = Type.Object({
  network: NullableStr,
  ipv6Network: NullableStr,
  enableIPv4: Bool,
  enableIPv6: Bool,
  enableNFTables: Bool,
  backend: Backend,
  /** Problems found while parsing that do not stop analysis (e.g. Backend absent means udp). */
  warnings: Strings,
});

/**
 * How flannel is installed, which decides where its configuration lives and what the nodes must hold:
 * - kube-flannel: the upstream DaemonSet and ConfigMap (bridge CNI, cni0);
 * - canal: flannel as a container of the Canal DaemonSet (Calico's CNI plugin wires pods: cali* veths with /32
 *   routes, no cni0; Calico enforces NetworkPolicy);
 * - embedded: flanneld inside another process (k3s, RKE2's flannel mode), no flannel pod, net-conf.json a file
 *   on every node. Seen from the API only through flannel's node annotations.
 */
export const Packaging = Type.Union([
  Type.Object({ kind: Type.Literal('kube-flannel') }),
  Type.Object({ kind: Type.Literal('canal') }),
  Type.Object({
    kind: Type.Literal('embedded'),
    distribution: Type.Union([Type.Literal('k3s'), Type.Literal('rke2'), Type.Literal('unknown')]),
    /** kubeletVersion of the first node, e.g. v1.33.4+k3s1: k3s releases pin their flannel version. */
    version: NullableStr,
    /** Where net-conf.json was read on the nodes. */
    netConfPath: Str,
  }),
]);

export const FlannelInstall = Type.Object({
  /** Absent in snapshots made before packagings were told apart: kube-flannel. */
  packaging: Type.Optional(Packaging),
  namespace: Str,
  daemonSet: Type.Union([Type.Object({ name: Str, image: Str, args: Strings, desired: Num, ready: Num }), Type.Null()]),
  /** net-conf.json as parsed; `raw` has the PSK replaced by a placeholder. */
  netConf: Collected(NetConf),
  netConfRaw: NullableStr,
  cniConfRaw: NullableStr,
});

export const ClusterState = Type.Object({
  flannel: Collected(FlannelInstall),
  nodes: Collected(Type.Array(KubeNode)),
  flannelPods: Collected(Type.Array(FlannelPod)),
  /** NetworkPolicy objects; flannel enforces none of them. */
  networkPolicies: Collected(Type.Array(Type.Object({ namespace: Str, name: Str }))),
});

// ---------------------------------------------------------------------------------------
// Node kernel state

export const Address = Type.Object({ family: Family, local: Str, prefixlen: Num, scope: Str });

export const VxlanInfo = Type.Object({
  id: Num,
  local: NullableStr,
  dev: NullableStr,
  port: Num,
  learning: Bool,
  gbp: Bool,
});

export const Link = Type.Object({
  ifindex: Num,
  name: Str,
  flags: Strings,
  mtu: Num,
  operstate: Str,
  mac: NullableStr,
  /** `ip -d` link kind: vxlan, bridge, veth, tun, ipip, wireguard, … or null for plain devices. */
  kind: NullableStr,
  master: NullableStr,
  /** `link` in iproute2 terms: the peer/lower device name or index, e.g. eth0@if12. */
  parent: NullableStr,
  /**
   * A veth whose peer is in another network namespace: that namespace's id as this one knows it (`link_netnsid`).
   * With `parent` (`if<peer ifindex>`) it names the pod's eth0 behind a host-side veth.
   */
  linkNetnsId: Type.Optional(Num),
  vxlan: Type.Union([VxlanInfo, Type.Null()]),
  addresses: Type.Array(Address),
  /**
   * Set when the node's `ip` prints no link details (busybox `ip addr`): `kind` and `vxlan`
   * are then unknown, not absent, and `operstate` is UNKNOWN.
   */
  detailsMissing: Type.Optional(Type.Literal(true)),
});

export const Route = Type.Object({
  family: Family,
  table: Str,
  /** `default` is normalised to 0.0.0.0/0 or ::/0; host routes get /32 or /128. */
  dst: Str,
  type: Str,
  gateway: NullableStr,
  dev: NullableStr,
  protocol: NullableStr,
  scope: NullableStr,
  prefsrc: NullableStr,
  metric: NullableNum,
  flags: Strings,
});

export const RoutingRule = Type.Object({ family: Family, priority: Num, text: Str });

export const Neighbour = Type.Object({ dst: Str, dev: Str, lladdr: NullableStr, state: Strings });

export const FdbEntry = Type.Object({
  mac: Str,
  dev: Str,
  dst: NullableStr,
  vlan: NullableNum,
  master: NullableStr,
  flags: Strings,
  state: Str,
});

export const XfrmKey = Type.Object({
  /** Algorithm as the kernel names it, e.g. rfc4106(gcm(aes)) or hmac(sha256). */
  name: Str,
  keyBits: Num,
  /** ICV length in bits (aead) or truncation length (auth-trunc); null for enc. */
  icvBits: NullableNum,
  /** First 16 hex chars of SHA-256 of the key, so keys compare without being shown. */
  digest: Str,
  /** The key itself, as 0x-prefixed hex. Present only when keys were requested. */
  hex: Type.Optional(Str),
});

const NullableXfrmKey = Type.Union([XfrmKey, Type.Null()]);

export const XfrmState = Type.Object({
  src: Str,
  dst: Str,
  /** esp, ah, comp, or what the kernel printed. */
  proto: Str,
  spi: Num,
  reqid: Num,
  mode: Str,
  aead: NullableXfrmKey,
  enc: NullableXfrmKey,
  auth: NullableXfrmKey,
  encap: Type.Union([Type.Object({ type: Str, sport: Num, dport: Num }), Type.Null()]),
  selector: Type.Union([Type.Object({ src: Str, dst: Str }), Type.Null()]),
});

export const XfrmPolicy = Type.Object({
  src: Str,
  dst: Str,
  dir: Type.Union([Type.Literal('in'), Type.Literal('out'), Type.Literal('fwd')]),
  priority: Num,
  action: Str,
  templates: Type.Array(Type.Object({ src: Str, dst: Str, proto: Str, reqid: Num, mode: Str })),
});

export const WireguardPeer = Type.Object({
  publicKey: Str,
  presharedKey: Bool,
  endpoint: NullableStr,
  allowedIPs: Strings,
  /** Unix seconds; 0 means never. */
  latestHandshake: Num,
  persistentKeepalive: NullableNum,
});

export const WireguardDevice = Type.Object({
  name: Str,
  publicKey: Str,
  listenPort: Num,
  peers: Type.Array(WireguardPeer),
});

export const CniState = Type.Object({
  confDir: Str,
  /** Files in the CNI config directory; null when the directory does not exist. */
  confFiles: Type.Union([Strings, Type.Null()]),
  /** The config the runtime loads: the first *.conf, *.conflist or *.json by name (libcni's order). */
  activeConf: Type.Union([Type.Object({ file: Str, types: Strings, error: NullableStr }), Type.Null()]),
  binDir: Str,
  /** Plugin binaries; null when the directory does not exist (k3s and RKE2 keep them elsewhere). */
  binaries: Type.Union([Strings, Type.Null()]),
});

export const SubnetEnv = Type.Object({
  network: NullableStr,
  subnet: NullableStr,
  ipv6Network: NullableStr,
  ipv6Subnet: NullableStr,
  mtu: NullableNum,
  ipMasq: Type.Union([Type.Boolean(), Type.Null()]),
});

export const IptablesTable = Type.Object({
  /** Built-in and user chains with policy (`-` for user chains). */
  chains: Type.Record(Type.String(), Type.Object({ policy: Str })),
  /** Rules in order, as `-A CHAIN …` lines. */
  rules: Type.Array(Type.Object({ chain: Str, spec: Str })),
});

export const IptablesDump = Type.Object({
  /** legacy or nft: which iptables backend these rules live in. */
  backend: Type.Union([Type.Literal('legacy'), Type.Literal('nft')]),
  family: Family,
  tables: Type.Record(Type.String(), IptablesTable),
});

export const Firewall = Type.Object({
  iptables: Type.Array(IptablesDump),
  /** `nft list ruleset` text, for the flannel tables and foreign forward hooks. */
  nftRuleset: NullableStr,
  /** `nft -j list ruleset`, which the netfilter model evaluates; absent in older snapshots and where nft has no JSON. */
  nftJson: Type.Optional(NullableStr),
});

export const RawCommand = Type.Object({
  id: Str,
  argv: Strings,
  exitCode: NullableNum,
  stdout: Str,
  stderr: Str,
  durationMs: Num,
  /** Set when this is a fallback form (e.g. text after JSON): why the preferred form failed. */
  fallbackReason: Type.Optional(Str),
});

/** net-conf.json as read from a node's file (embedded flannel). */
export const NodeNetConf = Type.Object({
  path: Str,
  /** The file's text, PSK redacted. */
  raw: Str,
  /** Parsed from the unredacted text at collection; null with `error` when flanneld would reject it. */
  netConf: Type.Union([NetConf, Type.Null()]),
  error: NullableStr,
});

/** One HTTP probe: the status code, or null when nothing answered (refused or timed out). */
export const HttpProbe = Type.Object({
  code: Type.Union([Num, Type.Null()]),
  /** What the probe printed when there was no status (curl/wget's reason), for the evidence. */
  detail: Str,
});

export const FlanneldHealth = Type.Object({ port: Num, healthz: HttpProbe, readyz: HttpProbe });

/** One bridge port as `bridge -j link show` lists it: the port, its bridge and its STP state. */
export const BridgePort = Type.Object({ dev: Str, master: NullableStr, state: Str });

/** One `ip route get` answer, kept compact: the query and what the kernel decided. */
export const RouteDecision = Type.Object({
  dst: Str,
  /** `node`: sent by the node itself; `pod`: forwarded from a pod (`from <pod address> iif cni0`, or `iif` below). */
  as: Type.Union([Type.Literal('node'), Type.Literal('pod')]),
  /** The pod source address used for `as: pod`. */
  src: NullableStr,
  /**
   * The device pod traffic was asked as entering by, when not cni0: on Canal (no cni0) a pod's cali veth, `src`
   * then being that pod's address. Absent: cni0.
   */
  iif: Type.Optional(Str),
  /** unicast, local, broadcast, …; null when the kernel answered with an error. */
  type: NullableStr,
  dev: NullableStr,
  gateway: NullableStr,
  table: NullableStr,
  prefsrc: NullableStr,
  /** The error `ip route get` printed (e.g. `No route to host`), or null. */
  error: NullableStr,
});

/**
 * A pod's own end of its veth, read inside the pod's network namespace (`nsenter --net=<file> ip -j addr show type veth`): the
 * MTU the pod sends with, which the host-side veth (a Link of the node) may not match.
 */
export const PodInterface = Type.Object({
  /** The namespace's file, e.g. /var/run/netns/cni-1c3e…: what `nsenter --net=` takes. */
  netns: Str,
  /** The namespace's id as the node's namespace knows it (`ip netns list`'s "(id: N)"): a host veth's linkNetnsId. */
  nsid: Num,
  name: Str,
  ifindex: Num,
  /** The ifindex of its peer in the node's namespace (`eth0@if7`): the host-side veth. */
  peerIfindex: Num,
  mtu: Num,
  operstate: Str,
  addresses: Type.Array(Address),
});

export const HostState = Type.Object({
  node: Str,
  kernel: NullableStr,
  /** How the host was reached: the flannel pod, a helper pod, or the local machine. */
  via: Str,
  links: Collected(Type.Array(Link)),
  routes: Collected(Type.Array(Route)),
  rules: Collected(Type.Array(RoutingRule)),
  neighbours: Collected(Type.Array(Neighbour)),
  fdb: Collected(Type.Array(FdbEntry)),
  xfrmStates: Collected(Type.Array(XfrmState)),
  xfrmPolicies: Collected(Type.Array(XfrmPolicy)),
  wireguard: Collected(Type.Array(WireguardDevice)),
  /** null when /run/flannel/subnet.env does not exist. */
  subnetEnv: Collected(Type.Union([SubnetEnv, Type.Null()])),
  /** Keyed by dotted sysctl name, e.g. `net.ipv4.ip_forward`; absent key = file absent. */
  sysctls: Collected(Type.Record(Type.String(), Type.String())),
  firewall: Collected(Firewall),
  /** The CNI configuration and plugins the container runtime uses. Absent in snapshots made before it was collected. */
  cni: Type.Optional(Collected(CniState)),
  /** `ip route get <peer public-ip>` per address, for DirectRouting and host-gw on-link tests. */
  routeGets: Collected(Type.Record(Type.String(), Type.Union([Route, Type.Null()]))),
  /**
   * The kernel's own answer, from one `ip -batch` of `route get`, for the first and last usable
   * address of every peer podCIDR (and each peer public-ip): as the node itself sends, and as
   * forwarded pod traffic (`from <pod address> iif cni0`). Absent in snapshots made before it
   * was collected and in `--local` runs without a cluster.
   */
  routeDecisions: Type.Optional(Collected(Type.Array(RouteDecision))),
  /** Bridge ports and their state (`bridge -j link show`); absent in snapshots made before it was collected. */
  bridgePorts: Type.Optional(Collected(Type.Array(BridgePort))),
  /**
   * Every pod network namespace's veth ends, where the collector can enter them (/var/run/netns mounted, and
   * CAP_SYS_ADMIN: a helper pod, --local, not a kube-flannel pod). Absent where it cannot and in older snapshots.
   */
  podInterfaces: Type.Optional(Collected(Type.Array(PodInterface))),
  /** flanneld's /healthz and /readyz on the node, when it serves them (--healthz-port). */
  flanneldHealth: Type.Optional(Collected(FlanneldHealth)),
  /** net-conf.json as read from this node's file (embedded flannel only); null when the file is absent. */
  netConfFile: Type.Optional(Collected(Type.Union([NodeNetConf, Type.Null()]))),
  /** Raw output of every command, secrets removed, for bundles and re-parsing. */
  raw: Type.Array(RawCommand),
});

export const SnapshotSource = Type.Object({
  kind: Type.Union([Type.Literal('cluster'), Type.Literal('local'), Type.Literal('fixture')]),
  description: Str,
  toolVersion: Str,
  /** True when xfrm keys were kept because the user asked for them (--decrypt-esp). */
  keysIncluded: Bool,
});

export const CollectionError = Type.Object({ node: NullableStr, what: Str, error: Str });

/** One ordered node pair of doctor --probe: packets of the backend's encapsulation sent and looked for. */
export const UnderlayProbePair = Type.Object({
  from: Str,
  to: Str,
  fromIP: Str,
  toIP: Str,
  /**
   * What pod traffic from `from` to `to` really is on the underlay, as `from`'s kernel routes it, e.g. "UDP 8472
   * (vxlan)" or "routed pod packets (DirectRouting)": with DirectRouting it differs per pair. Absent in snapshots
   * made before it was recorded per pair (then the probe's `what` holds).
   */
  what: Type.Optional(Str),
  sent: Num,
  /** Probe packets from `from` seen on `to`'s uplink. */
  seen: Num,
  /**
   * Proof that `to` received them: decapsulated on its flannel device (`deliveredOn` names it), or for routed
   * packets (host-gw, DirectRouting's on-link peers: no device on the way) `to`'s echo replies seen on `from`'s
   * uplink (`deliveredOn` is 'an echo reply').
   */
  delivered: Type.Union([Num, Type.Null()]),
  deliveredOn: NullableStr,
  /** Why this pair could not be probed (no access to a node, capture failed); then sent/seen mean nothing. */
  error: NullableStr,
});

/** What doctor --probe sent and saw. */
export const UnderlayProbe = Type.Object({
  /** What was sent, e.g. "UDP 8472 (vxlan)" or "routed pod packets (host-gw)". */
  what: Str,
  /** True when the cluster was larger than the limit and only a sample of pairs was probed. */
  sampled: Bool,
  pairs: Type.Array(UnderlayProbePair),
});

/** Packets of one node pair seen by one sample source (bundle's tcpdump samples). */
export const SampleFlow = Type.Object({
  /** The node the packets came from and the node they were addressed to (by node IP or podCIDR). */
  from: Str,
  to: Str,
  /** encapsulated: outer addresses are the two nodes'; routed: pod-network packets on the uplink; inner: on the flannel device. */
  kind: Type.Union([Type.Literal('encapsulated'), Type.Literal('routed'), Type.Literal('inner')]),
  /** The IP version of the header the pair was told by (the outer one for encapsulated packets). */
  family: Type.Union([Type.Literal(4), Type.Literal(6)]),
  /** When each packet was captured, ms since the epoch on the plugin's clock (the node's clock, offset as measured). */
  times: Type.Array(Num),
  /** Packets whose IPv4 header or fully captured UDP/TCP checksum is wrong (an offloaded, partial checksum is not). */
  badChecksums: Num,
  /** One bad checksum, as evidence: which header, what it held, what it should hold. */
  badChecksumExample: NullableStr,
});

/** One tcpdump of the bundle's samples: a node's uplink (overlay traffic only) or its flannel device. */
export const SampleSource = Type.Object({
  node: Str,
  iface: Str,
  role: Type.Union([Type.Literal('uplink'), Type.Literal('device')]),
  /** The IP version a device's packets have (flannel.<VNI> 4, flannel-v6.<VNI> 6); null for the uplink (both). */
  family: Type.Union([Type.Literal(4), Type.Literal(6), Type.Null()]),
  /** The plugin's clock when tcpdump said it was listening, and when it ended (null: never listened). */
  listeningMs: NullableNum,
  endedMs: Num,
  /** Set when the per-interface packet or byte bound stopped keeping packets: the window ends at that time. */
  cappedAtMs: NullableNum,
  /** tcpdump's own counters (null when it printed none). */
  receivedByFilter: NullableNum,
  droppedByKernel: NullableNum,
  /** Packets kept (and written to the bundle's pcapng). */
  packets: Num,
  /** Why this source has no or partial samples (not reachable, no tcpdump, the capture failed). */
  error: NullableStr,
  flows: Type.Array(SampleFlow),
});

/** `bundle`'s short tcpdump samples on every node: what the analyzers need of them (the packets are in the pcapng). */
export const UnderlaySamples = Type.Object({
  /** The traffic sampled on the uplinks, e.g. "UDP 8472 (vxlan)". */
  what: Str,
  durationMs: Num,
  snaplen: Num,
  /** The pcapng inside the bundle that holds the packets (one interface per node and device). */
  file: NullableStr,
  sources: Type.Array(SampleSource),
});

export const Snapshot = Type.Object({
  schemaVersion: Type.Literal(SCHEMA_VERSION),
  collectedAt: Str,
  source: SnapshotSource,
  /** Objects read from the Kubernetes API. */
  cluster: ClusterState,
  /** Kernel state per node, keyed by Node name. A node missing here was not collected. */
  hosts: Type.Record(Type.String(), Collected(HostState)),
  /** Errors that are not tied to one part above (for example a node whose exec failed). */
  errors: Type.Array(CollectionError),
  /** doctor --probe only: real overlay packets sent between node pairs and looked for on arrival. */
  underlayProbe: Type.Optional(Collected(UnderlayProbe)),
  /** bundle only: short tcpdump samples of the overlay on every node's uplink and flannel device. */
  underlaySamples: Type.Optional(Collected(UnderlaySamples)),
});

/** The type of a schema above, read-only all the way down: analyzers never change a snapshot. */
export type Of<S extends TSchema> = DeepReadonly<Static<S>>;

type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
