/**
 * `trace`: a packet's path from one address to another, replayed hop by hop on the collected
 * kernel tables (route lookup, VXLAN neighbour and fdb, WireGuard peer, xfrm policy and SA),
 * naming the entry that matched at each hop and stopping at the first hop that breaks.
 * Pure: it reads a snapshot, so it runs offline on a saved one.
 */

import { contains, parsePrefix, sameIP } from '../../net/cidr.js';
import type { HostState, Route, Snapshot } from '../../snapshot/types.js';
import { describeWinner } from '../fib/explain.js';
import { type FibAnswer, lookup } from '../fib/lookup.js';
import { fibStateOf } from '../fib/state.js';
import type { Finding } from '../finding.js';
import { formatFdb, formatNeighbour, formatPolicy, formatRoute, formatState } from '../format.js';
import { dumpsOf } from '../iptables.js';
import { buildModel, type FlannelNode, linkByName, ok, type SnapshotModel } from '../model.js';
import { fragmentsOuter, isFlannelV6Clamp, outerSize } from '../mtu-model.js';
import { ingressFix, ingressVerdict, uplinkIngressOf } from '../netfilter/ingress.js';
import type { Hook, NfPacket } from '../netfilter/types.js';
import { NodeFilter } from '../path/node-filter.js';
import { podEndOf } from '../pod-ends.js';
import { analyze } from '../run.js';
import { flanneldSilence } from '../udp-flanneld.js';
import { uplinkOf } from '../uplink.js';
import { lookupFdb, lookupNeighbour, lookupRoute } from './lookup.js';

export type EndpointKind = 'pod' | 'node' | 'outside';

export interface Endpoint {
  readonly ip: string;
  readonly kind: EndpointKind;
  /** The node that owns the address (its podCIDR or its own address). */
  readonly node: string | null;
}

export interface Hop {
  readonly node: string | null;
  readonly step: string;
  /** The kernel entry that matched, as iproute2 prints it. */
  readonly entry: string | null;
  readonly ok: boolean;
  readonly note: string;
}

export interface TraceResult {
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly hops: readonly Hop[];
  /** Index of the first broken hop, or null when the packet arrives. */
  readonly brokenAt: number | null;
  /** Nodes the packet crossed that are neither source nor destination (a detour through a wrong gateway). */
  readonly via: readonly string[];
  /** Set when the destination is outside the cluster and the packet leaves: the device, and the masquerade rule (null: none). */
  readonly egress: { readonly dev: string; readonly masquerade: string | null } | null;
  /**
   * The IP packet's size in bytes, sent with DF (as `trace --probe` sends its FLANNEL_MTU-sized probe): by default the
   * largest the source sends (a pod: its node's FLANNEL_MTU; a node: the MTU of the device its route picks). Null
   * when no MTU was collected, so no device's MTU was judged.
   */
  readonly size: number | null;
}

export interface TraceOptions {
  /** the packet's size in bytes (IP header included); default: the largest the source sends */
  readonly size?: number;
}

/** Where on the path a node stands: it sends the packet, forwards it for another node, or receives it. */
type Role = 'source' | 'transit' | 'destination';

/**
 * Doctor checks whose error findings on a node stop the packet there, and what they stop: forwarding (ip_forward,
 * the FORWARD chain) stops whatever the node forwards; a blocked overlay port, a broken overlay device or a VtepMAC
 * other than the published one stop only what arrives over the overlay (the node's own sends leave through its
 * device, whose state the route hop checks, and egress never touches the overlay).
 */
const NODE_BLOCKERS: Readonly<Record<string, 'forwarding' | 'arrival'>> = {
  'ip-forward': 'forwarding',
  'forward-drop': 'forwarding',
  'overlay-port-blocked': 'arrival',
  'flannel-device': 'arrival',
  'vtep-mac': 'arrival',
};

/**
 * Checks that judge packets the snapshot carries (doctor --probe's probes, a bundle's tcpdump samples): what they
 * report lost between two nodes, or on arrival below the tables, no table shows. A finding whose message starts
 * "the underlay drops" is about what its node sends its peer; the others about what its node receives from its peer.
 */
const UNDERLAY_EVIDENCE = ['underlay-probe', 'underlay-samples'];
const BETWEEN = /^the underlay drops /;

export function resolveEndpoint(model: SnapshotModel, ip: string): Endpoint {
  for (const n of model.nodes) {
    if ([n.podCIDR, n.podCIDRv6].some((c) => c && contains(c, ip))) return { ip, kind: 'pod', node: n.name };
  }
  for (const n of model.nodes) {
    if ([...n.kube.internalIPs, n.publicIP, n.publicIPv6].some((a) => sameIP(a, ip)))
      return { ip, kind: 'node', node: n.name };
  }
  return { ip, kind: 'outside', node: null };
}

const holds = (n: FlannelNode, ip: string) =>
  ok(n.host?.links)?.some((l) => l.addresses.some((a) => sameIP(a.local, ip))) === true;

/**
 * The node holding an underlay address: the one whose collected links carry it (the kernel's truth), else the one
 * whose public-ip or InternalIP names it (a node whose links were not collected).
 */
function nodeByAddress(model: SnapshotModel, ip: string): FlannelNode | null {
  return (
    model.nodes.find((n) => holds(n, ip)) ??
    // a collected node that does not hold the address its lease names does not receive what is sent there
    model.nodes.find(
      (n) => !ok(n.host?.links) && [...n.kube.internalIPs, n.publicIP, n.publicIPv6].some((a) => sameIP(a, ip)),
    ) ??
    null
  );
}

/** Who receives a packet the sender addresses to `ip`: the sender itself when the address is its own (the kernel delivers it locally). */
function receiverOf(model: SnapshotModel, sender: FlannelNode, ip: string): FlannelNode | null {
  return holds(sender, ip) ? sender : nodeByAddress(model, ip);
}

export function trace(snapshot: Snapshot, srcIP: string, dstIP: string, opts: TraceOptions = {}): TraceResult {
  const model = buildModel(snapshot);
  const stoppers = analyze(snapshot, { only: [...Object.keys(NODE_BLOCKERS), ...UNDERLAY_EVIDENCE] }).findings.filter(
    (f) => f.severity === 'error',
  );
  const src = resolveEndpoint(model, srcIP);
  const dst = resolveEndpoint(model, dstIP);
  const hops: Hop[] = [];
  const walk = new Walk(model, stoppers, hops, src, dst, opts.size ?? null);
  walk.run(src);
  const brokenAt = hops.findIndex((h) => !h.ok);
  return {
    src,
    dst,
    hops,
    brokenAt: brokenAt < 0 ? null : brokenAt,
    via: walk.via,
    egress: walk.egress,
    size: walk.sent,
  };
}

/** Whether a device can carry the packet: administratively up and, where the kernel knows, with carrier. */
function deviceState(host: HostState, dev: string | null): { up: boolean; text: string } | null {
  if (!dev) return null;
  const l = linkByName(host, dev);
  if (!l) return { up: false, text: `${dev} does not exist` };
  // Administratively down is certain; carrier is not judged here (a TUN's carrier is its owner process, which
  // a snapshot cannot see), only shown.
  const up = l.flags.includes('UP') || l.detailsMissing === true;
  return { up, text: `${dev} ${up ? 'up' : 'DOWN'} (state ${l.operstate}, mtu ${l.mtu})` };
}

/** FLANNEL_MTU, the pod network's MTU; without subnet.env, cni0's MTU stands for it (CNI set both from there). */
function podNetworkMtu(host: HostState): number | null {
  return ok(host.subnetEnv)?.mtu ?? linkByName(host, 'cni0')?.mtu ?? null;
}

class Walk {
  readonly via: string[] = [];
  egress: TraceResult['egress'] = null;
  /**
   * The source address the packet carries: the pod's, or for a node's own packet the one its kernel picks for the
   * route (the route's prefsrc, else the device's first global address: flannel.1's on vxlan), as ping or any
   * unbound socket on the node sends. Set at the source node's route lookup.
   */
  private srcIP: string;
  constructor(
    private readonly model: SnapshotModel,
    /** doctor's error findings of NODE_BLOCKERS and UNDERLAY_EVIDENCE: what stops the packet outside the tables trace replays */
    private readonly stoppers: readonly Finding[],
    private readonly hops: Hop[],
    private readonly src: Endpoint,
    private readonly dst: Endpoint,
    /** the size the user asked for; null: the largest the source sends */
    private readonly asked: number | null,
  ) {
    this.size = asked;
    this.sent = asked;
    this.srcIP = src.ip;
  }

  /** The packet's size as it travels (a Packet Too Big the design answers lowers it); null: sizes are not judged. */
  private size: number | null;
  /** The size the source sends. */
  sent: number | null;

  /**
   * A node's own packet is as large as the device its route picks allows (the kernel's PMTU for the route); toward a
   * pod, no larger than FLANNEL_MTU, the pod network's MTU (a DirectRouting route leaves by the uplink, but the
   * destination's cni0 carries FLANNEL_MTU by design).
   */
  private sizeFrom(host: HostState, dev: string | null): void {
    if (this.asked !== null || this.sent !== null || this.src.kind !== 'node' || !dev) return;
    const mtu = linkByName(host, dev)?.mtu;
    const F = this.dst.kind === 'pod' ? podNetworkMtu(host) : null;
    if (mtu !== undefined) this.size = this.sent = F !== null ? Math.min(mtu, F) : mtu;
  }

  /**
   * The packet must fit the device the route sends it out of: with DF, a larger one dies there (the kernel answers
   * ICMP "fragmentation needed"). flannel-v6.1's designed 20-byte clamp is answered by a Packet Too Big the pod
   * resends after: shown, and the packet travels on at the device's MTU.
   */
  private fits(node: FlannelNode, host: HostState, dev: string, step: string, entry: string): boolean {
    const l = linkByName(host, dev);
    if (this.size === null || !l || this.size <= l.mtu) return true;
    const F = podNetworkMtu(host);
    if (F !== null && this.size <= F && isFlannelV6Clamp(this.model.backend, dev, l.mtu, F)) {
      const note = `a ${this.size}-byte packet is above ${dev} (mtu ${l.mtu}): the kernel answers ICMPv6 Packet Too Big and the source resends at ${l.mtu} bytes (flannel's IPv6 VXLAN design)`;
      this.size = l.mtu;
      return this.hop(node.name, 'mtu', `${dev} mtu ${l.mtu}`, true, note);
    }
    return this.hop(
      node.name,
      step,
      `${entry} (${dev} mtu ${l.mtu})`,
      false,
      `a ${this.size}-byte packet does not fit ${dev} (mtu ${l.mtu}) on ${node.name}: packets of ${l.mtu + 1}-${this.size} bytes die`,
    );
  }

  /**
   * The uplinks at both ends must carry the packet between two nodes: `encap`, inside the backend's outer header.
   * The sender fragments an outer packet its uplink cannot carry where the backend's outer header has no DF; the
   * receiver's uplink drops any frame above its MTU. What dies there is every packet whose outer size is above it:
   * one the sender fragments arrives as fragments of the sender's uplink MTU, one it does not arrives whole.
   */
  private uplinksCarry(from: FlannelNode, to: FlannelNode, encap: boolean, outerV6: boolean): boolean {
    return this.uplinksFit(from, to, encap, outerV6) && this.ingressPasses(from, to, encap, outerV6);
  }

  /**
   * The receiver's nftables ingress hook on its uplink sees the frame before the IP stack: a drop there stops what
   * every table after it would pass. The packet it sees is the backend's outer one, or the routed ICMP echo itself.
   */
  private ingressPasses(from: FlannelNode, to: FlannelNode, encap: boolean, outerV6: boolean): boolean {
    const dev = uplinkOf(to, this.model.backend)?.name ?? null;
    const chains = uplinkIngressOf(this.host(to.name)?.host, dev);
    if (!dev || chains.length === 0) return true;
    const b = this.model.backend;
    const family = (encap ? outerV6 : this.dst.ip.includes(':')) ? 'inet6' : 'inet';
    const outerSrc = outerV6 ? from.publicIPv6 : from.publicIP;
    const outerDst = outerV6 ? to.publicIPv6 : to.publicIP;
    // wireguard's and ipsec's outer packets are not modelled here: no verdict rather than a guess
    const outer =
      b?.type === 'vxlan' || b?.type === 'udp'
        ? { proto: 'udp', sport: null, dport: b.port }
        : b?.type === 'ipip'
          ? { proto: 'ipencap', sport: null, dport: null }
          : null;
    if (encap && (!outer || !outerSrc || !outerDst)) return true;
    const p: NfPacket = encap
      ? { family, src: outerSrc!, dst: outerDst!, ...outer!, iif: dev, oif: null, mark: 0 }
      : {
          family,
          src: this.srcIP,
          dst: this.dst.ip,
          proto: 'icmp',
          sport: null,
          dport: null,
          iif: dev,
          oif: null,
          mark: 0,
        };
    const v = ingressVerdict(chains, dev, p);
    if (v === 'pass') return true;
    if (v === 'unknown')
      return this.hop(
        to.name,
        'ingress',
        null,
        true,
        `an nft ingress rule on ${dev} the model cannot evaluate decides`,
      );
    return this.hop(
      to.name,
      'ingress',
      `nft ${v.family} table ${v.table} chain ${v.chain} (hook ingress device ${dev}): ${v.text}`,
      false,
      `the ${encap ? 'encapsulated ' : ''}packet from ${from.name} is dropped on arrival at ${dev}, before the IP stack: ${ingressFix(to.name, dev, v)}`,
    );
  }

  private uplinksFit(from: FlannelNode, to: FlannelNode, encap: boolean, outerV6: boolean): boolean {
    if (this.size === null) return true;
    const b = this.model.backend;
    const inner = this.size;
    const outer = encap ? outerSize(b, inner, outerV6) : inner;
    const added = encap && b ? ` (${inner} + the ${b.type} overhead ${outer - inner})` : '';
    const out = uplinkOf(from, b);
    let wire = outer;
    if (out && outer > out.mtu) {
      // The VXLAN device lowers the route's path MTU to what the uplink carries as it sends the first packet in
      // fragments; the node's own later DF packets then fail ("message too long"), while forwarded pod packets
      // keep the device's MTU (ip_forward_use_pmtu 0) and keep leaving in fragments. Measured in the lab.
      if (encap && b?.type === 'vxlan' && this.src.kind === 'node')
        return this.hop(
          from.name,
          'uplink',
          `${out.name} mtu ${out.mtu}`,
          false,
          `a ${outer}-byte packet${added} is above ${out.name} (mtu ${out.mtu}) on ${from.name}: the VXLAN device lowers the path MTU to ${out.mtu - (outer - inner)}, so the node's own packets of ${inner - (outer - out.mtu) + 1}-${inner} bytes with DF die after the first`,
        );
      if (!encap || !fragmentsOuter(b))
        return this.hop(
          from.name,
          'uplink',
          `${out.name} mtu ${out.mtu}`,
          false,
          `a ${outer}-byte packet${added} does not fit ${out.name} (mtu ${out.mtu}) on ${from.name}: packets of ${inner - (outer - out.mtu) + 1}-${inner} bytes die`,
        );
      this.hop(
        from.name,
        'uplink',
        `${out.name} mtu ${out.mtu}`,
        true,
        `the ${outer}-byte packet${added} is above ${out.name} (mtu ${out.mtu}): the kernel sends it in fragments`,
      );
      wire = out.mtu;
    }
    const inn = uplinkOf(to, b);
    if (!inn || wire <= inn.mtu) return true;
    return this.hop(
      to.name,
      'uplink',
      `${inn.name} mtu ${inn.mtu}`,
      false,
      `a ${wire}-byte packet${wire === outer ? added : ' (a fragment)'} from ${from.name} does not fit ${inn.name} (mtu ${inn.mtu}) on ${to.name}: it is dropped on arrival, so packets of ${inner - (outer - inn.mtu) + 1}-${inner} bytes die`,
    );
  }

  readonly #filters = new Map<string, NodeFilter>();

  /** The node's compiled rules and addresses, built once per node of the trace. */
  private filterOf(node: FlannelNode, host: HostState): NodeFilter {
    let filter = this.#filters.get(node.name);
    if (!filter) this.#filters.set(node.name, (filter = new NodeFilter(host)));
    return filter;
  }

  /**
   * netfilter on this node for the traced packet (an ICMP echo, as ping sends): PREROUTING, FORWARD and POSTROUTING
   * when forwarded, OUTPUT and POSTROUTING when the node sends it. A drop breaks here; a rule the model cannot
   * evaluate is shown, never a break.
   */
  private netfilter(node: FlannelNode, host: HostState, iif: string | null, oif: string | null): boolean {
    if (!ok(host.firewall)) return true;
    const filter = this.filterOf(node, host);
    const family = this.dst.ip.includes(':') ? 'inet6' : 'inet';
    let p: NfPacket = {
      family,
      src: this.srcIP,
      dst: this.dst.ip,
      proto: family === 'inet' ? 'icmp' : 'ipv6-icmp',
      sport: null,
      dport: null,
      iif,
      oif: null,
      mark: 0,
    };
    const hooks: Hook[] = iif ? ['prerouting', 'forward', 'postrouting'] : ['output', 'postrouting'];
    const seen: string[] = [];
    for (const h of hooks) {
      if (h !== 'prerouting') p = { ...p, oif };
      const v = filter.verdict(family, h, p);
      if (v.kind === 'drop')
        return this.hop(
          node.name,
          'netfilter',
          `${v.by.writer} ${v.by.table} ${v.by.chain}: ${v.by.rule}`,
          false,
          `dropped in ${h.toUpperCase()}`,
        );
      if (v.kind === 'unknown') {
        seen.push(`${h.toUpperCase()} unknown: ${v.rule}`);
        break;
      }
      // A DNAT that sends pod-to-pod traffic elsewhere is where the traced packet stops reaching its pod.
      const dnat = v.nat.find((n) => n.nat.kind === 'dnat' || n.nat.kind === 'redirect');
      if (dnat && v.packet.dst !== p.dst && this.dst.kind !== 'outside')
        return this.hop(
          node.name,
          'netfilter',
          `${dnat.by.writer} ${dnat.by.table} ${dnat.by.chain}: ${dnat.by.rule}`,
          false,
          `rewritten in ${h.toUpperCase()}: the destination becomes ${v.packet.dst}, so the packet no longer goes to ${this.dst.ip}`,
        );
      p = v.packet;
      seen.push(`${h.toUpperCase()} accept${v.nat.length ? ` (NAT: ${v.nat.map((n) => n.by.rule).join('; ')})` : ''}`);
    }
    return this.hop(
      node.name,
      'netfilter',
      seen.join(', '),
      true,
      'every table on the hooks the packet crosses lets it pass',
    );
  }

  private hop(node: string | null, step: string, entry: string | null, ok: boolean, note: string): boolean {
    this.hops.push({ node, step, entry, ok, note });
    return ok;
  }

  /** The node's collected kernel state; null when its routes were not collected (nothing on it can be replayed). */
  private host(name: string | null): { node: FlannelNode; host: HostState } | null {
    const node = name ? this.model.byName.get(name) : undefined;
    return node?.host && ok(node.host.routes) ? { node, host: node.host } : null;
  }

  /** The receiving node's state, or the hop that says the analysis stops there because it was not collected. */
  private received(name: string): { node: FlannelNode; host: HostState } | null {
    const to = this.host(name);
    if (!to) this.hop(name, 'receive', null, false, `node ${name}'s kernel state was not collected`);
    return to;
  }

  /** The packet evidence, if any, that what `from` sends `to` over the underlay is lost: the hop that says so. */
  private underlayCarries(from: FlannelNode, to: FlannelNode): boolean {
    const lost = this.stoppers.find(
      (f) =>
        UNDERLAY_EVIDENCE.includes(f.check) &&
        (BETWEEN.test(f.message)
          ? f.node === from.name && f.peer === to.name
          : f.node === to.name && f.peer === from.name),
    );
    return !lost || this.hop(lost.node, 'underlay', lost.evidence[0] ?? null, false, `${lost.message} [${lost.check}]`);
  }

  /** Doctor's error findings that stop the packet on this node in this role. */
  private nodeHealthy(node: FlannelNode, role: Role): boolean {
    // a node's own packet, or one addressed to the node, is not forwarded there: only a pod's crosses FORWARD
    const forwarded = role === 'transit' || (role === 'source' ? this.src.kind === 'pod' : this.dst.kind !== 'node');
    // a node's packet to another node's address crosses the underlay only, never the overlay
    const overlay = !(this.src.kind === 'node' && this.dst.kind === 'node');
    const stops = (check: string) =>
      NODE_BLOCKERS[check] === 'forwarding'
        ? forwarded
        : NODE_BLOCKERS[check] === 'arrival' && role === 'destination' && overlay;
    const found = this.stoppers.filter((f) => f.node === node.name && stops(f.check));
    if (found.length === 0) return true;
    return this.hop(
      node.name,
      `${role} node health`,
      found[0]!.evidence[0] ?? null,
      false,
      found.map((f) => `${f.message} [${f.check}]`).join('; '),
    );
  }

  run(src: Endpoint): void {
    if (!src.node)
      return void this.hop(null, 'source', null, false, `${src.ip} is in no node's podCIDR and is no node's address`);
    if (!this.dst.node && this.dst.kind !== 'outside')
      return void this.hop(null, 'destination', null, false, `${this.dst.ip} belongs to no node`);
    const a = this.host(src.node);
    if (!a) return void this.hop(src.node, 'source', null, false, `node ${src.node}'s kernel state was not collected`);
    // Canal: Calico's CNI plugin gives each pod a cali* veth and a /32 route, no bridge; the pod's gateway
    // 169.254.1.1 is answered by proxy ARP on the veth.
    const cali = src.kind === 'pod' ? lookupRoute(a.host, src.ip) : null;
    if (src.kind === 'pod' && cali?.dev?.startsWith('cali') && !linkByName(a.host, 'cni0')) {
      if (
        !this.hop(
          src.node,
          'pod -> cali veth',
          formatRoute(cali),
          true,
          'the pod sends to 169.254.1.1, answered by proxy ARP on its Calico veth',
        )
      )
        return;
    } else if (src.kind === 'pod') {
      const cni0 = linkByName(a.host, 'cni0');
      const gw = cni0?.addresses.find(
        (x) => src.node && [a.node.podCIDR, a.node.podCIDRv6].some((c) => c && contains(c, x.local)),
      );
      if (
        !this.hop(
          src.node,
          'pod -> cni0',
          cni0 ? `cni0 ${gw ? `${gw.local}/${gw.prefixlen}` : '(no gateway address)'}` : null,
          !!cni0 && !!gw,
          cni0
            ? gw
              ? 'the pod sends to its gateway on the bridge'
              : "cni0 has no address in the node's podCIDR"
            : 'cni0 does not exist on the node',
        )
      )
        return;
    }
    if (src.kind === 'pod' && !this.podSends(a.node, a.host)) return;
    if (!this.nodeHealthy(a.node, 'source')) return;
    this.forward(a.node, a.host, 0, src.kind === 'pod' ? 'cni0' : null);
  }

  /**
   * The largest packet the pod sends is its eth0's MTU: FLANNEL_MTU, which CNI gave it, where the pod's namespace was
   * not read. Its host veth drops a larger frame on the way in (no ICMP).
   */
  private podSends(node: FlannelNode, host: HostState): boolean {
    const end = podEndOf(host, this.src.ip);
    const eth0 = end?.pod.mtu ?? podNetworkMtu(host);
    if (this.sent === null) this.size = this.sent = eth0;
    else if (eth0 !== null && this.sent > eth0)
      return this.hop(
        node.name,
        'pod -> cni0',
        end ? `${end.pod.netns}: ${end.pod.name} mtu ${eth0}` : `FLANNEL_MTU=${eth0}`,
        false,
        `a ${this.sent}-byte packet does not fit the pod's eth0 (mtu ${eth0}): the pod cannot send it with DF`,
      );
    if (!end || this.size === null || this.size <= end.veth.mtu) return true;
    return this.hop(
      node.name,
      'pod -> cni0',
      `${end.pod.netns}: ${end.pod.name} mtu ${end.pod.mtu}; ${end.veth.name} mtu ${end.veth.mtu}`,
      false,
      `a ${this.size}-byte packet does not fit the pod's host veth ${end.veth.name} (mtu ${end.veth.mtu}) on ${node.name}: packets of ${end.veth.mtu + 1}-${this.size} bytes from the pod die there`,
    );
  }

  /** The destination pod's own eth0 drops a frame above its MTU as its veth hands it over (no ICMP). */
  private podTakes(node: FlannelNode, host: HostState): boolean {
    const end = podEndOf(host, this.dst.ip);
    if (!end || this.size === null || this.size <= end.pod.mtu) return true;
    return this.hop(
      node.name,
      'cni0 -> pod',
      `${end.pod.netns}: ${end.pod.name} mtu ${end.pod.mtu}`,
      false,
      `a ${this.size}-byte packet does not fit the pod's eth0 (mtu ${end.pod.mtu}) behind ${end.veth.name} on ${node.name}: packets of ${end.pod.mtu + 1}-${this.size} bytes die there`,
    );
  }

  /** The kernel's lookup on `host` (the FIB model over `ip rule` and every table), or main only when rules were not collected. */
  private lookup(host: HostState, iif: string | null): { route: Route | null; answer: FibAnswer | null } {
    const fib = fibStateOf(host);
    if (!fib) return { route: lookupRoute(host, this.dst.ip), answer: null };
    const answer = lookup(fib, {
      dst: this.dst.ip,
      ...(iif ? { iif, src: this.src.ip } : {}),
    });
    return { route: answer.error === null ? answer.route : null, answer };
  }

  /** Why the node cannot send its own packet to an underlay address (`ip route get` as the node), or null when it can. */
  private outerRoute(host: HostState, ip: string): string | null {
    const fib = fibStateOf(host);
    if (!fib) return lookupRoute(host, ip) ? null : `ip route get ${ip}: no route in main`;
    const a = lookup(fib, { dst: ip });
    return a.error === null ? null : `ip route get ${ip}: ${a.error} (${describeWinner(a)})`;
  }

  /** A hop's device must be up: a down device is where the packet stops. */
  private deviceUp(node: FlannelNode, host: HostState, dev: string | null, step: string): boolean {
    const st = deviceState(host, dev);
    if (!st || st.up) return true;
    return this.hop(node.name, step, st.text, false, `${dev} is down: the packet is dropped here`);
  }

  /**
   * The destination pod's port on cni0 (its MAC from the neighbour entry, the port from the bridge's fdb): a port
   * out of the forwarding state passes no frame, nor one above its MTU.
   */
  private bridgePort(node: FlannelNode, host: HostState): boolean {
    const mac = lookupNeighbour(host, 'cni0', this.dst.ip)?.lladdr?.toLowerCase();
    const fdb = mac
      ? (ok(host.fdb) ?? []).find(
          (f) => f.master === 'cni0' && f.mac.toLowerCase() === mac && !f.flags.includes('self'),
        )
      : undefined;
    const veths = (ok(host.links) ?? []).filter((l) => l.master === 'cni0').map((l) => ({ dev: l.name }));
    if (!this.portFits(node, host, veths, fdb?.dev ?? null, !mac)) return false;
    if (!this.podTakes(node, host)) return false;
    const ports = host.bridgePorts?.status === 'ok' ? host.bridgePorts.data : null;
    if (!ports) return true;
    const onCni0 = ports.filter((x) => x.master === 'cni0');
    const blocked = (x: (typeof ports)[number]) => x.state !== 'forwarding' && x.state !== '';
    // Without the pod's MAC its port is unknown; only when every port on cni0 is blocked is the answer certain.
    const port = fdb
      ? onCni0.find((x) => x.dev === fdb.dev)
      : !mac && onCni0.length > 0 && onCni0.every(blocked)
        ? onCni0[0]
        : undefined;
    if (!port || !blocked(port)) return true;
    return this.hop(
      node.name,
      'cni0 -> pod',
      `bridge link show dev ${port.dev}: master cni0 state ${port.state}`,
      false,
      `the pod's port ${port.dev} on cni0 is ${port.state}: no frame reaches the pod`,
    );
  }

  /**
   * The bridge drops a frame above the egress port's MTU (no ICMP): the pod's host-side veth must take the packet
   * cni0 did. The pod's port is the fdb's; without the pod's MAC, only a size every port is below is certain.
   */
  private portFits(
    node: FlannelNode,
    host: HostState,
    ports: readonly { readonly dev: string }[],
    known: string | null,
    macUnknown: boolean,
  ): boolean {
    const size = this.size;
    if (size === null) return true;
    const mtuOf = (dev: string) => linkByName(host, dev)?.mtu;
    const narrow = (dev: string) => (mtuOf(dev) ?? size) < size;
    const dev = known ?? (macUnknown && ports.length > 0 && ports.every((x) => narrow(x.dev)) ? ports[0]!.dev : null);
    if (!dev || !narrow(dev)) return true;
    const mtu = mtuOf(dev)!;
    return this.hop(
      node.name,
      'cni0 -> pod',
      `${dev} mtu ${mtu} master cni0`,
      false,
      `a ${size}-byte packet does not fit the pod's veth ${dev} (mtu ${mtu}) on ${node.name}: packets of ${mtu + 1}-${size} bytes die there`,
    );
  }

  /** The node's own packet takes the source its kernel picks for the route; shown when it is not the address asked. */
  private chooseSource(node: FlannelNode, host: HostState, route: Route, dev: string): void {
    const family = this.dst.ip.includes(':') ? 'inet6' : 'inet';
    const chosen = route.prefsrc ?? this.filterOf(node, host).env.primaryAddress(dev, family);
    if (!chosen || sameIP(chosen, this.srcIP)) return;
    this.hop(
      node.name,
      'source address',
      route.prefsrc ? formatRoute(route) : `${dev}: inet${family === 'inet6' ? '6' : ''} ${chosen}`,
      true,
      `the node's own packet leaves from ${chosen}, the address its kernel picks for this route${route.prefsrc ? '' : ` (${dev}'s)`}, not ${this.srcIP}`,
    );
    this.srcIP = chosen;
  }

  /** Route lookup on `node` toward the destination, then on into the overlay or to the local bridge. */
  private forward(node: FlannelNode, host: HostState, depth: number, iif: string | null = null): void {
    if (depth > 3) return void this.hop(node.name, 'loop', null, false, 'the path revisits nodes: a routing loop');
    const { route, answer } = this.lookup(host, iif);
    if (answer && answer.error !== null && answer.type !== 'none')
      return void this.hop(
        node.name,
        'route lookup',
        `ip route get ${this.dst.ip}${iif ? ` from ${this.src.ip} iif ${iif}` : ''}: ${answer.error}`,
        false,
        `the packet is dropped (${answer.type}): ${describeWinner(answer)}`,
      );
    const decided =
      answer?.rule && !/^(0|32766|32767)$/.test(String(answer.rule.priority))
        ? ` (rule ${answer.rule.priority}: ${answer.rule.text})`
        : '';
    if (this.dst.node === node.name) {
      const local =
        route !== null && (route.dev === 'cni0' || route.dev?.startsWith('cali') === true || this.dst.kind === 'node');
      if (local && route?.dev && !this.deviceUp(node, host, route.dev, 'route lookup')) return;
      if (
        local &&
        route?.dev &&
        this.dst.kind === 'pod' &&
        !this.fits(node, host, route.dev, 'route lookup', formatRoute(route))
      )
        return;
      if (local && route?.dev && this.dst.kind === 'pod' && !this.netfilter(node, host, iif, route.dev)) return;
      if (local && route?.dev === 'cni0' && this.dst.kind === 'pod' && !this.bridgePort(node, host)) return;
      this.hop(
        node.name,
        'route lookup',
        route ? formatRoute(route) : `ip route get ${this.dst.ip}: unreachable`,
        local,
        local
          ? 'delivered locally'
          : `the destination is on this node, but the route sends it to ${route?.dev ?? route?.gateway ?? 'nowhere'}`,
      );
      return;
    }
    // IPsec selects traffic by xfrm policy, not by route: flannel installs no routes for it. The kernel still needs
    // a route first (the default route on real nodes): without one the packet is dropped before any policy lookup.
    const policy = this.outPolicy(host);
    if (policy && route) return this.ipsec(node, host, policy);
    if (policy)
      return void this.hop(
        node.name,
        'route lookup',
        `ip route get ${this.dst.ip}: unreachable`,
        false,
        'no route matches the destination: the kernel drops the packet before it looks up the xfrm policy (flannel installs no route for ipsec; the default route carries it)',
      );
    if (!route)
      return void this.hop(
        node.name,
        'route lookup',
        `ip route get ${this.dst.ip}: unreachable`,
        false,
        'no route matches the destination',
      );
    const entry = `${formatRoute(route)}${decided}`;
    const dev = route.dev ?? '';
    if (this.src.kind === 'node' && iif === null && node.name === this.src.node)
      this.chooseSource(node, host, route, dev);
    if (dev && !this.deviceUp(node, host, dev, 'route lookup')) return;
    this.sizeFrom(host, dev);
    if (dev && !this.fits(node, host, dev, 'route lookup', entry)) return;
    if (dev && !this.netfilter(node, host, iif, dev)) return;
    if (/^flannel(-v6)?\.\d+$/.test(dev)) return this.vxlan(node, host, entry, dev, route.gateway, depth);
    if (dev === 'flannel-wg' || dev === 'flannel-wg-v6') return this.wireguard(node, host, entry, dev, depth);
    if (dev === 'flannel0') {
      this.hop(
        node.name,
        'route lookup',
        entry,
        true,
        'udp backend: flanneld carries the packet in user space to the node owning the subnet',
      );
      if (!this.flanneldMoves(node, host)) return;
      const owner = this.dst.node ? this.model.byName.get(this.dst.node) : undefined;
      if (
        owner &&
        owner !== node &&
        !(
          this.udpReachesOwner(node, owner) &&
          this.underlayCarries(node, owner) &&
          this.uplinksCarry(node, owner, true, false)
        )
      )
        return;
      const to = this.dst.node ? this.received(this.dst.node) : null;
      if (!to || !this.flanneldMoves(to.node, to.host)) return;
      // flanneld writes the packet into the destination's flannel0: it enters that node's stack there.
      this.arrive(to.node, to.host, depth, 'flannel0');
      return;
    }
    const onLink = !route.gateway && this.dst.kind === 'node' ? nodeByAddress(this.model, this.dst.ip) : null;
    if (onLink && onLink !== node) {
      // A node's own packet to another node's address on the underlay: delivered there directly.
      this.hop(node.name, 'route lookup', entry, true, `on-link: ${this.dst.ip} is node ${onLink.name}`);
      if (!this.uplinksCarry(node, onLink, false, false)) return;
      const to = this.received(onLink.name);
      if (to) this.arrive(to.node, to.host, depth, uplinkOf(to.node, this.model.backend)?.name ?? null);
      return;
    }
    if (route.gateway || this.dst.kind === 'outside') {
      const next = route.gateway ? nodeByAddress(this.model, route.gateway) : null;
      if (!next) {
        if (this.dst.kind === 'outside') return this.leave(node, host, entry, dev);
        return void this.hop(
          node.name,
          'route lookup',
          entry,
          false,
          `next hop ${route.gateway} is not a node: the packet leaves the cluster network`,
        );
      }
      this.hop(node.name, 'route lookup', entry, true, `next hop ${route.gateway} is node ${next.name}`);
      if (!this.underlayCarries(node, next)) return;
      // ipip's tunnel device adds its header; a route out of the uplink itself (host-gw, DirectRouting) adds none
      const tunnelled = dev !== '' && dev !== uplinkOf(node, this.model.backend)?.name;
      if (!this.uplinksCarry(node, next, tunnelled, dev.includes('v6'))) return;
      const to = this.received(next.name);
      if (!to) return;
      if (next.name !== this.dst.node) {
        // A wrong but forwarding gateway: the packet may still arrive, through a third node.
        this.via.push(next.name);
        if (!this.nodeHealthy(next, 'transit')) return;
        return this.forward(next, to.host, depth + 1, uplinkOf(next, this.model.backend)?.name ?? null);
      }
      return this.arrive(to.node, to.host, depth, uplinkOf(to.node, this.model.backend)?.name ?? null);
    }
    this.hop(
      node.name,
      'route lookup',
      entry,
      false,
      `the route sends the packet out of ${dev || 'an unknown device'}, not into the overlay`,
    );
  }

  private vxlan(
    node: FlannelNode,
    host: HostState,
    entry: string,
    dev: string,
    gateway: string | null,
    depth: number,
  ): void {
    this.hop(node.name, 'route lookup', entry, true, `into the VXLAN device ${dev}`);
    if (!gateway)
      return void this.hop(
        node.name,
        'neighbour',
        null,
        false,
        `the route through ${dev} has no gateway, so no VtepMAC can be found`,
      );
    const neigh = lookupNeighbour(host, dev, gateway);
    if (
      !this.hop(
        node.name,
        'neighbour',
        neigh ? formatNeighbour(neigh) : `ip neigh show ${gateway} dev ${dev}: (nothing)`,
        !!neigh?.lladdr,
        neigh?.lladdr
          ? `next hop ${gateway} has MAC ${neigh.lladdr}`
          : `no neighbour for ${gateway}: ${dev} does not learn, so the packet is dropped`,
      )
    )
      return;
    const fdb = lookupFdb(host, dev, neigh!.lladdr!);
    if (
      !this.hop(
        node.name,
        'fdb',
        fdb ? formatFdb(fdb) : `bridge fdb show dev ${dev} | grep ${neigh!.lladdr}: (nothing)`,
        !!fdb,
        fdb
          ? `VXLAN packets for ${neigh!.lladdr} go to ${fdb.dst}`
          : `no fdb entry for ${neigh!.lladdr}: the kernel does not know where to send the encapsulated packet`,
      )
    )
      return;
    const underlay = `${node.publicIP ?? '?'} -> ${fdb!.dst} udp ${linkByName(host, dev)?.vxlan?.port ?? '?'}`;
    // The encapsulated packet is the node's own: it is routed like any, and an fdb dst with no route dies here.
    const outer = this.outerRoute(host, fdb!.dst!);
    if (outer)
      return void this.hop(
        node.name,
        'underlay',
        `${underlay}: ${outer}`,
        false,
        `the encapsulated packet is dropped on ${node.name}`,
      );
    const next = receiverOf(this.model, node, fdb!.dst!);
    if (next && next !== node && !this.underlayCarries(node, next)) return;
    if (
      !this.hop(
        // an address no node holds: the packet dies as it leaves the sender
        next?.name ?? node.name,
        'underlay',
        underlay,
        next !== null,
        next ? `the encapsulated packet travels to ${next.name}` : `${fdb!.dst} is no node's address`,
      )
    )
      return;
    if (next !== node && !this.uplinksCarry(node, next!, true, dev.includes('-v6'))) return;
    const to = this.received(next!.name);
    if (!to) return;
    const local = linkByName(host, dev);
    const remote = linkByName(to.host, dev);
    const macOk = remote?.mac?.toLowerCase() === neigh!.lladdr!.toLowerCase();
    const paramsOk =
      remote?.vxlan && local?.vxlan && remote.vxlan.id === local.vxlan.id && remote.vxlan.port === local.vxlan.port;
    const remoteState = deviceState(to.host, dev);
    const why = !remote
      ? `${dev} does not exist on ${next!.name}`
      : remoteState && !remoteState.up
        ? `${next!.name}'s ${remoteState.text}: the encapsulated packet is dropped`
        : !macOk
          ? `${next!.name}'s ${dev} has MAC ${remote.mac}, not ${neigh!.lladdr}: it drops the frame`
          : !paramsOk
            ? `VNI or port differ: ${node.name} sends VNI ${local?.vxlan?.id} port ${local?.vxlan?.port}, ${next!.name} listens on VNI ${remote.vxlan?.id} port ${remote.vxlan?.port}`
            : `${next!.name} decapsulates on ${dev}`;
    if (
      !this.hop(
        next!.name,
        'decapsulate',
        remote
          ? `${dev}: link/ether ${remote.mac ?? '?'} vxlan id ${remote.vxlan?.id ?? '?'} dstport ${remote.vxlan?.port ?? '?'}`
          : null,
        !!remote && macOk && !!paramsOk && remoteState?.up !== false,
        why,
      )
    )
      return;
    if (next!.name !== this.dst.node)
      return void this.hop(
        next!.name,
        'underlay',
        null,
        false,
        `the packet reaches ${next!.name}, but ${this.dst.ip} is on ${this.dst.node ?? 'no node'}`,
      );
    // Decapsulated, the inner packet enters the destination's stack on the VXLAN device.
    this.arrive(to.node, to.host, depth, dev);
  }

  private wireguard(node: FlannelNode, host: HostState, entry: string, dev: string, depth: number): void {
    this.hop(node.name, 'route lookup', entry, true, `into the WireGuard device ${dev}`);
    const wg = ok(host.wireguard)?.find((d) => d.name === dev);
    const peer = wg?.peers.find((p) =>
      p.allowedIPs.some((c) => {
        const pfx = parsePrefix(c);
        return pfx !== null && contains(pfx, this.dst.ip);
      }),
    );
    const entryText = peer
      ? `peer ${peer.publicKey} endpoint ${peer.endpoint ?? '(none)'} allowed-ips ${peer.allowedIPs.join(',')}`
      : null;
    if (
      !this.hop(
        node.name,
        'wireguard peer',
        entryText,
        !!peer?.endpoint,
        peer
          ? peer.endpoint
            ? `encrypted to ${peer.endpoint}`
            : 'the peer has no endpoint'
          : `no peer's allowed-ips cover ${this.dst.ip}: WireGuard drops the packet`,
      )
    )
      return;
    const next = nodeByAddress(this.model, peer!.endpoint!.replace(/^\[?([^\]]+?)\]?:\d+$/, '$1'));
    if (next && !this.underlayCarries(node, next)) return;
    if (
      !this.hop(
        next?.name ?? null,
        'underlay',
        peer!.endpoint,
        next !== null && next.name === this.dst.node,
        next
          ? next.name === this.dst.node
            ? `to ${next.name}`
            : `the endpoint is ${next.name}, but ${this.dst.ip} is on ${this.dst.node}`
          : "the endpoint is no node's address",
      )
    )
      return;
    if (!this.uplinksCarry(node, next!, true, dev.endsWith('-v6'))) return;
    const to = this.received(next!.name);
    // Decrypted, the inner packet enters the destination's stack on its WireGuard device of the same name.
    if (to) this.arrive(to.node, to.host, depth, dev);
  }

  private outPolicy(host: HostState) {
    if (this.model.backend?.type !== 'ipsec') return null;
    const covers = (cidr: string, ip: string) => {
      const p = parsePrefix(cidr);
      return p !== null && contains(p, ip);
    };
    return (
      ok(host.xfrmPolicies)?.find((p) => p.dir === 'out' && covers(p.src, this.srcIP) && covers(p.dst, this.dst.ip)) ??
      null
    );
  }

  private ipsec(node: FlannelNode, host: HostState, policy: NonNullable<ReturnType<Walk['outPolicy']>>): void {
    const tmpl = policy.templates[0];
    if (
      !this.hop(
        node.name,
        'xfrm policy out',
        formatPolicy(policy),
        !!tmpl,
        tmpl ? `encrypted toward ${tmpl.dst}` : 'the policy has no template',
      )
    )
      return;
    const sa = ok(host.xfrmStates)?.find(
      (s) => s.proto === 'esp' && sameIP(s.src, tmpl!.src) && sameIP(s.dst, tmpl!.dst),
    );
    if (
      !this.hop(
        node.name,
        'xfrm state',
        sa ? formatState(sa) : `ip xfrm state: no SA ${tmpl!.src} -> ${tmpl!.dst}`,
        !!sa,
        sa ? 'an SA exists for the tunnel' : 'no SA: IKE has not completed, the kernel drops (or holds) the packet',
      )
    )
      return;
    const next = nodeByAddress(this.model, tmpl!.dst);
    if (next && !this.underlayCarries(node, next)) return;
    if (
      !this.hop(
        next?.name ?? null,
        'underlay',
        `${tmpl!.src} -> ${tmpl!.dst} esp spi 0x${sa!.spi.toString(16)}`,
        !!next && next.name === this.dst.node,
        next ? `ESP to ${next.name}` : `${tmpl!.dst} is no node's address`,
      )
    )
      return;
    if (!this.uplinksCarry(node, next!, true, tmpl!.dst.includes(':'))) return;
    const to = this.received(next!.name);
    if (!to) return;
    const twin = ok(to.host.xfrmStates)?.find((s) => s.spi === sa!.spi && sameIP(s.dst, sa!.dst));
    if (
      !this.hop(
        next!.name,
        'xfrm state (receive)',
        twin ? formatState(twin) : null,
        !!twin && (twin.aead ?? twin.enc)?.digest === (sa!.aead ?? sa!.enc)?.digest,
        twin
          ? (twin.aead ?? twin.enc)?.digest === (sa!.aead ?? sa!.enc)?.digest
            ? 'decrypted with the matching SA'
            : 'the receiving SA has another key: the ICV check fails'
          : `no SA with spi 0x${sa!.spi.toString(16)} on ${next!.name}: the packet is dropped`,
      )
    )
      return;
    this.arrive(to.node, to.host, 0);
  }

  /**
   * flanneld (udp) sends the packet to the public-ip of the lease whose subnet holds the destination: an address the
   * owner does not hold goes to another node, or to no node at all.
   */
  private udpReachesOwner(node: FlannelNode, owner: FlannelNode): boolean {
    const to = owner.publicIP;
    if (!to) return true;
    const receiver = receiverOf(this.model, node, to);
    if (receiver === owner) return true;
    return this.hop(
      receiver?.name ?? node.name,
      'underlay',
      `${node.publicIP ?? '?'} -> ${to} udp (${owner.name}'s lease public-ip)`,
      false,
      `flanneld sends ${owner.name}'s packets to the public-ip its lease publishes, ${to}, which ${receiver ? `is node ${receiver.name}'s address` : 'no node holds'}`,
    );
  }

  /** A udp node's flanneld that moves no packet (udp-flanneld.ts) stops it, on either end. */
  private flanneldMoves(node: FlannelNode, host: HostState): boolean {
    const silent = flanneldSilence(host);
    if (!silent) return true;
    return this.hop(
      node.name,
      'flanneld (udp)',
      silent.probe,
      false,
      'flanneld does not answer /healthz: the udp backend carries packets through flanneld, which moves none',
    );
  }

  /** On the destination node: health, then the local route to the pod. */
  private arrive(node: FlannelNode, host: HostState, depth: number, iif: string | null = null): void {
    if (!this.nodeHealthy(node, 'destination')) return;
    this.forward(node, host, depth + 1, iif);
  }

  /** Out of the cluster network: by which device, and whether flanneld's masquerade rule rewrites the pod source. */
  private leave(node: FlannelNode, host: HostState, entry: string, dev: string): void {
    this.hop(node.name, 'route lookup', entry, true, `leaves the cluster network via ${dev || 'an unknown device'}`);
    if (this.src.kind !== 'pod') {
      this.egress = { dev, masquerade: null };
      return;
    }
    const rule = masqueradeRule(host, this.src.ip.includes(':') ? 'inet6' : 'inet');
    this.egress = { dev, masquerade: rule };
    this.hop(
      node.name,
      'masquerade',
      rule,
      rule !== null,
      rule
        ? "flanneld's masquerade rule rewrites the pod source to the node's address"
        : `not masqueraded: no masquerade rule for the pod network, so replies to ${this.src.ip} never come back`,
    );
  }
}

/** flanneld's masquerade rule (iptables FLANNEL-POSTRTG or nft flannel-ipv4/ipv6 postrtg), as listed; null when absent. */
function masqueradeRule(host: HostState, family: 'inet' | 'inet6'): string | null {
  const fw = ok(host.firewall);
  if (!fw) return null;
  for (const d of dumpsOf(fw, family)) {
    const chains = ['FLANNEL-POSTRTG', 'POSTROUTING'];
    for (const c of chains) {
      const r = (d.tables['nat']?.rules ?? []).find(
        (x) => x.chain === c && /-j MASQUERADE/.test(x.spec) && /flanneld masq/.test(x.spec),
      );
      if (r) return `-A ${r.chain} ${r.spec}`;
    }
  }
  const text = fw.nftRuleset ?? '';
  const table = family === 'inet' ? 'flannel-ipv4' : 'flannel-ipv6';
  const at = text.indexOf(`table ${family === 'inet' ? 'ip' : 'ip6'} ${table}`);
  if (at >= 0) {
    const line = text
      .slice(at)
      .split('\n')
      .find((l) => /masquerade/.test(l));
    if (line) return `nft ${table}: ${line.trim()}`;
  }
  return null;
}
