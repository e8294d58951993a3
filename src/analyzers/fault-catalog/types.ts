/**
 * The shape of the fault catalog (catalog.ts): one entry per fault, read by the simulator (test/sim), the lab's
 * `lab/lab break` (through lab/lib/catalog.mjs), the e2e tests (test/e2e) and the docs generator (docs/checks.md).
 * It lives in src/ (analyzers layer, data only) because the docs generator in src/render must read it and nothing
 * in src/ may import from test/; how a fault is injected stays with the packaging that injects it (a function in
 * test/sim/inject.ts keyed by the entry's id, a shell function inject_<lab.inject> in lab/faults.sh).
 */
import type { Severity } from '../finding.js';

/**
 * Nodes by their part in the fault: `node` is where it is injected, `peer` the next node (wrapping, as
 * lab/faults.sh peer_of picks it), `third` the one after that.
 */
export type Role = 'node' | 'peer' | 'third';

export type SimBackend =
  | 'vxlan'
  | 'vxlan-directrouting'
  | 'vxlan-dualstack'
  | 'host-gw'
  | 'udp'
  | 'ipip'
  | 'wireguard'
  | 'ipsec'
  // packagings and modes (issue 11): nftables mode, Canal, k3s's embedded flannel, IPv6-only, dual-stack host-gw
  | 'vxlan-nftables'
  | 'vxlan-canal'
  | 'vxlan-k3s'
  | 'vxlan-ipv6'
  | 'host-gw-dualstack';
export type LabBackend = 'vxlan' | 'vxlan-directrouting' | 'host-gw' | 'udp';

/** What a role's node looks like in one run, for evidence patterns that name addresses. */
export interface NodeVars {
  readonly name: string;
  /** underlay address (InternalIP) */
  readonly ip: string;
  readonly podCIDR: string;
  /** the podCIDR's network address: flannel.1's address, the neighbour and the `via` of a vxlan route */
  readonly podNet: string;
}
export type RunVars = Readonly<Record<Role, NodeVars>>;

/** A pattern that the message or one evidence line of every matching finding must contain. */
export type Evidence = RegExp | ((v: RunVars) => RegExp);

export interface ExpectedFinding {
  readonly check: string;
  /** null: a cluster-wide finding */
  readonly node: Role | null;
  /** absent or null: the finding names no peer */
  readonly peer?: Role | null;
  readonly severity: Severity;
  /** how many findings with exactly this check, node, peer and severity; default 1 */
  readonly count?: number;
  readonly evidence: Evidence;
}

/** A finding that is not the fault itself but follows from it; the catalog says why. */
export interface Consequence extends ExpectedFinding {
  readonly reason: string;
}

/** Everything doctor reports for the fault: any other finding, of any check and severity, fails. */
export interface Findings {
  readonly expect: readonly ExpectedFinding[];
  readonly consequences?: readonly Consequence[];
}

/** How the lab proves the fault really does what `changes` says. */
export type Effect =
  /** pings between the two roles' test pods fail */
  | { readonly kind: 'unreachable'; readonly from: Role; readonly to: Role }
  /**
   * small pings pass, 1400-byte pings (ICMP payload; `size` for another) with DF set fail; after the printed fix the
   * largest echo the source pod sends (its eth0's MTU, or 1400 bytes when smaller) passes
   */
  | { readonly kind: 'big-packets-dropped'; readonly from: Role; readonly to: Role; readonly size?: number }
  /** a new pod on the role's node cannot be wired: CNI ADD fails */
  | { readonly kind: 'cni-add-fails'; readonly on: Role }
  /** traffic is unaffected; the entry's state probe proves the fault is in place */
  | { readonly kind: 'reachable'; readonly from: Role; readonly to: Role };

/** A state probe of test/e2e/probes.ts: true while the fault is in place, false once healed. */
export type ProbeName =
  | 'flanneld-healthz-down'
  | 'peer-route-missing'
  | 'annotations-gone'
  | 'forward-policy-drop'
  | 'stale-route-present'
  | 'network-unavailable'
  | 'netconf-backend-differs'
  | 'public-ip-99'
  | 'route6-missing'
  | 'nft-postrtg-no-masquerade'
  | 'eth0-mtu-9000'
  | 'podcidr-empty';

export interface SimPackaging extends Findings {
  readonly backend: SimBackend;
  /** the simulated node (node1..node3) the fault is injected on; the roles follow from it */
  readonly on: string;
  /** pod traffic it breaks, proven live (a ping passes before and fails after) before the findings are asserted */
  readonly breaks?: readonly SimBreak[];
  /** the snapshot carries bundle's tcpdump samples, taken while the pods ping after the fault is injected */
  readonly sampled?: true;
}

/** A ping from the test pod of one role's node to another's, with DF set. */
export interface SimBreak {
  readonly from: Role;
  readonly to: Role;
  /** ICMP payload bytes; default 56 */
  readonly size?: number;
  /** ping the pod's IPv6 address (dual-stack and IPv6-only clusters) */
  readonly ipv6?: true;
  /**
   * ping address N of the destination node's podCIDR instead of its test pod's (.2): the simulator adds that
   * address to the pod for the ping, for faults that break only part of a podCIDR
   */
  readonly toHost?: number;
}

export interface LabPackaging extends Findings {
  readonly backends: readonly LabBackend[];
  /** the shell function inject_<inject> in lab/faults.sh */
  readonly inject: string;
  readonly effect: Effect;
  /** where a backend changes the effect (udp: flanneld itself carries the traffic) */
  readonly effectOn?: Partial<Record<LabBackend, Effect>>;
  readonly probe?: ProbeName;
  /**
   * The fix doctor prints for each finding is proven in the lab: run as printed (the command after "On <node>:" in
   * that node's network namespace; "Restart the flannel pod on <node>" or, on k3s, "systemctl restart k3s"
   * restarts that node's flanneld the way a new pod or k3s does; "In the cluster: kubectl …" against the lab's API;
   * "Allow … from <node> (<ip>) to <node> (<ip>) in the network between them" through lab/lab underlay-allow, the
   * lab's one network between nodes), it must restore the effect's traffic (big packets too, CNI ADD too) and leave
   * every pair that worked before the fault reachable; for the packet faults doctor --probe is clean afterwards.
   */
  readonly fixRestores?: true;
  /** Why the printed fix cannot be run in the lab as printed, where no lab action can do what it says. */
  readonly fixBy?: string;
  /** where a backend changes what doctor reports */
  readonly findingsOn?: Partial<Record<LabBackend, Findings>>;
  /** needs the kube-flannel packaging (flannel pods, ConfigMap, health server): not on --flavor k3s */
  readonly kubeFlannelOnly?: true;
  /** only in nftables mode (lab/lab up --nftables) */
  readonly nftablesOnly?: true;
  /** why it does not apply in nftables mode, when it does not */
  readonly notInNftables?: string;
  /** only on a dual-stack lab (lab/lab up --ip-family dual) */
  readonly dualOnly?: true;
  /** where a dual-stack lab changes the effect */
  readonly effectOnDual?: Effect;
  /** where a dual-stack lab changes what doctor reports (flannel-v6.1 is one more device on the path) */
  readonly findingsOnDual?: Findings;
  /**
   * Faults only packets reveal (the findings above are then plain doctor's: nothing): `trace --probe` from the
   * `from` role's pod to the `to` role's must see its probe last on `lastSeenOn`'s uplink and nowhere after it, and
   * `doctor --probe` must give exactly one underlay-probe error on `dropped.from` toward `dropped.to`.
   */
  /**
   * MTU faults (effect big-packets-dropped): `trace --probe` along the effect's direction must see its small echoes
   * arrive and its FLANNEL_MTU-sized UDP probe vanish at this hop, `node/iface` of the role's node (the device whose
   * MTU is below FLANNEL_MTU, or the first hop after the one that cannot carry the packet).
   */
  readonly mtuHop?: { readonly on: Role; readonly iface: string };
  readonly packets?: {
    readonly from: Role;
    readonly to: Role;
    readonly lastSeenOn: Role;
    readonly dropped: { readonly from: Role; readonly to: Role };
  };
}

export interface FaultEntry {
  /** stable, kebab-case: the same name in the simulator, `lab/lab break`, the tests and the docs */
  readonly id: string;
  /** what it changes, and where (kernel, file, process, API) */
  readonly changes: string;
  readonly sim?: SimPackaging;
  readonly lab?: LabPackaging;
}

/** A RegExp from a template whose interpolated values are escaped: rx`expected: ${v.peer.podCIDR} via`. */
export function rx(strings: TemplateStringsArray, ...values: string[]): RegExp {
  let src = strings.raw[0] ?? '';
  values.forEach((v, i) => {
    src += v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + (strings.raw[i + 1] ?? '');
  });
  return new RegExp(src);
}
