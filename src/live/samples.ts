/**
 * `bundle`'s tcpdump samples: a short capture on every node at once, of the overlay's traffic on the uplink (the
 * encapsulated form, filtered to the backend's port or protocol) and of the flannel device, headers only. Nothing
 * is sent: the samples show whatever traffic the cluster carries during the window.
 *
 * The packets go into one pcapng (one interface per node and device); what the `underlay-samples` check needs of
 * them (per source: its window, tcpdump's drop counters, the packets by node pair with their times and checksum
 * errors) goes into the snapshot. ESP stays encrypted: no key is read.
 */
import { Writable } from 'node:stream';
import type { CaptureIo } from '../capture/run.js';
import { type Encapsulation, type SampleRole, SampleTally } from '../capture/sample-tally.js';
import { normalizeIP } from '../net/cidr.js';
import type { Backend, Collected, NetConf, SampleSource, Snapshot, UnderlaySamples } from '../snapshot/types.js';
import { flannelDevice, overlayFilter, UPLINK } from './interfaces.js';
import { type LiveCaptureOptions, runLiveCapture } from './run.js';

import type { SampleLimits } from './sample-limits.js';

export { SAMPLE_DEFAULTS, type SampleLimits } from './sample-limits.js';

/** The name of the samples' pcapng inside the bundle. */
export const SAMPLES_FILE = 'samples/overlay.pcapng';

/**
 * Headers only: the outer headers the backend adds, then 66 bytes (Ethernet, IPv4, TCP with the timestamp option):
 * a pure ACK is captured whole (its checksum can be checked), a data segment keeps at most 12 bytes of payload.
 */
export function sampleSnaplen(b: Backend | null): number {
  const headers = 14 + 20 + 32;
  switch (b?.type) {
    case 'vxlan':
      return headers + 20 + 8 + 8 + 14; // outer IPv4, UDP, VXLAN, inner Ethernet
    case 'udp':
      return headers + 20 + 8;
    case 'ipip':
      return headers + 20;
    default:
      return headers; // routed packets, or encrypted ones (ESP, WireGuard): nothing inside to read
  }
}

export function encapsulationOf(b: Backend | null): Encapsulation {
  if (b?.type === 'vxlan') return { kind: 'vxlan', port: b.port };
  if (b?.type === 'udp') return { kind: 'udp', port: b.port };
  return { kind: 'other' };
}

/** What the uplinks' samples hold, for messages: "UDP 8472 (vxlan)". */
export function describeSamples(b: Backend | null): string {
  switch (b?.type) {
    case 'vxlan':
      return b.directRouting ? `UDP ${b.port} (vxlan) and routed pod packets (DirectRouting)` : `UDP ${b.port} (vxlan)`;
    case 'udp':
      return `UDP ${b.port} (udp backend)`;
    case 'host-gw':
      return 'routed pod packets (host-gw)';
    case 'ipsec':
      return 'ESP and UDP 4500 (ipsec)';
    case 'wireguard':
      return `UDP ${b.listenPort} (wireguard)`;
    default:
      return `${b?.type ?? 'unknown'} backend packets`;
  }
}

/**
 * The flannel devices sampled, with the IP version each carries (IPv6 VXLAN has its own device) and its snaplen:
 * a VXLAN device has an Ethernet header, the others (flannel0, flannel.ipip, flannel-wg) start at the IP header.
 */
export function sampleDevices(
  n: NetConf,
): { readonly iface: string; readonly family: 4 | 6; readonly snaplen: number }[] {
  const v4 = flannelDevice(n.backend);
  const vxlan = n.backend.type === 'vxlan';
  const snaplen = sampleSnaplen(null) - (vxlan ? 0 : 14);
  return [
    ...(v4 && n.enableIPv4 ? [{ iface: v4, family: 4 as const, snaplen }] : []),
    ...(n.backend.type === 'vxlan' && n.enableIPv6
      ? [{ iface: `flannel-v6.${n.backend.vni}`, family: 6 as const, snaplen }]
      : []),
  ];
}

/** The uplink's filter: the overlay of every family the cluster runs (routed backends: each pod network). */
export function uplinkFilter(n: NetConf): string {
  const networks = [n.enableIPv4 ? n.network : null, n.enableIPv6 ? n.ipv6Network : null].filter(
    (x): x is string => x !== null,
  );
  const each = [...new Set((networks.length ? networks : [null]).map((net) => overlayFilter(n.backend, net)))];
  return each.length === 1 ? each[0]! : each.map((f) => `(${f})`).join(' or ');
}

export interface SamplesResult {
  readonly samples: Collected<UnderlaySamples>;
  /** The pcapng, or null when nothing could be captured. */
  readonly pcapng: Buffer | null;
}

export async function collectSamples(
  base: Pick<LiveCaptureOptions, 'kube' | 'requestTimeoutMs' | 'flannel' | 'helperPods' | 'commandTimeoutMs'>,
  snapshot: Snapshot,
  limits: SampleLimits,
  io: CaptureIo,
): Promise<SamplesResult> {
  const flannel = snapshot.cluster.flannel;
  const netConf = flannel.status === 'ok' && flannel.data.netConf.status === 'ok' ? flannel.data.netConf.data : null;
  if (!netConf) return { samples: { status: 'unavailable', error: 'net-conf.json was not read' }, pcapng: null };
  if (snapshot.cluster.nodes.status !== 'ok')
    return { samples: { status: 'unavailable', error: 'the Node objects were not read' }, pcapng: null };
  const backend = netConf.backend;
  const nodes = snapshot.cluster.nodes.data.map((k) => ({
    name: k.name,
    ips: [k.flannelAnnotations['public-ip'], k.flannelAnnotations['public-ipv6'], ...k.internalIPs].filter(
      (ip): ip is string => !!ip && normalizeIP(ip) !== null,
    ),
    podCIDRs: k.podCIDRs,
  }));
  const tally = new SampleTally(nodes, encapsulationOf(backend));
  const devices = sampleDevices(netConf);
  const snaplen = sampleSnaplen(backend);
  const roleOf = (source: string): { node: string; role: SampleRole; family: 4 | 6 | null } => {
    const slash = source.indexOf('/');
    const node = source.slice(0, slash);
    const dev = devices.find((d) => d.iface === source.slice(slash + 1));
    return { node, role: dev ? 'device' : 'uplink', family: dev?.family ?? null };
  };
  // How far each node's clock is from ours: the smallest (arrival - capture time) seen, latency included.
  const offset = new Map<string, number>();
  const last = new Map<string, number>();
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write: (c: Buffer, _e, cb) => {
      chunks.push(c);
      cb();
    },
  });
  const result = await runLiveCapture(
    {
      ...base,
      // The nodes this bundle collected (--node, -l); every node's addresses still tell where a packet goes.
      nodeNames: nodes.map((n) => n.name).filter((n) => n in snapshot.hosts),
      pods: [],
      interfaces: [],
      interfaceChoices: [
        { iface: UPLINK, filter: uplinkFilter(netConf) },
        // The devices carry the inner packets: their headers need no room for the encapsulation.
        ...devices.map((d) => ({ iface: d.iface, filter: '', snaplen: d.snaplen })),
      ],
      durationMs: limits.durationMs,
      count: limits.count * nodes.length * (1 + devices.length),
      maxBytes: limits.maxBytes * nodes.length * (1 + devices.length),
      perSource: { count: limits.count, maxBytes: limits.maxBytes },
      snaplen,
      write: null,
      sink,
      onArrival: (source, batch, now) => {
        for (const p of batch) {
          const lag = now - (p.tsSec * 1000 + p.tsNsec / 1e6);
          offset.set(source, Math.min(offset.get(source) ?? Number.POSITIVE_INFINITY, lag));
        }
      },
      onPacket: (source, p) => {
        const { node, role } = roleOf(source);
        tally.add(node, source.slice(source.indexOf('/') + 1), role, p);
        last.set(source, p.tsSec * 1000 + p.tsNsec / 1e6);
      },
    },
    io,
  );
  const sources: SampleSource[] = result.sources.map((s) => {
    const { node, role, family } = roleOf(s.name);
    const iface = s.name.slice(s.name.indexOf('/') + 1);
    const off = offset.get(s.name) ?? 0;
    const r = s.result;
    const capped = s.cappedAtMs !== null || s.written >= limits.count;
    const lastMs = last.get(s.name);
    return {
      node,
      iface,
      role,
      family,
      listeningMs: s.setupError ? null : s.listeningMs,
      endedMs: r?.endedMs ?? Date.now(),
      cappedAtMs: capped && lastMs !== undefined ? Math.round(lastMs + off) : null,
      receivedByFilter: r?.counters.receivedByFilter ?? null,
      droppedByKernel: r?.counters.droppedByKernel ?? null,
      packets: s.written,
      error: s.setupError ?? r?.error ?? null,
      flows: tally.flowsOf(node, iface, off),
    };
  });
  const anything = result.sources.some((s) => s.linkType !== null);
  return {
    samples: {
      status: 'ok',
      data: {
        what: describeSamples(backend),
        durationMs: limits.durationMs,
        snaplen,
        file: anything ? SAMPLES_FILE : null,
        sources,
      },
    },
    pcapng: anything ? Buffer.concat(chunks) : null,
  };
}
