/**
 * The whole path of a pod packet between two nodes, split at the underlay into two halves so that each
 * needs one node's kernel state and the other node's lease only:
 * - egress, on the source node: the pod's bridge, PREROUTING, the routing decision, ip_forward, FORWARD,
 *   POSTROUTING, the backend's encapsulation (vxlan neighbour and fdb, flannel0, the ipip device, the WireGuard
 *   peer whose allowed-ips hold the destination, the xfrm policy out and its SA, or the routed packet), then
 *   the outer packet's route, OUTPUT and POSTROUTING;
 * - ingress, on the destination node: PREROUTING and INPUT for the outer packet, the flannel device (or the SA
 *   that decrypts ESP) and its rp_filter, PREROUTING, the routing decision, ip_forward, the WireGuard peer's
 *   allowed-ips for the inner source or the xfrm fwd policy, FORWARD and POSTROUTING for the inner packet, cni0.
 * Each half ends in a result: passes, breaks at a hop (with the cause and the checks that already explain
 * that cause), rewritten (NAT of pod-to-pod traffic), or unknown (a rule the model cannot evaluate).
 * A node-to-pod packet (`node` class) starts in OUTPUT instead of at the bridge. A half follows one pod address
 * of the peer's podCIDR, or the address of one part of it the node tells apart (pod-parts.ts).
 */
import { contains, hostAt, overlaps, type Prefix, sameIP, usableEnds } from '../../net/cidr.js';
import type { Backend, HostState, RouteDecision, XfrmState } from '../../snapshot/types.js';
import { vxlanDeviceName } from '../expected/index.js';
import { type FibAnswer, type FibState, lookup } from '../fib/lookup.js';
import { formatPolicy } from '../format.js';
import type { HostTables } from '../host-index.js';
import { type FlannelNode, type Lease, linkByName, ok } from '../model.js';
import { type IngressChain, ingressFix, ingressVerdict } from '../netfilter/ingress.js';
import type { Hook, HookVerdict, NfFamily, NfPacket, RuleRef } from '../netfilter/types.js';
import type { PodEnd } from '../pod-ends.js';
import { flanneldSilence } from '../udp-flanneld.js';
import { uplinkOf } from '../uplink.js';
import type { NodeFilter } from './node-filter.js';
import type { PodPart } from './pod-parts.js';
import { egressSizeBreak } from './sizes.js';
import { endpointParts, formatWireguardPeer, templateAccepts, wireguardDevice } from './tunnels.js';

export type PacketClass = 'pod' | 'node';

/** Why a half does not pass, as one cause: the same cause on many pairs is one finding. */
export interface Break {
  readonly kind: 'break' | 'rewritten' | 'unknown';
  /** The hop, e.g. `FORWARD`, `route`, `vxlan fdb`, `INPUT (outer)`. */
  readonly hop: string;
  /** One line saying what happens there. */
  readonly what: string;
  readonly evidence: readonly string[];
  readonly fix: string | null;
  /** Checks whose finding on this node already names this cause: the path check then stays silent. */
  readonly explainedBy: readonly string[];
  /** What makes two breaks the same cause (the rule, the device), without the pair's addresses; defaults to `what`. */
  readonly cause?: string;
}

/** What a half needs from its node: the node's own state, indexed once per node. */
export interface NodeView {
  readonly node: FlannelNode;
  readonly host: HostState;
  readonly backend: Backend;
  readonly filter: NodeFilter;
  readonly fib: FibState | null;
  readonly tables: HostTables;
  /** The kernel's answers by `dst as`. */
  readonly decisions: ReadonlyMap<string, RouteDecision> | null;
  /** Where the node's pods hang off, per family (podSidesOf). */
  readonly pods: Readonly<Record<NfFamily, PodSide | null>>;
  /** nftables ingress chains on the node's uplink (uplinkIngressOf); absent or empty: none. */
  readonly uplinkIngress?: readonly IngressChain[];
  /** The pods' own ends behind their host veths (podEndsOf); empty where the pods' namespaces were not read. */
  readonly podEnds: readonly PodEnd[];
}

const FIREWALL_CHECKS = ['forward-drop', 'nftables-rules', 'firewall-mode-conflict', 'iptables-split'];
const ROUTE_CHECKS = [
  'route-decision',
  'peer-routes',
  'blackhole-route',
  'stale-routes',
  'own-podcidr-route',
  'hostgw-not-onlink',
  'public-ip-not-local',
];
const VXLAN_CHECKS = ['vxlan-neighbours', 'vxlan-fdb', 'vtep-mac', 'backend-type-mismatch', 'public-ip-duplicate'];
const DEVICE_CHECKS = ['flannel-device', 'cni0-address', 'leftover-backend-device', 'vxlan-port-mismatch'];

function hookName(hook: Hook): string {
  return hook.toUpperCase();
}

function ruleFix(node: string, by: RuleRef): string {
  if (by.rule.startsWith('policy '))
    return `On ${node}: accept the pod traffic ahead of the policy, e.g. ${by.writer === 'nft' ? `nft insert rule ${by.table} ${by.chain} accept` : `${by.writer === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft'} -t ${by.table} -I ${by.chain} -j ACCEPT`} restricted to the pod Network`;
  return `On ${node}: ${ruleDelete(by)} (or narrow it so pod traffic passes)`;
}

/** The command that deletes one rule, as its writer spells it. */
function ruleDelete(by: RuleRef): string {
  if (by.writer === 'nft') {
    const h = /handle (\d+):/.exec(by.rule);
    return `nft delete rule ${by.table} ${by.chain} handle ${h?.[1] ?? '<handle>'}`;
  }
  const bin = by.writer === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
  return `${bin} -t ${by.table} ${by.rule.replace(/^-A /, '-D ')}`;
}

function hookBreak(
  view: NodeView,
  hook: Hook,
  v: HookVerdict & { kind: 'drop' | 'unknown' },
  stage: string,
  explainedBy: readonly string[],
): Break {
  const where = `${hookName(hook)}${stage}`;
  if (v.kind === 'unknown')
    return {
      kind: 'unknown',
      hop: where,
      what: `unknown: ${v.rule}`,
      evidence: [v.rule],
      fix: null,
      explainedBy: [],
      cause: v.rule,
    };
  return {
    kind: 'break',
    hop: where,
    what: `dropped in ${where} by ${v.by.writer} ${v.by.table} ${v.by.chain}: ${v.by.rule}`,
    evidence: [`${v.by.writer} table ${v.by.table} chain ${v.by.chain}: ${v.by.rule}`],
    fix: ruleFix(view.node.name, v.by),
    explainedBy,
    cause: `${v.by.writer} ${v.by.table} ${v.by.chain} ${v.by.rule}`,
  };
}

/** Runs one hook; a drop or an unknown verdict ends the half. */
function pass(
  view: NodeView,
  hook: Hook,
  p: NfPacket,
  stage: string,
  explainedBy: readonly string[],
): { packet: NfPacket; nat: readonly RuleRef[] } | Break {
  const v = view.filter.verdict(p.family, hook, p);
  if (v.kind !== 'accept') return hookBreak(view, hook, v, stage, explainedBy);
  return { packet: v.packet, nat: v.nat.map((n) => n.by) };
}

const isBreak = (x: unknown): x is Break => typeof x === 'object' && x !== null && 'explainedBy' in x;

/**
 * A routed packet leaving by its device: FORWARD for a forwarded one (OUTPUT for the node's own), then
 * POSTROUTING. The NAT is POSTROUTING's (FORWARD and OUTPUT bind none the walk reports).
 */
function leave(
  view: NodeView,
  first: 'forward' | 'output',
  p: NfPacket,
): { packet: NfPacket; nat: readonly RuleRef[] } | Break {
  const f = pass(view, first, p, '', FIREWALL_CHECKS);
  if (isBreak(f)) return f;
  return pass(view, 'postrouting', f.packet, '', FIREWALL_CHECKS);
}

function deviceBreak(view: NodeView, dev: string, hop: string, explainedBy: readonly string[]): Break | null {
  const l = linkByName(view.host, dev);
  if (!l)
    return {
      kind: 'break',
      hop,
      what: `${dev} does not exist`,
      evidence: [`ip link show ${dev}: (nothing)`],
      fix: null,
      explainedBy,
    };
  if (l.flags.includes('UP') || l.detailsMissing) return null;
  return {
    kind: 'break',
    hop,
    what: `${dev} is down: the packet is dropped here`,
    evidence: [`${l.ifindex}: ${dev}: <${l.flags.join(',')}> mtu ${l.mtu} state ${l.operstate}`],
    fix: `On ${view.node.name}: ip link set ${dev} up`,
    explainedBy,
  };
}

/** What doctor reports when flanneld itself is down: the udp backend's packets cross flanneld in user space. */
const FLANNELD_CHECKS = ['flanneld-health', 'flannel-pod-unhealthy'];

/** A udp node's flanneld that moves no packet (udp-flanneld.ts) breaks the half at `hop`. */
function flanneldBreak(view: NodeView, hop: string): Break | null {
  const silent = flanneldSilence(view.host);
  if (!silent) return null;
  return {
    kind: 'break',
    hop,
    what: `flanneld does not answer /healthz (${silent.answer}): the udp backend carries packets through flanneld in user space, which moves none`,
    evidence: [silent.probe],
    fix: null,
    explainedBy: FLANNELD_CHECKS,
    cause: 'flanneld not answering',
  };
}

function sysctl(view: NodeView, key: string): string | undefined {
  return ok(view.host.sysctls)?.[key];
}

function forwardingBreak(view: NodeView, family: NfFamily): Break | null {
  const key = family === 'inet' ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding';
  const v = sysctl(view, key);
  if (v === undefined || v === '1') return null;
  return {
    kind: 'break',
    hop: 'forwarding',
    what: `${key} is ${v}: the node does not forward pod traffic`,
    evidence: [`${key} = ${v}`],
    fix: `On ${view.node.name}: sysctl -w ${key}=1`,
    explainedBy: ['ip-forward'],
  };
}

interface Routed {
  readonly dev: string | null;
  readonly gateway: string | null;
  readonly prefsrc: string | null;
  readonly entry: string;
}

/** The kernel's answer for a peer podCIDR's first address (when asked and the mark is the default), else the FIB model. */
function route(
  view: NodeView,
  q: { dst: string; as: PacketClass; src: string | null; iif: string | null; mark: number; answerFor?: string },
): Routed | Break {
  const k = q.mark === 0 && q.answerFor ? view.decisions?.get(`${q.answerFor} ${q.as}`) : undefined;
  // A forwarded answer stands for this packet only if it was asked the same way: from this pod, by its device.
  const d = k && (k.as === 'node' || ((k.iif ?? 'cni0') === q.iif && k.src === q.src)) ? k : undefined;
  if (d) {
    if (d.error !== null)
      return routeBreak(
        `ip route get ${d.dst}${d.src ? ` from ${d.src} iif ${d.iif ?? 'cni0'}` : ''}: ${d.error}`,
        d.error,
      );
    return {
      dev: d.dev,
      gateway: d.gateway,
      prefsrc: d.prefsrc,
      entry: `${d.dst} ${d.gateway ? `via ${d.gateway} ` : ''}dev ${d.dev ?? '?'}${d.table && d.table !== 'main' ? ` table ${d.table}` : ''}`,
    };
  }
  if (!view.fib) return routeBreak('no routes or rules collected', null, 'unknown');
  const a: FibAnswer = lookup(view.fib, {
    dst: q.dst,
    ...(q.iif ? { iif: q.iif, src: q.src } : {}),
    ...(q.mark ? { mark: q.mark } : {}),
  });
  if (a.unmodelled.length > 0)
    return routeBreak(`ip rule selectors the model cannot evaluate: ${a.unmodelled.join('; ')}`, null, 'unknown');
  if (a.error !== null || !a.route)
    return routeBreak(
      `ip route get ${q.dst}${q.iif ? ` from ${q.src} iif ${q.iif}` : ''}: ${a.error ?? 'no route'}${a.rule ? ` (rule ${a.rule.priority}: ${a.rule.text})` : ''}`,
      a.error ?? 'no route',
    );
  const r = a.route;
  return {
    dev: r.dev,
    gateway: r.gateway,
    prefsrc: r.prefsrc,
    entry: `${r.type !== 'unicast' ? `${r.type} ` : ''}${r.dst} ${r.gateway ? `via ${r.gateway} ` : ''}dev ${r.dev ?? '?'}${r.table !== 'main' ? ` table ${r.table}` : ''}`,
  };
}

function routeBreak(evidence: string, error: string | null, kind: Break['kind'] = 'break'): Break {
  return {
    kind,
    hop: 'route',
    what: kind === 'unknown' ? `unknown: ${evidence}` : `the routing decision drops the packet (${error})`,
    evidence: [evidence],
    fix: null,
    explainedBy: ROUTE_CHECKS,
    cause: `route ${error}`,
  };
}

/** The first usable address, the one the kernel's collected answers are for. */
export function firstUsable(cidr: Prefix): string | undefined {
  if (cidr.family === 'inet' && cidr.length <= 30) {
    const o = cidr.network.split('.').map(Number);
    if (o.length === 4 && o[3]! <= 254) return `${o[0]}.${o[1]}.${o[2]}.${o[3]! + 1}`;
  }
  return usableEnds(cidr)[0];
}

export function podAddress(cidr: Prefix): string | null {
  // cni0 holds the first address; the second is the first a pod is given. IPv4 by hand: one per peer and node.
  if (cidr.family === 'inet' && cidr.length <= 30) {
    const o = cidr.network.split('.').map(Number);
    if (o.length === 4 && o[3]! <= 253) return `${o[0]}.${o[1]}.${o[2]}.${o[3]! + 2}`;
  }
  return hostAt(cidr, 2);
}

export function cidrOf(n: Lease, family: NfFamily): Prefix | null {
  return family === 'inet' ? n.podCIDR : n.podCIDRv6;
}

export function vxlanDevice(view: NodeView, family: NfFamily): string | null {
  return view.backend.type === 'vxlan' ? vxlanDeviceName(view.backend.vni, family) : null;
}

export function publicIPOf(n: Lease, family: NfFamily): string | null {
  return family === 'inet' ? n.publicIP : n.publicIPv6;
}

/** The packet the source node puts on the underlay, as the destination's half starts from it. */
export type Underlay = { readonly kind: 'encapsulated'; readonly port: number } | { readonly kind: 'routed' };

const PROTO = 'udp';
/** A representative pod flow: UDP to a port no flannel rule singles out. */
const POD_DPORT = 8080;
const POD_SPORT = 40000;

function cni0Break(view: NodeView, hop: string): Break | null {
  return deviceBreak(view, 'cni0', hop, ['cni0-address', 'cni-config']);
}

/** Where the node's pods hang off: the bridge CNI's cni0, or one of Calico's cali* veths (Canal). */
export interface PodSide {
  readonly dev: string;
  /** A local pod's address: the podCIDR's pod address behind cni0, the address of the cali veth's /32 route. */
  readonly addr: string;
  readonly bridge: boolean;
}

/**
 * The node's pod side per family (null: no pod to follow: no cni0 and no cali route), found once per node for
 * NodeView. Calico's CNI (Canal, RKE2's default) has no bridge: each pod is a veth `cali<hash>` with a host
 * route to the pod's address (/32, /128, scope link) on it, and the pod's default route via 169.254.1.1, which
 * the node answers by proxy ARP. The walk follows the first such pod in the podCIDR.
 */
export function podSidesOf(node: FlannelNode, host: HostState): Readonly<Record<NfFamily, PodSide | null>> {
  const bridge = linkByName(host, 'cni0') !== undefined;
  const routes = ok(host.routes) ?? [];
  const of = (family: NfFamily): PodSide | null => {
    const own = cidrOf(node, family);
    if (!own) return null;
    if (bridge) {
      const addr = podAddress(own);
      return addr ? { dev: 'cni0', addr, bridge: true } : null;
    }
    const len = family === 'inet' ? '/32' : '/128';
    for (const r of routes) {
      if (r.family !== family || r.table !== 'main' || r.type !== 'unicast' || !r.dev?.startsWith('cali')) continue;
      if (!r.dst.endsWith(len) || r.gateway) continue;
      const addr = r.dst.slice(0, -len.length);
      if (contains(own, addr)) return { dev: r.dev, addr, bridge: false };
    }
    return null;
  };
  return { inet: of('inet'), inet6: of('inet6') };
}

const podSide = (view: NodeView, family: NfFamily): PodSide | null => view.pods[family];

function podDeviceBreak(view: NodeView, side: PodSide, hop: string): Break | null {
  return side.bridge ? cni0Break(view, hop) : deviceBreak(view, side.dev, hop, ['cni-config']);
}

/** The backends the walk follows: what each one's route and encapsulation look like is modelled below. */
export const WALKED: ReadonlySet<Backend['type']> = new Set(['vxlan', 'host-gw', 'udp', 'ipip', 'wireguard', 'ipsec']);

/** flannel.ipip, or the kernel's fallback ipip device (routes through it work alike). */
const IPIP_DEVICES: ReadonlySet<string> = new Set(['flannel.ipip', 'tunl0']);
const WIREGUARD_CHECKS = ['wireguard-peers', 'flannel-device', 'backend-type-mismatch'];
const IPSEC_POLICY_CHECKS = ['ipsec-policies'];
const IPSEC_SA_CHECKS = ['ipsec-sa'];
const OUTER_CHECKS = ['overlay-port-blocked', 'underlay-probe'];

/** The WireGuard device a family's pod traffic takes: two in the default `separate` mode, else one for both. */
export function wireguardDeviceOf(view: NodeView, family: NfFamily): string | null {
  const b = view.backend;
  if (b.type !== 'wireguard') return null;
  return family === 'inet6' && b.mode === 'separate' ? 'flannel-wg-v6' : 'flannel-wg';
}

/** The family of the outer WireGuard packet: the inner one in `separate` mode, else the one the Mode picks. */
export function wireguardOuterFamily(view: NodeView, family: NfFamily): NfFamily {
  const b = view.backend;
  if (b.type !== 'wireguard' || b.mode === 'separate') return family;
  return b.mode === 'ipv6' ? 'inet6' : 'inet';
}

/** The key a peer publishes for the device a family's traffic takes (backend-data, or backend-v6-data). */
export function wireguardKeyOf(
  view: NodeView,
  peer: Lease,
  family: NfFamily,
): { publicKey: string; port: number } | null {
  const b = view.backend;
  if (b.type !== 'wireguard') return null;
  const data = family === 'inet6' && b.mode === 'separate' ? peer.wireguardV6 : peer.wireguard;
  if (!data) return null;
  const fallback = family === 'inet6' && b.mode === 'separate' ? b.listenPortV6 : b.listenPort;
  return { publicKey: data.publicKey, port: data.port || fallback };
}

/**
 * The source node's half toward `peer`. null when the pair is not walked (no pod on the node to start from, a backend
 * the walk does not model, a family one side lacks, node traffic on ipsec, whose policies select pod subnets only).
 */
export function egress(
  view: NodeView,
  peer: Lease,
  cls: PacketClass,
  family: NfFamily,
  part?: PodPart,
): Break | 'passes' | null {
  const own = cidrOf(view.node, family);
  const theirs = cidrOf(peer, family);
  // Overlapping podCIDRs have no path to follow (podcidr-overlap's finding).
  if (!own || !theirs || overlaps(own, theirs)) return null;
  const b = view.backend;
  if (!WALKED.has(b.type)) return null;
  // flannel's policies select pod subnet to pod subnet: host traffic leaves unencrypted by design (#966).
  if (b.type === 'ipsec' && cls === 'node') return null;
  const side = podSide(view, family);
  if (cls === 'pod' && !side) return null;
  const dst = part ? part.addr : podAddress(theirs);
  const src = side?.addr ?? podAddress(own);
  if (!dst || !src) return null;
  // The kernel's answers for pod traffic stand where they were asked from this pod and device (route() checks).
  const answerFor = part ? (part.answerFor ?? undefined) : firstUsable(theirs);
  let p: NfPacket = {
    family,
    src,
    dst,
    proto: PROTO,
    sport: POD_SPORT,
    dport: POD_DPORT,
    iif: cls === 'pod' ? side!.dev : null,
    oif: null,
    mark: 0,
  };
  const start = p;
  const nat: RuleRef[] = [];
  if (cls === 'pod') {
    const down = podDeviceBreak(view, side!, side!.dev);
    if (down) return down;
    const pre = pass(view, 'prerouting', p, '', FIREWALL_CHECKS);
    if (isBreak(pre)) return pre;
    p = pre.packet;
    nat.push(...pre.nat);
    if (changed(start, p)) return rewritten(view, start, p, nat);
    // With forwarding off the kernel's lookup for forwarded traffic already fails (ip_route_input: EHOSTUNREACH).
    const fwd = forwardingBreak(view, family);
    if (fwd) return fwd;
  }
  if (b.type === 'ipsec') return ipsecEgress(view, peer, family, p, start, nat);
  const r = route(view, {
    dst: p.dst,
    as: cls,
    src: cls === 'pod' ? p.src : null,
    iif: p.iif,
    mark: p.mark,
    ...(answerFor && p.dst === dst ? { answerFor } : {}),
  });
  if (isBreak(r)) return r;
  if (!r.dev) return routeBreak(r.entry, 'no device');
  const vx = vxlanDevice(view, family);
  const wg = wireguardDeviceOf(view, family);
  const peerIP = publicIPOf(peer, family);
  const underlay: 'vxlan' | 'udp' | 'ipip' | 'wireguard' | 'routed' | null =
    r.dev === vx
      ? 'vxlan'
      : r.dev === 'flannel0'
        ? 'udp'
        : r.dev === wg
          ? 'wireguard'
          : b.type === 'ipip' && IPIP_DEVICES.has(r.dev) && r.gateway && peerIP && r.gateway === peerIP
            ? 'ipip'
            : r.gateway && peerIP && r.gateway === peerIP
              ? 'routed'
              : null;
  if (!underlay)
    return {
      kind: 'break',
      hop: 'route',
      what: `the route sends it ${r.gateway ? `via ${r.gateway} ` : ''}out of ${r.dev}, not toward ${peer.name}`,
      evidence: [r.entry],
      fix: null,
      explainedBy: ROUTE_CHECKS,
    };
  const down =
    deviceBreak(view, r.dev, 'route', DEVICE_CHECKS) ?? (underlay === 'udp' ? flanneldBreak(view, 'flanneld') : null);
  if (down) return down;
  // The largest pod packet, judged where its device is known; it stands only if the small packet passes.
  const big =
    cls === 'pod'
      ? egressSizeBreak(view.node, view.host, b, family, r.dev, uplinkOf(view.node, b), view.podEnds)
      : null;
  const sized = (x: Break | 'passes'): Break | 'passes' => (x === 'passes' && big ? big : x);
  p = { ...p, oif: r.dev };
  if (cls === 'node') p = { ...p, src: r.prefsrc ?? view.filter.env.primaryAddress(r.dev, family) ?? p.src };
  const post = leave(view, cls === 'node' ? 'output' : 'forward', p);
  if (isBreak(post)) return post;
  p = post.packet;
  nat.push(...post.nat);
  if (rewrites(cls, start, p)) return rewritten(view, start, p, nat);
  if (underlay === 'routed') return sized('passes');
  if (underlay === 'ipip') {
    // ipip with `remote any`: the outer destination is the route's (onlink) gateway, protocol 4 (`ipencap`).
    const local = publicIPOf(view.node, family);
    if (!local) return sized('passes');
    return sized(sendOuter(view, family, { src: local, dst: r.gateway!, proto: 'ipencap', sport: null, dport: null }));
  }
  if (underlay === 'wireguard') return sized(wireguardEgress(view, peer, family, p.dst, r.dev));
  return sized(outer(view, peer, family, underlay, r));
}

/**
 * WireGuard's cryptokey routing: the peer whose allowed-ips hold the destination takes the packet, encrypted
 * to its key and sent to its endpoint; no such peer and the device drops it (wg_xmit: -ENOKEY).
 */
function wireguardEgress(view: NodeView, peer: Lease, family: NfFamily, dst: string, dev: string): Break | 'passes' {
  const wg = wireguardDevice(view.host, dev);
  if (!wg)
    return {
      kind: 'break',
      hop: 'wireguard peer',
      what: `${dev} has no WireGuard configuration (wg show ${dev}: nothing)`,
      evidence: [`wg show ${dev} dump: (nothing)`],
      fix: null,
      explainedBy: WIREGUARD_CHECKS,
      cause: `wireguard ${dev} unconfigured`,
    };
  const hit = view.tables.tunnels().wireguardPeerFor(wg, dst);
  const want = wireguardKeyOf(view, peer, family);
  const peerIP = publicIPOf(peer, wireguardOuterFamily(view, family));
  if (!hit)
    return {
      kind: 'break',
      hop: 'wireguard peer',
      what: `no peer's allowed-ips on ${dev} hold ${dst}: WireGuard drops the packet`,
      evidence: [`wg show ${dev} allowed-ips: no entry holds ${dst}`],
      fix: null,
      explainedBy: WIREGUARD_CHECKS,
    };
  const entry = formatWireguardPeer(hit.peer);
  const ep = hit.peer.endpoint ? endpointParts(hit.peer.endpoint) : null;
  const why =
    want && hit.peer.publicKey !== want.publicKey
      ? `the packet is encrypted to ${hit.peer.publicKey}, not to ${peer.name}'s key ${want.publicKey}: ${peer.name} cannot decrypt it`
      : !ep
        ? `the peer for ${hit.prefix} has no endpoint: WireGuard cannot send the packet`
        : peerIP && !sameIP(ep.host, peerIP)
          ? `the peer for ${hit.prefix} sends to ${hit.peer.endpoint}, not to ${peer.name}'s address ${peerIP}`
          : null;
  if (why)
    return {
      kind: 'break',
      hop: 'wireguard peer',
      what: why,
      evidence: [entry],
      fix: null,
      explainedBy: WIREGUARD_CHECKS,
    };
  const src = publicIPOf(view.node, wireguardOuterFamily(view, family));
  if (!src) return 'passes';
  return sendOuter(view, wireguardOuterFamily(view, family), {
    src,
    dst: ep!.host,
    proto: 'udp',
    sport: wg.listenPort,
    dport: ep!.port,
  });
}

/**
 * IPsec has no device and flannel no route for it: the xfrm policy out that selects the pod packet turns it
 * into ESP (tunnel mode) through the SA its template resolves to, toward the template's destination. The
 * kernel needs some route for the inner destination first (the default route on real nodes): a forwarded packet
 * without one is dropped in ip_route_input, before ip_forward's xfrm_route_forward looks any policy up.
 */
function ipsecEgress(
  view: NodeView,
  peer: Lease,
  family: NfFamily,
  start: NfPacket,
  original: NfPacket,
  nat: RuleRef[],
): Break | 'passes' {
  let p = start;
  const theirs = cidrOf(peer, family);
  const first = theirs ? firstUsable(theirs) : undefined;
  const inner = route(view, {
    dst: p.dst,
    as: 'pod',
    src: p.src,
    iif: p.iif,
    mark: p.mark,
    ...(first ? { answerFor: first } : {}),
  });
  if (isBreak(inner))
    return { ...inner, what: `${inner.what}: the kernel drops it before it looks up the xfrm policy` };
  const policy = view.tables.tunnels().xfrmPolicyFor('out', p.src, p.dst);
  const t = policy?.templates[0];
  const peerIP = publicIPOf(peer, family);
  if (!policy || !t || policy.action !== 'allow')
    return {
      kind: 'break',
      hop: 'xfrm policy out',
      what: !policy
        ? `no xfrm policy out selects ${p.src} -> ${p.dst}: the packet is not encrypted, and ${peer.name} takes pod traffic only as ESP`
        : policy.action !== 'allow'
          ? `the xfrm policy out for ${p.src} -> ${p.dst} blocks it`
          : `the xfrm policy out for ${p.src} -> ${p.dst} has no template: the packet leaves unencrypted`,
      evidence: [policy ? formatPolicy(policy) : `ip xfrm policy: no dir out policy selects ${p.src} -> ${p.dst}`],
      fix: null,
      explainedBy: IPSEC_POLICY_CHECKS,
    };
  if (!peerIP || !sameIP(t.dst, peerIP))
    return {
      kind: 'break',
      hop: 'xfrm policy out',
      what: `the xfrm policy out sends ${p.dst} through a tunnel to ${t.dst}, not to ${peer.name}${peerIP ? ` (${peerIP})` : ''}`,
      evidence: [formatPolicy(policy)],
      fix: null,
      explainedBy: IPSEC_POLICY_CHECKS,
    };
  const sa = view.tables.tunnels().xfrmStateFor(t);
  if (!sa)
    return {
      kind: 'break',
      hop: 'xfrm state',
      what: `no SA ${t.src} -> ${t.dst} (${t.proto} reqid ${t.reqid}) for the policy's template: IKE has not completed, the kernel drops the packet`,
      evidence: [formatPolicy(policy), `ip xfrm state: no SA ${t.src} -> ${t.dst}`],
      fix: null,
      explainedBy: IPSEC_SA_CHECKS,
    };
  // The bundle's route is the tunnel's: the outer packet's device is what FORWARD and POSTROUTING see.
  const o = route(view, { dst: t.dst, as: 'node', src: null, iif: null, mark: 0, answerFor: t.dst });
  if (isBreak(o)) return { ...o, hop: 'route (outer)' };
  const post = leave(view, 'forward', { ...p, oif: o.dev });
  if (isBreak(post)) return post;
  p = post.packet;
  nat.push(...post.nat);
  if (changed(original, p)) return rewritten(view, original, p, nat);
  // The ESP packet passes OUTPUT and POSTROUTING again (xfrm_output_resume); UDPEncap carries it in UDP 4500.
  const big = o.dev
    ? egressSizeBreak(
        view.node,
        view.host,
        view.backend,
        family,
        o.dev,
        uplinkOf(view.node, view.backend),
        view.podEnds,
      )
    : null;
  const sent = sendOuter(
    view,
    family,
    sa.encap
      ? { src: t.src, dst: t.dst, proto: 'udp', sport: sa.encap.sport, dport: sa.encap.dport }
      : { src: t.src, dst: t.dst, proto: 'esp', sport: null, dport: null },
  );
  return sent === 'passes' && big ? big : sent;
}

const changed = (a: NfPacket, b: NfPacket): boolean => a.src !== b.src || a.dst !== b.dst || a.dport !== b.dport;

/**
 * A rewrite the walk reports: any NAT of pod-to-pod traffic; of a node's own packet, a new destination only (flanneld
 * masquerades a node's packet into the pod network from an address outside it, by design).
 */
const rewrites = (cls: PacketClass, a: NfPacket, b: NfPacket): boolean =>
  cls === 'pod' ? changed(a, b) : a.dst !== b.dst || a.dport !== b.dport;

function rewritten(view: NodeView, from: NfPacket, to: NfPacket, nat: readonly RuleRef[]): Break {
  const hop = nat[0]?.chain ?? 'NAT';
  const lines = nat.map((by) => `${by.writer} ${by.table} ${by.chain}: ${by.rule}`);
  // Deleting the rule is safe: no flannel or kube-proxy rule NATs traffic between two pod addresses.
  const cmds = nat.filter((by) => !by.rule.startsWith('policy ')).map(ruleDelete);
  return {
    kind: 'rewritten',
    hop,
    what: `pod-to-pod traffic is rewritten: ${from.src} -> ${from.dst}:${from.dport} becomes ${to.src} -> ${to.dst}:${to.dport}`,
    cause: lines.join(' '),
    evidence: lines,
    fix: cmds.length
      ? `On ${view.node.name}: ${cmds.join('; ')} (or exempt the pod Network from ${cmds.length > 1 ? 'those NAT rules' : 'that NAT rule'}: flanneld's own rules RETURN for pod-to-pod traffic before masquerading)`
      : `On ${view.node.name}: exempt the pod Network from that NAT rule (flanneld's own rules RETURN for pod-to-pod traffic before masquerading)`,
    explainedBy: ['masquerade-rules'],
  };
}

/** vxlan and udp: the neighbour and fdb entries toward the peer, then the outer packet's own hooks. */
function outer(view: NodeView, peer: Lease, family: NfFamily, underlay: 'vxlan' | 'udp', r: Routed): Break | 'passes' {
  const peerIP = publicIPOf(peer, family);
  let dst = peerIP;
  let port = view.backend.type === 'udp' ? view.backend.port : 8472;
  let src = publicIPOf(view.node, family);
  if (underlay === 'vxlan') {
    const dev = r.dev!;
    const link = linkByName(view.host, dev);
    port = link?.vxlan?.port ?? (view.backend.type === 'vxlan' ? view.backend.port : port);
    src = link?.vxlan?.local ?? src;
    const neigh = r.gateway ? view.tables.neighboursOf(dev, r.gateway).find((n) => n.lladdr) : undefined;
    if (!neigh?.lladdr)
      return {
        kind: 'break',
        hop: 'vxlan neighbour',
        what: `no neighbour entry for ${r.gateway ?? "the route's gateway"} on ${dev}`,
        evidence: [`ip neigh show ${r.gateway ?? ''} dev ${dev}: (nothing)`],
        fix: null,
        explainedBy: VXLAN_CHECKS,
      };
    const fdb = view.tables.fdbOf(dev, neigh.lladdr).find((f) => f.dst);
    if (!fdb?.dst)
      return {
        kind: 'break',
        hop: 'vxlan fdb',
        what: `no fdb entry for ${neigh.lladdr} on ${dev}`,
        evidence: [`bridge fdb show dev ${dev} | grep ${neigh.lladdr}: (nothing)`],
        fix: null,
        explainedBy: VXLAN_CHECKS,
      };
    // flanneld points each peer's VtepMAC at that peer's public-ip: another address carries the frame elsewhere
    // (a third node that is not the destination, or no node at all). The peer's own InternalIP still reaches it:
    // peers keep the old entry when flanneld ignores a lease change (dual-stack v0.28.9 ignores an IPv4-only one).
    if (peerIP && !sameIP(fdb.dst, peerIP) && !peer.kube.internalIPs.some((a) => sameIP(a, fdb.dst)))
      return {
        kind: 'break',
        hop: 'vxlan fdb',
        what: `the fdb entry for ${neigh.lladdr} sends ${peer.name}'s frames to ${fdb.dst}, not to its public-ip ${peerIP}`,
        evidence: [`bridge fdb show dev ${dev}: ${neigh.lladdr} dst ${fdb.dst}`],
        fix: null,
        explainedBy: VXLAN_CHECKS,
      };
    dst = fdb.dst;
  }
  if (!dst || !src) return 'passes';
  return sendOuter(view, family, { src, dst, proto: 'udp', sport: null, dport: port });
}

/** The encapsulated packet leaving the node: its route, then OUTPUT and POSTROUTING. */
function sendOuter(
  view: NodeView,
  family: NfFamily,
  o: { src: string; dst: string; proto: string; sport: number | null; dport: number | null },
): Break | 'passes' {
  const r = route(view, { dst: o.dst, as: 'node', src: null, iif: null, mark: 0, answerFor: o.dst });
  if (isBreak(r)) return { ...r, hop: 'route (outer)' };
  let p: NfPacket = { family, ...o, iif: null, oif: r.dev, mark: 0 };
  const out = pass(view, 'output', p, ' (outer)', OUTER_CHECKS);
  if (isBreak(out)) return out;
  p = out.packet;
  const post = pass(view, 'postrouting', p, ' (outer)', OUTER_CHECKS);
  if (isBreak(post)) return post;
  return 'passes';
}

type Arrival = 'vxlan' | 'udp' | 'ipip' | 'wireguard' | 'ipsec' | 'routed';

/** How `peer` encapsulates toward this node: the routed packet (host-gw, DirectRouting on-link) or a tunnel. */
function arrival(view: NodeView, peer: Lease, family: NfFamily): Arrival {
  const b = view.backend;
  if (b.type === 'host-gw') return 'routed';
  if (b.type === 'udp' || b.type === 'wireguard' || b.type === 'ipsec') return b.type;
  // DirectRouting: the peer routes straight to this node when they share a subnet, which this node's own
  // route to the peer's podCIDR mirrors (flanneld decides both the same way).
  if ((b.type === 'vxlan' || b.type === 'ipip') && b.directRouting) {
    const theirs = cidrOf(peer, family);
    const first = theirs ? firstUsable(theirs) : undefined;
    const d = first ? view.decisions?.get(`${first} node`) : undefined;
    const tunnel = (dev: string | null) =>
      b.type === 'vxlan' ? dev === vxlanDevice(view, family) : IPIP_DEVICES.has(dev ?? '');
    const routes = theirs ? view.tables.routesTo(theirs.text) : [];
    if (d ? !tunnel(d.dev) : routes.some((x) => !tunnel(x.dev) && x.gateway !== null)) return 'routed';
  }
  return b.type === 'ipip' ? 'ipip' : 'vxlan';
}

/** The outer packet `peer` sends this node, as its INPUT sees it; null when an address is missing. */
function arrivingOuter(
  view: NodeView,
  peer: Lease,
  family: NfFamily,
  how: Exclude<Arrival, 'routed'>,
): NfPacket | null {
  const b = view.backend;
  const outerFamily = how === 'wireguard' ? wireguardOuterFamily(view, family) : family;
  const peerIP = publicIPOf(peer, outerFamily);
  const myIP = publicIPOf(view.node, outerFamily);
  if (!peerIP || !myIP) return null;
  const uplink = uplinkOf(view.node, b)?.name ?? null;
  const base = { family: outerFamily, src: peerIP, dst: myIP, iif: uplink, oif: null, mark: 0 };
  switch (how) {
    case 'udp':
      return { ...base, proto: 'udp', sport: null, dport: b.type === 'udp' ? b.port : 8285 };
    case 'vxlan':
      return {
        ...base,
        proto: 'udp',
        sport: null,
        dport:
          linkByName(view.host, vxlanDevice(view, family) ?? '')?.vxlan?.port ?? (b.type === 'vxlan' ? b.port : 8472),
      };
    case 'ipip':
      return { ...base, proto: 'ipencap', sport: null, dport: null };
    case 'wireguard': {
      const dev = wireguardDeviceOf(view, family)!;
      const key = wireguardKeyOf(view, peer, family);
      const listen =
        wireguardDevice(view.host, dev)?.listenPort ??
        (b.type === 'wireguard' ? (dev === 'flannel-wg-v6' ? b.listenPortV6 : b.listenPort) : 51820);
      return { ...base, proto: 'udp', sport: key?.port ?? null, dport: listen };
    }
    case 'ipsec': {
      const sa = receivingSA(view, peerIP, myIP);
      return sa?.encap
        ? { ...base, proto: 'udp', sport: sa.encap.sport, dport: sa.encap.dport }
        : { ...base, proto: 'esp', sport: null, dport: null };
    }
  }
}

/** The SA this node decrypts `peer`'s ESP with: the one charon installed for src peer, dst this node. */
function receivingSA(view: NodeView, peerIP: string, myIP: string): XfrmState | null {
  return view.tables.tunnels().xfrmStateFor({ src: peerIP, dst: myIP, proto: 'esp', reqid: 0, mode: 'tunnel' });
}

/** The destination node's half: the packet from `peer` arriving here. */
export function ingress(
  view: NodeView,
  peer: Lease,
  cls: PacketClass,
  family: NfFamily,
  part?: PodPart,
): Break | 'passes' | null {
  const own = cidrOf(view.node, family);
  const theirs = cidrOf(peer, family);
  if (!own || !theirs || overlaps(own, theirs)) return null;
  const b = view.backend;
  if (!WALKED.has(b.type)) return null;
  if (b.type === 'ipsec' && cls === 'node') return null;
  const side = podSide(view, family);
  if (!side) return null;
  const dst = side.addr;
  const how = arrival(view, peer, family);
  const peerIP = publicIPOf(peer, family);
  // The node's own packet into the overlay leaves from its flannel device's address (the route's prefsrc): the
  // network address of its podCIDR on flannel.<VNI>, flannel0, flannel.ipip and flannel-wg; routed, the uplink's.
  const src = cls === 'pod' ? (part?.addr ?? podAddress(theirs)) : how === 'routed' ? peerIP : theirs.network;
  if (!dst || !src) return null;
  const uplink = uplinkOf(view.node, b)?.name ?? null;
  let iif: string | null = uplink;
  let sa: XfrmState | null = null;
  if (how !== 'routed') {
    let o = arrivingOuter(view, peer, family, how);
    if (!o) return null;
    const unheld = unheldPublicIP(view, peer, o.dst, ' (outer)');
    if (unheld) return unheld;
    const dropped = arrivalBreak(view, uplink, o, ' (outer)');
    if (dropped) return dropped;
    const pre = pass(view, 'prerouting', o, ' (outer)', OUTER_CHECKS);
    if (isBreak(pre)) return pre;
    o = pre.packet;
    const input = pass(view, 'input', o, ' (outer)', [...OUTER_CHECKS, 'vxlan-port-mismatch']);
    if (isBreak(input)) return input;
    if (how === 'ipsec') {
      sa = receivingSA(view, o.src, o.dst);
      if (!sa)
        return {
          kind: 'break',
          hop: 'xfrm state (receive)',
          what: `no SA ${o.src} -> ${o.dst} to decrypt ${peer.name}'s ESP: the packet is dropped`,
          evidence: [`ip xfrm state: no SA ${o.src} -> ${o.dst}`],
          fix: null,
          explainedBy: IPSEC_SA_CHECKS,
        };
      // Decrypted in tunnel mode, the inner packet enters the stack again on the device the ESP came in on.
    } else {
      const dev =
        how === 'udp'
          ? 'flannel0'
          : how === 'ipip'
            ? 'flannel.ipip'
            : how === 'wireguard'
              ? wireguardDeviceOf(view, family)!
              : vxlanDevice(view, family)!;
      const down =
        deviceBreak(view, dev, 'decapsulate', how === 'wireguard' ? WIREGUARD_CHECKS : DEVICE_CHECKS) ??
        (how === 'udp' ? flanneldBreak(view, 'flanneld') : null);
      if (down) return down;
      if (how === 'vxlan') {
        const mac = macBreak(view, dev, family);
        if (mac) return mac;
      }
      if (how === 'wireguard') {
        const wg = wireguardReceive(view, peer, family, dev, src);
        if (wg) return wg;
      }
      iif = dev;
    }
  }
  if (!iif) return null;
  if (how === 'routed') {
    // the peer's route to this node's pods goes via the public-ip the lease publishes
    const gateway = publicIPOf(view.node, family);
    const unheld = gateway ? unheldPublicIP(view, peer, gateway, '') : null;
    if (unheld) return unheld;
    const arriving = { family, src, dst, proto: PROTO, sport: POD_SPORT, dport: POD_DPORT, iif, oif: null, mark: 0 };
    const dropped = arrivalBreak(view, iif, arriving, '');
    if (dropped) return dropped;
  }
  const rp = rpFilterBreak(view, iif, src, family);
  if (rp) return rp;
  let p: NfPacket = { family, src, dst, proto: PROTO, sport: POD_SPORT, dport: POD_DPORT, iif, oif: null, mark: 0 };
  const start = p;
  const pre = pass(view, 'prerouting', p, '', FIREWALL_CHECKS);
  if (isBreak(pre)) return pre;
  p = pre.packet;
  const nat = [...pre.nat];
  // DNAT to another node's pod or off the node is a rewrite; the route below is for where the packet now goes.
  if (rewrites(cls, start, p)) return rewritten(view, start, p, nat);
  const fwd = forwardingBreak(view, family);
  if (fwd) return fwd;
  const r = route(view, { dst: p.dst, as: 'pod', src: p.src, iif, mark: p.mark });
  if (isBreak(r)) return r;
  if (r.dev !== side.dev)
    return {
      kind: 'break',
      hop: 'route',
      what: `the packet for a local pod is routed ${r.gateway ? `via ${r.gateway} ` : ''}out of ${r.dev ?? 'nowhere'}, not to ${side.dev}`,
      evidence: [r.entry],
      fix: null,
      explainedBy: [...ROUTE_CHECKS, 'cni0-address'],
    };
  if (sa) {
    const pol = fwdPolicyBreak(view, peer, p, sa);
    if (pol) return pol;
  }
  p = { ...p, oif: side.dev };
  const f = pass(view, 'forward', p, '', FIREWALL_CHECKS);
  if (isBreak(f)) return f;
  p = f.packet;
  const post = pass(view, 'postrouting', p, '', FIREWALL_CHECKS);
  if (isBreak(post)) return post;
  p = post.packet;
  nat.push(...post.nat);
  if (rewrites(cls, start, p)) return rewritten(view, start, p, nat);
  const down = podDeviceBreak(view, side, side.dev);
  if (down) return down;
  return 'passes';
}

/** Peers send to the public-ip the lease publishes: an address no device of the node holds never arrives. */
function unheldPublicIP(view: NodeView, peer: Lease, ip: string, stage: string): Break | null {
  const local = view.filter.env.localAddresses;
  if (local.has(ip) || [...local].some((a) => sameIP(a, ip))) return null;
  return {
    kind: 'break',
    hop: `underlay${stage}`,
    what: `${peer.name} sends ${stage ? 'the overlay' : 'its pod packets'} to ${ip}, the public-ip ${view.node.name}'s lease publishes, which no device of ${view.node.name} holds`,
    evidence: [`ip -o addr: no ${ip} on ${view.node.name}`],
    fix: null,
    explainedBy: ['public-ip-not-local', 'public-ip-duplicate'],
    // one cause for every peer: the node's own lease
    cause: `public-ip ${ip} not on ${view.node.name}`,
  };
}

/**
 * The uplink's nftables ingress hook (netdev, or inet): it sees the frame before the IP stack, so a drop there
 * stops what every table after it would pass. doctor --probe sees the same drop as packets that reach the uplink
 * and never the flannel device (underlay-probe names the rule then).
 */
function arrivalBreak(view: NodeView, dev: string | null, p: NfPacket, stage: string): Break | null {
  const chains = view.uplinkIngress ?? [];
  if (!dev || chains.length === 0) return null;
  const v = ingressVerdict(chains, dev, p);
  if (v === 'pass') return null;
  const hop = `${dev} ingress${stage}`;
  if (v === 'unknown')
    return {
      kind: 'unknown',
      hop,
      what: `unknown: an nft ingress rule on ${dev} the model cannot evaluate`,
      evidence: [],
      fix: null,
      explainedBy: [],
      cause: hop,
    };
  return {
    kind: 'break',
    hop,
    what: `dropped on arrival by nft ${v.family} ${v.table} ${v.chain}: ${v.text}`,
    evidence: [`nft ${v.family} table ${v.table} chain ${v.chain} (hook ingress device ${dev}): ${v.text}`],
    fix: ingressFix(view.node.name, dev, v),
    explainedBy: ['underlay-probe'],
    cause: `${v.family} ${v.table} ${v.chain} ${v.text}`,
  };
}

/**
 * WireGuard on receipt: the handshake names the sender by its static key, which must be a peer of the
 * device; the decrypted packet's source must then be in that same peer's allowed-ips (wg_packet_rx_poll).
 */
function wireguardReceive(view: NodeView, peer: Lease, family: NfFamily, dev: string, src: string): Break | null {
  const key = wireguardKeyOf(view, peer, family);
  const wg = wireguardDevice(view.host, dev);
  if (!key || !wg) return null;
  const sender = wg.peers.find((x) => x.publicKey === key.publicKey);
  if (!sender)
    return {
      kind: 'break',
      hop: 'wireguard peer (receive)',
      what: `${dev} has no peer with ${peer.name}'s key ${key.publicKey}: its handshake is rejected`,
      evidence: [`wg show ${dev} peers: no ${key.publicKey}`],
      fix: null,
      explainedBy: WIREGUARD_CHECKS,
    };
  const owner = view.tables.tunnels().wireguardPeerFor(wg, src);
  if (owner?.peer === sender) return null;
  return {
    kind: 'break',
    hop: 'wireguard peer (receive)',
    what: `the decrypted packet's source is not in the allowed-ips of ${peer.name}'s peer on ${dev}: WireGuard drops it`,
    evidence: [formatWireguardPeer(sender), `source ${src}`],
    fix: null,
    explainedBy: WIREGUARD_CHECKS,
  };
}

/**
 * A packet decrypted in tunnel mode is forwarded only if a fwd policy selects it and its template accepts the
 * SA it came through (__xfrm_policy_check; no policy at all drops it too, XfrmInNoPols).
 */
function fwdPolicyBreak(view: NodeView, peer: Lease, p: NfPacket, sa: XfrmState): Break | null {
  const policy = view.tables.tunnels().xfrmPolicyFor('fwd', p.src, p.dst);
  if (policy && policy.action === 'allow' && policy.templates.some((t) => templateAccepts(t, sa))) return null;
  return {
    kind: 'break',
    hop: 'xfrm policy fwd',
    what: policy
      ? `the xfrm policy fwd for ${p.src} -> ${p.dst} does not accept the SA ${sa.src} -> ${sa.dst} ${peer.name}'s packet came through`
      : `no xfrm policy fwd selects ${p.src} -> ${p.dst}: the kernel drops decrypted packets no policy admits`,
    evidence: [policy ? formatPolicy(policy) : `ip xfrm policy: no dir fwd policy selects ${p.src} -> ${p.dst}`],
    fix: null,
    explainedBy: IPSEC_POLICY_CHECKS,
  };
}

/**
 * Peers address the inner frame to the VtepMAC this node's lease publishes (their neighbour entries come from it):
 * a VXLAN device whose own MAC differs takes those frames as another host's and drops them.
 */
function macBreak(view: NodeView, dev: string, family: NfFamily): Break | null {
  const lease = family === 'inet' ? view.node.vxlan : view.node.vxlanV6;
  const mac = linkByName(view.host, dev)?.mac?.toLowerCase();
  if (!lease || !mac || mac === lease.vtepMAC) return null;
  return {
    kind: 'break',
    hop: 'decapsulate',
    what: `${dev} has MAC ${mac}, but peers send to the VtepMAC ${lease.vtepMAC} its lease publishes: the frames are not for it`,
    evidence: [`${dev}: link/ether ${mac}`, `VtepMAC ${lease.vtepMAC}`],
    fix: null,
    explainedBy: ['vtep-mac'],
    cause: `vtep mac ${dev} ${mac}`,
  };
}

/**
 * Reverse-path filtering on the device the packet arrived on: the kernel uses the larger of `all` and the
 * device's value; strict (1) drops a packet whose source is not routed back out of that device.
 */
function rpFilterBreak(view: NodeView, iif: string, src: string, family: NfFamily): Break | null {
  if (family !== 'inet') return null;
  const all = Number(sysctl(view, 'net.ipv4.conf.all.rp_filter') ?? 0);
  const dev = Number(sysctl(view, `net.ipv4.conf.${iif}.rp_filter`) ?? 0);
  const mode = Math.max(all, dev);
  if (mode !== 1 || !view.fib) return null;
  const back = lookup(view.fib, { dst: src });
  if (back.error === null && back.route?.dev === iif) return null;
  if (back.unmodelled.length > 0) return null;
  const key = dev === 1 ? `net.ipv4.conf.${iif}.rp_filter` : 'net.ipv4.conf.all.rp_filter';
  return {
    kind: 'break',
    hop: `rp_filter ${iif}`,
    what: `strict reverse-path filtering on ${iif} drops it: the route back to ${src} ${back.route?.dev ? `leaves by ${back.route.dev}` : 'does not exist'}`,
    evidence: [`${key} = 1`, `ip route get ${src}: ${back.error ?? `${back.route?.dst} dev ${back.route?.dev}`}`],
    fix: `On ${view.node.name}: sysctl -w net.ipv4.conf.${iif}.rp_filter=2${all === 1 ? ' net.ipv4.conf.all.rp_filter=2' : ''} (loose), or restore the route back to the source's podCIDR via ${iif}`,
    explainedBy: ['peer-routes', 'route-decision'],
    cause: `rp_filter ${iif} ${back.route?.dev ?? 'none'}`,
  };
}
