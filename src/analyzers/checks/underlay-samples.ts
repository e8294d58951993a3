import type { SampleFlow, SampleSource, UnderlaySamples } from '../../snapshot/types.js';
import { defineCheck } from '../check.js';
import type { Lease } from '../model.js';
import { allowFix, type UnderlayDrop } from '../underlay-drop.js';

/** Fewer packets than this in the window prove nothing either way. */
export const MIN_SENT = 5;
/** Packets this close to either end of the receiver's window are not counted: clocks and stream delays differ. */
export const MARGIN_MS = 1_000;

/** Only a capture that ran, ended cleanly and says the kernel dropped nothing can vouch for an absence. */
function vouches(s: SampleSource | undefined): s is SampleSource & { listeningMs: number } {
  return s !== undefined && s.error === null && s.listeningMs !== null && s.droppedByKernel === 0;
}

function window(s: SampleSource & { listeningMs: number }): [number, number] {
  return [s.listeningMs + MARGIN_MS, Math.min(s.endedMs, s.cappedAtMs ?? Number.POSITIVE_INFINITY) - MARGIN_MS];
}

function within(times: readonly number[], [from, to]: [number, number]): number[] {
  return times.filter((t) => t >= from && t <= to);
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

function span(times: readonly number[]): string {
  return `${clock(Math.min(...times))}-${clock(Math.max(...times))}`;
}

function flowsFrom(
  s: SampleSource | undefined,
  from: string,
  to: string,
  kind: SampleFlow['kind'],
  family?: 4 | 6,
): number[] {
  return (s?.flows ?? [])
    .filter((f) => f.from === from && f.to === to && f.kind === kind && (family === undefined || f.family === family))
    .flatMap((f) => f.times);
}

export default defineCheck({
  id: 'underlay-samples',
  severity: 'error',
  title: "The bundle's tcpdump samples show the overlay's packets arriving where they were sent",
  failureModes: [21],
  docs: {
    meaning:
      "A support bundle carries a few seconds of tcpdump on every node at once: the overlay's packets on the uplink (UDP 8472 for vxlan, the udp backend's port, ESP for ipsec, the WireGuard port, pod-network packets for host-gw and DirectRouting) and the flannel device, headers only. A node pair is reported when at least 5 packets left the first node's uplink for the second node during the second node's capture and none arrived there, while that capture was healthy (ran the whole window, no kernel drops): the network between the two nodes drops the overlay (a cloud security group, a firewall or NSX between the hosts, a switch ACL), though every route, neighbour and fdb entry is right. A pair is also reported on the receiver when the encapsulated packets arrive on its uplink and none reach its flannel device (something below the routing tables drops them on arrival), and when packets arrive with a wrong IPv4 header or fully captured UDP/TCP checksum (an offload bug or a corrupting link). Without traffic in the window there is nothing to judge; a bundle made with --no-samples, or a saved snapshot, has no samples and the check stays silent.",
    impact:
      'Pods on the first node cannot reach pods on the second (or their packets are dropped on arrival), while both nodes look healthy.',
    fix: "Allow the overlay between the two nodes in the network that carries it: for vxlan UDP <port> (default 8472) between the node addresses, for the udp backend UDP 8285, for ipsec ESP and UDP 4500, for wireguard its UDP port, for host-gw the pod network routed between the nodes (security group, host firewall between hypervisors, NSX distributed firewall, switch ACLs). Open the bundle's samples/overlay.pcapng in Wireshark to see the packets; confirm with kubectl flannel doctor --probe.",
  },
  scope: 'cluster',
  run({ model, underlaySamples: samples }, report) {
    if (samples?.status !== 'ok') return;
    const { sources } = samples.data;
    const uplinks = uplinksOf(samples.data);
    const devices = new Map(sources.filter((s) => s.role === 'device').map((s) => [`${s.node}\0${s.family}`, s]));
    for (const x of judgedPairs(samples.data)) {
      const { from, to, kind, family, carried, b, arrived } = x;
      if (arrived.length === 0) {
        report({ node: from, peer: to, ...lostBetween(x, (n) => model.byName.get(n)) });
        continue;
      }
      // Each family's encapsulation ends on its own device (flannel.<VNI>, flannel-v6.<VNI>).
      const dev = devices.get(`${to}\0${family}`);
      // Packets with a wrong checksum are dropped on arrival too: that finding (below) says why.
      const corrupt = b.flows.some((f) => f.from === from && f.kind === kind && f.badChecksums > 0);
      if (kind === 'encapsulated' && !corrupt && vouches(dev)) {
        const reached = within(arrived, window(dev));
        // VXLAN carries its own family inside; a WireGuard device may carry both over one tunnel.
        const inner = model.backend?.type === 'vxlan' ? family : undefined;
        if (reached.length >= MIN_SENT && flowsFrom(dev, from, to, 'inner', inner).length === 0)
          report({
            node: to,
            peer: from,
            message: `${carried} from ${from} arrives on ${to}'s uplink but never reaches ${dev.iface}: ${to} drops it on arrival, below its routing tables`,
            evidence: [
              `${to} ${b.iface}: ${reached.length} packets from ${from} at ${span(reached)}`,
              `${to} ${dev.iface}: captured ${clock(dev.listeningMs)}-${clock(dev.endedMs)}, 0 packets from ${from}, 0 dropped by kernel`,
            ],
            fix: `On ${to}: look below the tables doctor reads for what drops the overlay from ${from} on arrival: nft list ruleset (netdev ingress hooks), tc filter show dev ${b.iface} ingress, XDP programs (ip link show ${b.iface}), and checksum offload (ethtool -k ${b.iface}).`,
          });
      }
    }
    for (const b of uplinks.values())
      for (const f of b.flows) {
        if (f.to !== b.node || f.badChecksums === 0) continue;
        report({
          node: b.node,
          peer: f.from,
          message: `${f.badChecksums} of ${f.times.length} ${f.kind} packets from ${f.from} arrived on ${b.node}'s ${b.iface} with a wrong checksum: the kernel drops them`,
          evidence: [f.badChecksumExample ?? ''],
          fix: `Find where the packets from ${f.from} are corrupted: checksum offload on ${f.from}'s flannel device and uplink (ethtool -k; try ethtool -K flannel.1 tx-checksum-ip-generic off on ${f.from}), or the link between the nodes.`,
        });
      }
  },
});

const uplinksOf = (data: UnderlaySamples) =>
  new Map(data.sources.filter((s) => s.role === 'uplink').map((s) => [s.node, s]));

/** A node pair and family whose packets the receiver's healthy capture could have seen, with what it saw. */
interface JudgedPair {
  readonly from: string;
  readonly to: string;
  readonly kind: SampleFlow['kind'];
  readonly family: 4 | 6;
  /** The backend's packet as the samples name it, e.g. "UDP 8472 (vxlan)". */
  readonly what: string;
  /** The same, with its IP version when that is 6: "UDP 8472 (vxlan) over IPv6". */
  readonly carried: string;
  readonly a: SampleSource;
  readonly b: SampleSource & { listeningMs: number };
  /** When the sender's uplink saw them leave, within the receiver's window. */
  readonly sent: readonly number[];
  /** When the receiver's uplink saw them. */
  readonly arrived: readonly number[];
}

/** Every pair with at least MIN_SENT packets sent during a capture on the receiver that vouches for what it saw. */
function* judgedPairs(data: UnderlaySamples): Generator<JudgedPair> {
  const uplinks = uplinksOf(data);
  const pairs = new Set<string>();
  for (const a of uplinks.values())
    for (const f of a.flows)
      if (f.from === a.node && f.kind !== 'inner') pairs.add(`${f.from}\0${f.to}\0${f.kind}\0${f.family}`);
  for (const pair of pairs) {
    const [from, to, kind, v] = pair.split('\0') as [string, string, SampleFlow['kind'], string];
    // IPv4 and IPv6 are judged apart: a dual-stack underlay may drop one and carry the other.
    const family = v === '6' ? 6 : 4;
    const a = uplinks.get(from)!;
    const b = uplinks.get(to);
    if (!vouches(b)) continue;
    const sent = within(flowsFrom(a, from, to, kind, family), window(b));
    if (sent.length < MIN_SENT) continue;
    const carried = family === 6 ? `${data.what} over IPv6` : data.what;
    yield {
      from,
      to,
      kind,
      family,
      what: data.what,
      carried,
      a,
      b,
      sent,
      arrived: flowsFrom(b, from, to, kind, family),
    };
  }
}

/** A node's lease by name: the addresses and podCIDRs the fix names. */
type LeaseOf = (node: string) => Lease | undefined;

function lostBetween(x: JudgedPair, leaseOf: LeaseOf): { message: string; evidence: string[]; fix: string } {
  const { from, to, kind, family, carried, a, b, sent } = x;
  const [f, t] = [leaseOf(from), leaseOf(to)];
  const ip = (l: Lease | undefined) => (family === 6 ? l?.publicIPv6 : l?.publicIP) ?? null;
  const cidr = (l: Lease | undefined) => (family === 6 ? l?.podCIDRv6 : l?.podCIDR)?.text;
  return {
    message: `the underlay drops ${carried} from ${from} to ${to}: ${sent.length} packets left ${from} for ${to} during ${to}'s capture and none arrived`,
    evidence: [
      `${from} ${a.iface}: ${sent.length} ${kind} packets to ${to} at ${span(sent)}`,
      `${to} ${b.iface}: captured ${clock(b.listeningMs)}-${clock(b.endedMs)}, 0 packets from ${from}, ${b.receivedByFilter ?? 'unknown'} received by filter, 0 dropped by kernel`,
    ],
    // The family's own addresses say which IP version to allow, so the fix names the backend's packet as such.
    fix: allowFix(x.what, { from, to, fromIP: ip(f), toIP: ip(t) }, cidr(f), cidr(t)),
  };
}

/** The pairs whose packets left the sender during the receiver's healthy capture and none arrived. */
export function sampleDrops(data: UnderlaySamples, leaseOf: LeaseOf): UnderlayDrop[] {
  return [...judgedPairs(data)]
    .filter((x) => x.arrived.length === 0)
    .map((x) => ({ from: x.from, to: x.to, ...lostBetween(x, leaseOf) }));
}
