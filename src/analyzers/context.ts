/**
 * What the runner hands each check, in two phases:
 *  1. Node phase: one NodeContext per node (its lease, its host, its peers' leases, its expectations and
 *     indexed tables), built when the node's host is read and dropped before the next one. Node checks run
 *     here, and summarize() keeps the little the cluster phase needs (a NodeSummary), so the host itself
 *     can go: a 1,000-node snapshot is analysed while it is read and never held whole.
 *  2. Cluster phase, once every node is done: cluster checks get the ClusterScope, the leases plus every
 *     node's NodeSummary. A check that compares nodes' kernel state (or a pair-wide walk split into per-node
 *     halves) adds the compact fact it needs to NodeSummary, never the host.
 * Nothing here outlives the analysis: checks keep no state of their own.
 */
import type { Prefix } from '../net/cidr.js';
import type { Collected, HostState, Snapshot, XfrmState } from '../snapshot/types.js';
import { relevantParts } from './checks/collection-incomplete.js';
import { directPeers } from './direct-routing.js';
import { type ExpectedNode, expectedFor, vxlanDeviceName } from './expected/index.js';
import { type Addr, parseAddrPrefix } from './fib/addr.js';
import type { FibState } from './fib/lookup.js';
import { type PodCIDRShape, podCIDRShape } from './fib/podcidr-lookups.js';
import { fibStateOf } from './fib/state.js';
import { type HostTables, indexHost } from './host-index.js';
import { type FlannelNode, type Lease, linkByName, type Model, ok, peersOf, withHost } from './model.js';
import { type IngressChain, uplinkIngressOf } from './netfilter/ingress.js';
import type { NfFamily } from './netfilter/types.js';
import { type FamilyCIDRs, familyCIDRs } from './path/classes.js';
import { type PodSizes, podSizesOf } from './path/sizes.js';
import { podSidesOf } from './path/walk.js';
import { uplinkOf } from './uplink.js';

/** Facts about the whole cluster (from the leases) that several node checks compare against, computed on first use. */
export interface ClusterContext {
  readonly model: Model;
  /** Every podCIDR (IPv4 and IPv6) some Node holds. */
  readonly podCIDRs: readonly Prefix[];
  /** The same, as canonical text. */
  readonly podCIDRTexts: ReadonlySet<string>;
  /** The network address of every podCIDR (flanneld's neighbour and route gateway toward a subnet). */
  readonly podCIDRNetworks: ReadonlySet<string>;
  /** Every VtepMAC a lease publishes, lower case. */
  readonly vtepMACs: ReadonlySet<string>;
  /**
   * Every VtepMAC more than one lease publishes, lower case: at most one of those nodes owns the MAC, so an fdb
   * entry for it is right toward one of them and flanneld's own replay cannot be trusted to pick which.
   */
  readonly duplicateVtepMACs: ReadonlySet<string>;
  /** Every WireGuard PublicKey a lease publishes. */
  readonly wireguardKeys: ReadonlySet<string>;
  /** Every podCIDR as the FIB model parses a route's dst, by canonical text (FibState.known). */
  readonly podCIDRAddrs: ReadonlyMap<string, Addr>;
  /** The IPv4 podCIDRs' texts and common length, as the shared FIB lookups read them (podcidr-lookups.ts). */
  readonly podCIDRShape: PodCIDRShape;
  /** Per family, the podCIDRs as the path walk's peer classes read them (path/classes.ts). */
  readonly peerClassCIDRs: Readonly<Record<NfFamily, FamilyCIDRs>>;
}

export interface NodeContext {
  readonly cluster: ClusterContext;
  readonly model: Model;
  readonly node: FlannelNode;
  /** The node's kernel state, or null when it was not collected (node.hostError says why). */
  readonly host: HostState | null;
  /** The leases flanneld on this node programs toward (peersOf). Their hosts are not here: see NodeSummary. */
  readonly peers: readonly Lease[];
  /** What flanneld must have programmed on this node. */
  readonly expected: ExpectedNode;
  /** Indexed lookups into the node's kernel tables; null when the host was not collected. */
  readonly tables: HostTables | null;
  /**
   * The node's FIB for the offline model (fibStateOf): one per node, so the checks that look up routes share
   * its compiled tables instead of compiling them each. null when the host, its routes or its rules are missing.
   */
  readonly fib: FibState | null;
}

/** A value computed on first read; the context object owns it, so it goes when the context goes. */
function lazy<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
}

const present = <T>(x: T | null | undefined): x is T => x !== null && x !== undefined && x !== '';

export function clusterContext(model: Model): ClusterContext {
  const podCIDRs = lazy(() => model.nodes.flatMap((x) => [x.podCIDR, x.podCIDRv6]).filter(present));
  const podCIDRTexts = lazy(() => new Set(podCIDRs().map((p) => p.text)));
  const podCIDRNetworks = lazy(
    () => new Set(model.nodes.flatMap((x) => [x.podCIDR?.network, x.podCIDRv6?.network]).filter(present)),
  );
  const vtepMACs = lazy(
    () => new Set(model.nodes.flatMap((x) => [x.vxlan?.vtepMAC, x.vxlanV6?.vtepMAC]).filter(present)),
  );
  const duplicateVtepMACs = lazy(() => {
    const seen = new Set<string>();
    const dup = new Set<string>();
    for (const x of model.nodes)
      for (const mac of new Set([x.vxlan?.vtepMAC, x.vxlanV6?.vtepMAC].filter(present)))
        (seen.has(mac) ? dup : seen).add(mac);
    return dup;
  });
  const wireguardKeys = lazy(
    () => new Set(model.nodes.flatMap((x) => [x.wireguard?.publicKey, x.wireguardV6?.publicKey]).filter(present)),
  );
  const shape = lazy(() => podCIDRShape(podCIDRs()));
  const podCIDRAddrs = lazy(() => {
    const m = new Map<string, Addr>();
    for (const p of podCIDRs()) {
      const a = parseAddrPrefix(p.text, p.family);
      if (a) m.set(p.text, a);
    }
    return m;
  });
  const peerClassCIDRs = lazy(() => ({
    inet: familyCIDRs(podCIDRs(), 'inet', model.nodes),
    inet6: familyCIDRs(podCIDRs(), 'inet6', model.nodes),
  }));
  return {
    model,
    get peerClassCIDRs() {
      return peerClassCIDRs();
    },
    get podCIDRShape() {
      return shape();
    },
    get podCIDRAddrs() {
      return podCIDRAddrs();
    },
    get podCIDRs() {
      return podCIDRs();
    },
    get podCIDRTexts() {
      return podCIDRTexts();
    },
    get podCIDRNetworks() {
      return podCIDRNetworks();
    },
    get vtepMACs() {
      return vtepMACs();
    },
    get duplicateVtepMACs() {
      return duplicateVtepMACs();
    },
    get wireguardKeys() {
      return wireguardKeys();
    },
  };
}

/** A node's context as the runner holds it: it can drop what it derived once the node's checks are done. */
export interface NodeScope extends NodeContext {
  release(): void;
}

class NodeState implements NodeScope {
  readonly model: Model;
  readonly node: FlannelNode;
  readonly host: HostState | null;
  #peers: readonly Lease[] | undefined;
  #expected: ExpectedNode | undefined;
  #tables: (HostTables & { release(): void }) | null | undefined;
  #fib: FibState | null | undefined;

  constructor(
    readonly cluster: ClusterContext,
    private readonly lease: Lease,
    hostC: Collected<HostState> | undefined,
  ) {
    this.model = cluster.model;
    this.node = withHost(lease, hostC);
    this.host = this.node.host;
  }

  get peers(): readonly Lease[] {
    // The lease itself, not this.node (a copy with the host): peersOf leaves out the node by identity.
    this.#peers ??= peersOf(this.model, this.lease);
    return this.#peers;
  }

  get expected(): ExpectedNode {
    this.#expected ??= expectedFor(this.model, this.node, this.peers);
    return this.#expected;
  }

  get tables(): HostTables | null {
    if (this.#tables === undefined) this.#tables = this.node.host ? indexHost(this.node.host) : null;
    return this.#tables;
  }

  get fib(): FibState | null {
    if (this.#fib === undefined)
      this.#fib = this.node.host ? fibStateOf(this.node.host, this.cluster.podCIDRAddrs) : null;
    return this.#fib;
  }

  /**
   * Drops the expectations and table indexes. Leaving them to the garbage collector is not enough: measured on
   * the 1,000-node bench, they survive young-generation collections and peak RSS grows from 0.8 to 1.3 GB.
   */
  release(): void {
    this.#peers = undefined;
    this.#expected = undefined;
    this.#tables?.release();
    this.#tables = undefined;
    this.#fib = undefined;
  }
}

/** The node context of `lease` (one of cluster.model.nodes) with its collected host, if any. */
export function nodeContext(cluster: ClusterContext, lease: Lease, hostC: Collected<HostState> | undefined): NodeScope {
  return new NodeState(cluster, lease, hostC);
}

/** A part of a node's host that was not collected, among those its backend's checks read. */
export interface HostGap {
  readonly part: keyof HostState;
  readonly status: string;
  readonly error: string | undefined;
}

/**
 * What the cluster phase keeps of one node after its host is dropped: a few facts per node, never its
 * tables. Add a field here (computed in summarize) for a check that compares nodes' kernel state.
 */
export interface NodeSummary {
  readonly name: string;
  /** Why the host is missing (FlannelNode.hostError); null when it was collected. */
  readonly hostError: string | null;
  /** The parts the backend's checks read that were not collected (relevantParts order). */
  readonly gaps: readonly HostGap[];
  /** FLANNEL_MTU from subnet.env; null when absent or not collected. */
  readonly flannelMTU: number | null;
  /** The device the backend sends on (uplinkOf), with its MTU. */
  readonly uplink: { readonly name: string; readonly mtu: number } | null;
  /** vxlan: the IPv4 flannel.<VNI> device's VNI and UDP port as the kernel has them. */
  readonly vxlanDevice: { readonly id: number; readonly port: number } | null;
  /** Some link is a Calico veth (cali*): Calico enforces NetworkPolicies here. */
  readonly calicoLinks: boolean;
  /** ipsec: the node's xfrm states (to compare SAs across the pair) and the SA pairs flanneld expects. */
  readonly ipsec: { readonly states: readonly XfrmState[]; readonly pairs: ExpectedNode['saPairs'] } | null;
  /** Per family, the largest pod packet the node sends and the device into its pods (path/sizes.ts); null: not judged. */
  readonly podSizes: Readonly<Record<NfFamily, PodSizes | null>> | null;
  /** DirectRouting: per family, the peers this node routes pod packets to out of the uplink, unencapsulated. */
  readonly directPeers: Readonly<Record<NfFamily, readonly string[]>>;
  /**
   * nftables ingress chains on the uplink (netdev or inet family), where underlay-probe looks for what drops the
   * overlay on arrival; empty on nearly every node, so it costs nothing to keep.
   */
  readonly uplinkIngress: readonly IngressChain[];
  /**
   * cni0's addresses (`ip/len`, link-local left out): which podCIDR the node's pods really live in, for the cluster
   * checks that must tell a Node's range from the one its pods hold (podcidr-overlap).
   */
  readonly cni0Addresses: readonly string[];
}

export function summarize(ctx: NodeContext): NodeSummary {
  const { node, host, model } = ctx;
  const b = model.backend;
  const gaps: HostGap[] = [];
  if (host)
    for (const part of relevantParts(b?.type ?? null)) {
      const c = host[part] as { status: string; error?: string } | undefined;
      // Absent: a snapshot from a version that did not collect this part.
      if (c && c.status !== 'ok' && c.status !== 'skipped') gaps.push({ part, status: c.status, error: c.error });
    }
  const uplink = uplinkOf(node, b);
  const vx = b?.type === 'vxlan' && host ? linkByName(host, vxlanDeviceName(b.vni, 'inet'))?.vxlan : undefined;
  const states = b?.type === 'ipsec' ? ok(host?.xfrmStates) : undefined;
  return {
    name: node.name,
    hostError: node.hostError,
    gaps,
    flannelMTU: ok(host?.subnetEnv)?.mtu ?? null,
    uplink: uplink ? { name: uplink.name, mtu: uplink.mtu } : null,
    vxlanDevice: vx ? { id: vx.id, port: vx.port } : null,
    calicoLinks: ok(host?.links)?.some((l) => l.name.startsWith('cali')) ?? false,
    ipsec: states ? { states, pairs: ctx.expected.saPairs } : null,
    podSizes: sizesOf(node, host, b),
    directPeers: {
      inet: directPeers(b, ctx.tables, ctx.peers, 'inet'),
      inet6: directPeers(b, ctx.tables, ctx.peers, 'inet6'),
    },
    uplinkIngress: uplinkIngressOf(host, uplink?.name ?? null),
    cni0Addresses: cni0AddressesOf(host),
  };
}

function cni0AddressesOf(host: HostState | null): string[] {
  const cni0 = host ? linkByName(host, 'cni0') : undefined;
  return cni0?.addresses.filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`) ?? [];
}

/** The walk's pod side and the vxlan device per family: what the size seam compares across nodes. */
function sizesOf(node: FlannelNode, host: HostState | null, b: Model['backend']): NodeSummary['podSizes'] {
  if (!host || !b) return null;
  const sides = podSidesOf(node, host);
  const vx = (f: NfFamily) => (b.type === 'vxlan' ? vxlanDeviceName(b.vni, f) : null);
  return podSizesOf(
    b,
    host,
    { inet: sides.inet?.dev ?? null, inet6: sides.inet6?.dev ?? null },
    { inet: vx('inet'), inet6: vx('inet6') },
  );
}

/** The summary of a node whose summarize() failed (the runner reports that): nothing to compare. */
export function emptySummary(name: string, hostError: string | null): NodeSummary {
  return {
    name,
    hostError,
    gaps: [],
    flannelMTU: null,
    uplink: null,
    vxlanDevice: null,
    calicoLinks: false,
    ipsec: null,
    podSizes: null,
    directPeers: { inet: [], inet6: [] },
    uplinkIngress: [],
    cni0Addresses: [],
  };
}

/** What cluster checks see: the leases, every node's summary, and the snapshot's cluster-wide records. */
export interface ClusterScope extends ClusterContext {
  /** One per model.nodes entry, in the same order. */
  readonly summaries: readonly NodeSummary[];
  /** By node name (the last of a name, as model.byName). */
  readonly summaryOf: ReadonlyMap<string, NodeSummary>;
  readonly errors: Snapshot['errors'];
  readonly underlayProbe: Snapshot['underlayProbe'];
  readonly underlaySamples: Snapshot['underlaySamples'];
}
