/**
 * The whole path of a pod packet between two nodes, split at the underlay into two halves so that each
 * needs one node's kernel state and the other node's lease only:
 * - egress, on the source node: the pod's bridge, PREROUTING, the routing decision, ip_forward, FORWARD,
 *   POSTROUTING, the backend's encapsulation (vxlan neighbour and fdb, flannel0, or the routed packet), then
 *   the outer packet's route, OUTPUT and POSTROUTING;
 * - ingress, on the destination node: PREROUTING and INPUT for the outer packet, the flannel device and its
 *   rp_filter, PREROUTING, the routing decision, ip_forward, FORWARD and POSTROUTING for the inner packet,
 *   cni0.
 * Each half ends in a result: passes, breaks at a hop (with the cause and the checks that already explain
 * that cause), rewritten (NAT of pod-to-pod traffic), or unknown (a rule the model cannot evaluate).
 * A node-to-pod packet (`node` class) starts in OUTPUT instead of at the bridge.
 */
import { hostAt, overlaps, type Prefix, usableEnds } from '../../net/cidr.js';
import type { Backend, HostState, RouteDecision } from '../../snapshot/types.js';
import { vxlanDeviceName } from '../expected/index.js';
import { type FibAnswer, type FibState, lookup } from '../fib/lookup.js';
import type { HostTables } from '../host-index.js';
import { type FlannelNode, type Lease, linkByName, ok } from '../model.js';
import type { Hook, HookVerdict, NfFamily, NfPacket, RuleRef } from '../netfilter/types.js';
import { uplinkOf } from '../uplink.js';
import type { NodeFilter } from './node-filter.js';

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
  const d = q.mark === 0 && q.answerFor ? view.decisions?.get(`${q.answerFor} ${q.as}`) : undefined;
  if (d) {
    if (d.error !== null)
      return routeBreak(`ip route get ${d.dst}${d.src ? ` from ${d.src} iif cni0` : ''}: ${d.error}`, d.error);
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

/**
 * The source node's half toward `peer`. null when the pair is not walked (no cni0 on a Canal node, a backend
 * the walk does not model, a family one side lacks).
 */
export function egress(view: NodeView, peer: Lease, cls: PacketClass, family: NfFamily): Break | 'passes' | null {
  const own = cidrOf(view.node, family);
  const theirs = cidrOf(peer, family);
  // Overlapping podCIDRs have no path to follow (podcidr-overlap's finding).
  if (!own || !theirs || overlaps(own, theirs)) return null;
  const b = view.backend;
  if (b.type !== 'vxlan' && b.type !== 'host-gw' && b.type !== 'udp') return null;
  const hasBridge = linkByName(view.host, 'cni0') !== undefined;
  if (cls === 'pod' && !hasBridge) return null;
  const dst = podAddress(theirs);
  const src = podAddress(own);
  if (!dst || !src) return null;
  const answerFor = firstUsable(theirs);
  let p: NfPacket = {
    family,
    src,
    dst,
    proto: PROTO,
    sport: POD_SPORT,
    dport: POD_DPORT,
    iif: cls === 'pod' ? 'cni0' : null,
    oif: null,
    mark: 0,
  };
  const start = p;
  const nat: RuleRef[] = [];
  if (cls === 'pod') {
    const down = cni0Break(view, 'cni0');
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
  const peerIP = publicIPOf(peer, family);
  const underlay: 'vxlan' | 'udp' | 'routed' | null =
    r.dev === vx
      ? 'vxlan'
      : r.dev === 'flannel0'
        ? 'udp'
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
  const down = deviceBreak(view, r.dev, 'route', DEVICE_CHECKS);
  if (down) return down;
  p = { ...p, oif: r.dev };
  if (cls === 'node') {
    p = { ...p, src: r.prefsrc ?? view.filter.env.primaryAddress(r.dev, family) ?? p.src };
    const out = pass(view, 'output', p, '', FIREWALL_CHECKS);
    if (isBreak(out)) return out;
    p = out.packet;
  } else {
    const f = pass(view, 'forward', p, '', FIREWALL_CHECKS);
    if (isBreak(f)) return f;
    p = f.packet;
  }
  const post = pass(view, 'postrouting', p, '', FIREWALL_CHECKS);
  if (isBreak(post)) return post;
  p = post.packet;
  nat.push(...post.nat);
  if (cls === 'pod' && changed(start, p)) return rewritten(view, start, p, nat);
  if (underlay === 'routed') return 'passes';
  return outer(view, peer, family, underlay, r);
}

const changed = (a: NfPacket, b: NfPacket): boolean => a.src !== b.src || a.dst !== b.dst || a.dport !== b.dport;

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
    dst = fdb.dst;
  }
  if (!dst || !src) return 'passes';
  const o = route(view, { dst, as: 'node', src: null, iif: null, mark: 0, answerFor: dst });
  if (isBreak(o)) return { ...o, hop: 'route (outer)' };
  let p: NfPacket = { family, src, dst, proto: 'udp', sport: null, dport: port, iif: null, oif: o.dev, mark: 0 };
  const out = pass(view, 'output', p, ' (outer)', ['overlay-port-blocked', 'underlay-probe']);
  if (isBreak(out)) return out;
  p = out.packet;
  const post = pass(view, 'postrouting', p, ' (outer)', ['overlay-port-blocked', 'underlay-probe']);
  if (isBreak(post)) return post;
  return 'passes';
}

/** How `peer` encapsulates toward this node: the routed packet (host-gw, DirectRouting on-link) or a tunnel. */
function arrival(view: NodeView, peer: Lease, family: NfFamily): 'vxlan' | 'udp' | 'routed' {
  const b = view.backend;
  if (b.type === 'host-gw') return 'routed';
  if (b.type === 'udp') return 'udp';
  // DirectRouting: the peer routes straight to this node when they share a subnet, which this node's own
  // route to the peer's podCIDR mirrors (flanneld decides both the same way).
  if (b.type === 'vxlan' && b.directRouting) {
    const theirs = cidrOf(peer, family);
    const first = theirs ? firstUsable(theirs) : undefined;
    const d = first ? view.decisions?.get(`${first} node`) : undefined;
    const vx = vxlanDevice(view, family);
    const routes = theirs ? view.tables.routesTo(theirs.text) : [];
    if (d ? d.dev !== vx : routes.some((x) => x.dev !== vx && x.gateway !== null)) return 'routed';
  }
  return 'vxlan';
}

/** The destination node's half: the packet from `peer` arriving here. */
export function ingress(view: NodeView, peer: Lease, cls: PacketClass, family: NfFamily): Break | 'passes' | null {
  const own = cidrOf(view.node, family);
  const theirs = cidrOf(peer, family);
  if (!own || !theirs || overlaps(own, theirs)) return null;
  const b = view.backend;
  if (b.type !== 'vxlan' && b.type !== 'host-gw' && b.type !== 'udp') return null;
  if (!linkByName(view.host, 'cni0')) return null;
  const dst = podAddress(own);
  const how = arrival(view, peer, family);
  const peerIP = publicIPOf(peer, family);
  const src = cls === 'pod' ? podAddress(theirs) : how === 'vxlan' ? theirs.network : peerIP;
  if (!dst || !src) return null;
  const uplink = uplinkOf(view.node, b)?.name ?? null;
  let iif: string | null = uplink;
  if (how !== 'routed') {
    const myIP = publicIPOf(view.node, family);
    if (!peerIP || !myIP) return null;
    const port =
      how === 'udp'
        ? b.type === 'udp'
          ? b.port
          : 8285
        : (linkByName(view.host, vxlanDevice(view, family) ?? '')?.vxlan?.port ?? (b.type === 'vxlan' ? b.port : 8472));
    let o: NfPacket = {
      family,
      src: peerIP,
      dst: myIP,
      proto: 'udp',
      sport: null,
      dport: port,
      iif: uplink,
      oif: null,
      mark: 0,
    };
    const pre = pass(view, 'prerouting', o, ' (outer)', ['overlay-port-blocked', 'underlay-probe']);
    if (isBreak(pre)) return pre;
    o = pre.packet;
    const input = pass(view, 'input', o, ' (outer)', ['overlay-port-blocked', 'underlay-probe', 'vxlan-port-mismatch']);
    if (isBreak(input)) return input;
    const dev = how === 'udp' ? 'flannel0' : vxlanDevice(view, family)!;
    const down = deviceBreak(view, dev, 'decapsulate', DEVICE_CHECKS);
    if (down) return down;
    if (how === 'vxlan') {
      const mac = macBreak(view, dev, family);
      if (mac) return mac;
    }
    iif = dev;
  }
  if (!iif) return null;
  const rp = rpFilterBreak(view, iif, src, family);
  if (rp) return rp;
  let p: NfPacket = { family, src, dst, proto: PROTO, sport: POD_SPORT, dport: POD_DPORT, iif, oif: null, mark: 0 };
  const start = p;
  const pre = pass(view, 'prerouting', p, '', FIREWALL_CHECKS);
  if (isBreak(pre)) return pre;
  p = pre.packet;
  const nat = [...pre.nat];
  // DNAT to another node's pod or off the node is a rewrite; the route below is for where the packet now goes.
  if (cls === 'pod' && changed(start, p)) return rewritten(view, start, p, nat);
  const fwd = forwardingBreak(view, family);
  if (fwd) return fwd;
  const r = route(view, { dst: p.dst, as: 'pod', src: p.src, iif, mark: p.mark });
  if (isBreak(r)) return r;
  if (r.dev !== 'cni0')
    return {
      kind: 'break',
      hop: 'route',
      what: `the packet for a local pod is routed ${r.gateway ? `via ${r.gateway} ` : ''}out of ${r.dev ?? 'nowhere'}, not to cni0`,
      evidence: [r.entry],
      fix: null,
      explainedBy: [...ROUTE_CHECKS, 'cni0-address'],
    };
  p = { ...p, oif: 'cni0' };
  const f = pass(view, 'forward', p, '', FIREWALL_CHECKS);
  if (isBreak(f)) return f;
  p = f.packet;
  const post = pass(view, 'postrouting', p, '', FIREWALL_CHECKS);
  if (isBreak(post)) return post;
  p = post.packet;
  nat.push(...post.nat);
  if (cls === 'pod' && changed(start, p)) return rewritten(view, start, p, nat);
  const down = cni0Break(view, 'cni0');
  if (down) return down;
  return 'passes';
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
