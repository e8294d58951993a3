/**
 * The walk's second packet: the largest one a pod sends, FLANNEL_MTU bytes with DF (what a TLS handshake or a bulk
 * transfer sends). The MTU is the device's, not the packet's, so the walk does not follow it again: each half takes
 * the minimum over the devices it crossed, and the pair is judged where both ends meet.
 * - The source's half, per pair (walk.ts): the device the route sends the packet out of (ip_forward drops a DF packet
 *   above the route's MTU and answers "fragmentation needed"), and for ipip and ipsec, whose outer header copies DF,
 *   the uplink after the backend's overhead.
 * - The seam, once every node's summary is in (mtuSeams): the destination's uplink (a frame above its MTU is dropped
 *   on arrival; VXLAN, WireGuard and udp leave the sender in fragments, no larger than its own uplink) and the device
 *   the destination routes the packet to its pods by (cni0, or the pod's cali veth on Canal).
 * flannel-v6.<VNI>'s designed clamp 20 bytes below FLANNEL_MTU is answered by an ICMPv6 Packet Too Big the source
 * resends after: the packet travels on at the device's MTU, as trace says.
 */
import type { Backend, HostState } from '../../snapshot/types.js';
import type { Report } from '../check.js';
import type { ClusterScope, NodeSummary } from '../context.js';
import { type FlannelNode, linkByName, ok } from '../model.js';
import { fragmentsOuter, isFlannelV6Clamp, outerSize } from '../mtu-model.js';
import type { NfFamily } from '../netfilter/types.js';
import { type PodEnd, podEndsOf, podLabel, podMtuCommand } from '../pod-ends.js';
import type { Break } from './walk.js';

/** What explains a size break: the mtu checks name the device below FLANNEL_MTU and the uplinks that differ. */
export const MTU_CHECKS = ['mtu', 'mtu-mixed', 'pod-eth0-mtu'];

/** One end's sizes for one family: what its pods' largest packet is as it leaves, and the device that takes it in. */
export interface PodSizes {
  /** FLANNEL_MTU, or the flannel device's designed IPv6 clamp below it: the largest pod packet that leaves. */
  readonly sends: number;
  /** The device the node routes packets for its own pods out of, with its MTU (null: no pod side). */
  readonly takes: Taker | null;
}

/** The narrowest device into the node's pods; `fix` where it is a pod's own eth0, not a device of the node. */
interface Taker {
  readonly dev: string;
  readonly mtu: number;
  readonly fix?: string;
}

/** The overlay device a family's pod packets leave by, where a clamp may lower them (vxlan's flannel-v6.<VNI>). */
function clampedSends(
  backend: Backend,
  host: HostState,
  family: NfFamily,
  F: number,
  overlayDev: string | null,
): number {
  const mtu = overlayDev ? linkByName(host, overlayDev)?.mtu : undefined;
  return mtu !== undefined && isFlannelV6Clamp(backend, overlayDev!, mtu, F) && family === 'inet6' ? mtu : F;
}

/**
 * A node's sizes per family, for NodeSummary: FLANNEL_MTU from subnet.env (null without it: sizes are not judged)
 * and the MTU of the device its pods hang off (`podDev`, from the walk's pod side).
 */
export function podSizesOf(
  backend: Backend | null,
  host: HostState | null,
  podDev: Readonly<Record<NfFamily, string | null>>,
  overlayDev: Readonly<Record<NfFamily, string | null>>,
): Readonly<Record<NfFamily, PodSizes | null>> | null {
  const F = ok(host?.subnetEnv)?.mtu ?? null;
  if (!backend || !host || F === null) return null;
  const of = (family: NfFamily): PodSizes | null => {
    const dev = podDev[family];
    if (!dev) return null;
    const mtu = linkByName(host, dev)?.mtu;
    return {
      sends: clampedSends(backend, host, family, F, overlayDev[family]),
      takes: mtu === undefined ? null : narrowestPort(host, { dev, mtu }),
    };
  };
  return { inet: of('inet'), inet6: of('inet6') };
}

/**
 * The bridge's narrowest port, when below the bridge: every pod behind cni0 is a destination of the pair, and the
 * bridge drops a frame above the port's MTU on its way into the pod (the host-side veth of a pod). Behind the port,
 * the pod's own eth0 drops a frame above its MTU as the veth hands it over.
 */
function narrowestPort(host: HostState, bridge: { readonly dev: string; readonly mtu: number }): Taker {
  let least: Taker = bridge;
  for (const l of ok(host.links) ?? [])
    if (l.master === bridge.dev && l.mtu < least.mtu) least = { dev: l.name, mtu: l.mtu };
  for (const { pod, veth } of podEndsOf(host))
    if (pod.mtu < least.mtu && (veth.master === bridge.dev || veth.name === bridge.dev))
      least = { dev: `${pod.name} of pod ${podLabel(pod)}`, mtu: pod.mtu, fix: podMtuCommand(pod, veth.mtu) };
  return least;
}

/**
 * A pod of the node whose eth0 sends more than its host veth takes: the veth drops its largest packets on the way in
 * (no ICMP), whatever the destination. The first such pod stands for the node's; pod-eth0-mtu names each.
 */
function podEndBreak(node: FlannelNode, ends: readonly PodEnd[]): Break | null {
  const end = ends.find((e) => e.pod.mtu > e.veth.mtu);
  if (!end) return null;
  const { pod, veth } = end;
  return sizeBreak(
    veth.name,
    `pod ${podLabel(pod)} sends up to ${pod.mtu} bytes (its ${pod.name}'s MTU): packets of ${veth.mtu + 1}-${pod.mtu} bytes die at its host veth ${veth.name} (mtu ${veth.mtu}) on ${node.name}`,
    [`${pod.netns}: ${pod.name} mtu ${pod.mtu}`, `${veth.name} mtu ${veth.mtu}`],
    `On ${node.name}: ${podMtuCommand(pod, veth.mtu)}`,
  );
}

/**
 * The source's half: a FLANNEL_MTU packet must fit the device the route sends it out of, and where the outer header
 * keeps DF (ipip, ipsec) the uplink after the overhead. null when it fits (or sizes cannot be judged).
 */
export function egressSizeBreak(
  node: FlannelNode,
  host: HostState,
  backend: Backend,
  family: NfFamily,
  dev: string,
  uplink: { readonly name: string; readonly mtu: number } | null,
  /** The node's pods' own ends (podEndsOf), found once per node. */
  podEnds: readonly PodEnd[],
): Break | null {
  const pod = podEndBreak(node, podEnds);
  if (pod) return pod;
  const F = ok(host.subnetEnv)?.mtu ?? null;
  if (F === null) return null;
  const l = linkByName(host, dev);
  if (l && F > l.mtu && !isFlannelV6Clamp(backend, dev, l.mtu, F))
    return sizeBreak(
      dev,
      `packets of ${l.mtu + 1}-${F} bytes die at ${dev} (mtu ${l.mtu}) on ${node.name}`,
      [`FLANNEL_MTU=${F}`, `${dev} mtu ${l.mtu}`],
      `On ${node.name}: ip link set ${dev} mtu ${F}`,
    );
  // a route out of the uplink itself (host-gw, DirectRouting's on-link peers) adds no outer header
  if (!uplink || fragmentsOuter(backend) || backend.type === 'host-gw' || dev === uplink.name) return null;
  const inner = l && isFlannelV6Clamp(backend, dev, l.mtu, F) ? l.mtu : F;
  const outer = outerSize(backend, inner, family === 'inet6');
  if (outer <= uplink.mtu) return null;
  const overhead = outer - inner;
  return sizeBreak(
    uplink.name,
    `a ${outer}-byte packet (${inner} + the ${backend.type} overhead ${overhead}) does not fit ${uplink.name} (mtu ${uplink.mtu}) on ${node.name}: packets of ${uplink.mtu - overhead + 1}-${inner} bytes die`,
    [`FLANNEL_MTU=${F}`, `${uplink.name} (uplink) mtu ${uplink.mtu}`],
    `Either raise ${uplink.name}'s MTU on ${node.name} to ${outer}, or set FLANNEL_MTU to ${uplink.mtu - overhead} (the uplink minus the ${backend.type} overhead), restart the flannel pods and re-create the pods`,
  );
}

function sizeBreak(dev: string, what: string, evidence: readonly string[], fix: string): Break {
  // The cause is the device and the sizes: every peer the packet leaves toward by it shares it.
  return { kind: 'break', hop: dev, what, evidence, fix, explainedBy: MTU_CHECKS, cause: `size ${what}` };
}

/** The peers whose largest packet dies at the same hop of one node, as one report. */
interface Group {
  readonly node: string;
  readonly dir: 'to' | 'from';
  readonly hop: string;
  readonly what: string;
  readonly evidence: readonly string[];
  readonly fix: string;
  readonly peers: string[];
}

/** Peers named in one message; the rest are counted (as pod-path's own findings do). */
const NAMED_PEERS = 5;

/**
 * The pair-wide part of the size walk: for every ordered pair of nodes and family both ends have, the largest pod
 * packet the source sends against the destination's uplink and the device to its pods. A break is reported on the
 * node whose device is out of step: the destination, unless its own FLANNEL_MTU fits its uplink and the source's is
 * the larger (mtu-mixed names the source then).
 */
export function mtuSeams(scope: ClusterScope): Report[] {
  const b = scope.model.backend;
  if (!b) return [];
  const groups = new Map<string, Group>();
  const add = (g: Omit<Group, 'peers'>, peer: string) => {
    const key = `${g.node}\0${g.dir}\0${g.hop}\0${g.what}`;
    let x = groups.get(key);
    if (!x) groups.set(key, (x = { ...g, peers: [] }));
    x.peers.push(peer);
  };
  const senders = scope.summaries.filter((s) => s.podSizes);
  for (const from of senders)
    for (const to of senders) {
      if (from === to || from.name === to.name) continue;
      for (const family of ['inet', 'inet6'] as const) {
        const s = from.podSizes![family];
        const r = to.podSizes![family];
        if (!s || !r) continue;
        const verdict = judge(b, from, to, s, r, family);
        if (verdict) add(verdict, verdict.dir === 'to' ? to.name : from.name);
      }
    }
  return [...groups.values()].map((g) => {
    const all = [...new Set(g.peers)];
    const named = all.slice(0, NAMED_PEERS).join(', ');
    const more = all.length > NAMED_PEERS ? ` and ${all.length - NAMED_PEERS} more` : '';
    const peers = all.length === 1 ? all[0]! : `${all.length} peers (${named}${more})`;
    return {
      node: g.node,
      peer: all.length === 1 ? all[0]! : null,
      message: `pod traffic ${g.dir} ${peers} stops at ${g.hop}: ${g.what}`,
      evidence: g.evidence,
      fix: g.fix,
    };
  });
}

/** Where the largest packet from `from` dies on its way into `to`'s pods, or null when it arrives. */
function judge(
  b: Backend,
  from: NodeSummary,
  to: NodeSummary,
  s: PodSizes,
  r: PodSizes,
  family: NfFamily,
): Omit<Group, 'peers'> | null {
  const size = s.sends;
  const inn = to.uplink;
  const out = from.uplink;
  if (inn) {
    // a DirectRouting pair's packet leaves the sender's uplink as it is: no outer header to fit
    const routed = b.type === 'host-gw' || from.directPeers[family].includes(to.name);
    const overhead = routed ? 0 : outerSize(b, size, family === 'inet6') - size;
    const outer = size + overhead;
    // What leaves the sender: the outer packet whole, or in fragments no larger than the sender's uplink.
    const wire = out && fragmentsOuter(b) ? Math.min(outer, out.mtu) : outer;
    if (wire > inn.mtu) {
      const largest = inn.mtu - overhead;
      const what = `a ${outer}-byte packet${overhead ? ` (${size} + the ${b.type} overhead ${overhead})` : ''} does not fit ${inn.name} (mtu ${inn.mtu}) on ${to.name}: packets of ${largest + 1}-${size} bytes die on arrival`;
      const evidence = [`${to.name}: ${inn.name} (uplink) mtu ${inn.mtu}`, `sender's FLANNEL_MTU ${size}`];
      const fix = `raise ${to.name}'s ${inn.name} MTU to ${outer} (ip link set ${inn.name} mtu ${outer}, and in its network configuration), or lower FLANNEL_MTU to ${largest} on every node (Backend.MTU in net-conf.json; host-gw: the uplinks) and re-create the pods`;
      // A consistent receiver (its own FLANNEL_MTU fits its uplink) is the victim of the sender's larger MTU.
      const consistent = to.flannelMTU !== null && to.flannelMTU + overhead <= inn.mtu;
      if (consistent)
        return { node: from.name, dir: 'to', hop: `${inn.name} of ${to.name}`, what, evidence, fix: `Either ${fix}` };
      return { node: to.name, dir: 'from', hop: inn.name, what, evidence, fix: `Either ${fix}` };
    }
  }
  if (r.takes && size > r.takes.mtu) {
    const { dev, mtu } = r.takes;
    return {
      node: to.name,
      dir: 'from',
      hop: dev,
      what: `packets of ${mtu + 1}-${size} bytes die at ${dev} (mtu ${mtu}) on ${to.name}`,
      evidence: [`${to.name}: ${dev} mtu ${mtu}`, `sender's FLANNEL_MTU ${size}`],
      fix: `On ${to.name}: ${r.takes.fix ?? `ip link set ${dev} mtu ${to.flannelMTU ?? size}`}`,
    };
  }
  return null;
}
