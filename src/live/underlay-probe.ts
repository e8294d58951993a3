/**
 * `doctor --probe`: the underlay check. Every node captures on its uplink (filtered to the overlay) while every
 * node pings the cni0 gateway of each peer's podCIDR: the kernel's own datapath turns that into the backend's
 * real packet (a VXLAN frame on the configured port, the udp backend's datagram, host-gw's routed packet), so what
 * arrives, or not, on the peer's uplink is what pod traffic would do. All pairs up to `limit` nodes; beyond, each
 * node probes a random sample of `limit - 1` peers. Everything runs at once, so the whole probe takes seconds.
 * The result goes into the snapshot; the `underlay-probe` check judges it.
 */

import { locateIp } from '../capture/frame.js';
import type { CaptureIo } from '../capture/run.js';
import { PodExecRunner, type PodTarget } from '../collectors/node/pod-runner.js';
import { makeExec } from '../kube/exec.js';
import { loadKubeConfig } from '../kube/kubeconfig.js';
import type { Backend, Collected, Snapshot, UnderlayProbe, UnderlayProbePair } from '../snapshot/types.js';
import { flannelDevice, overlayFilter } from './interfaces.js';
import { type LiveCaptureOptions, runLiveCapture } from './run.js';

const PINGS = 2;

/** What the whole probe sent, for its summary line. */
function describe(b: Backend | null): string {
  switch (b?.type) {
    case 'vxlan':
      return b.directRouting ? `UDP ${b.port} (vxlan) or routed pod packets (DirectRouting)` : `UDP ${b.port} (vxlan)`;
    case 'udp':
      return `UDP ${b.port} (udp backend)`;
    case 'host-gw':
      return 'routed pod packets (host-gw)';
    default:
      return `${b?.type ?? 'unknown'} backend packets`;
  }
}

export type Carriage = 'encapsulated' | 'routed';

/** What one pair's probe packets are on the underlay. */
export function describePair(b: Backend | null, how: Carriage): string {
  if (b?.type !== 'vxlan') return describe(b);
  return how === 'routed' ? 'routed pod packets (DirectRouting)' : `UDP ${b.port} (vxlan)`;
}

/**
 * How `from` sends pod traffic to a peer's cni0 gateway: encapsulated through the flannel device, or routed over
 * the uplink. Fixed by the backend, except with DirectRouting, where flanneld routes on-link peers directly and
 * encapsulates the others: there `from`'s kernel says (its `ip route get` for that address as pod traffic, else
 * as the node, else its route to the peer's podCIDR; with none of these, flannel's default, VXLAN).
 */
export function carriage(
  snapshot: Snapshot,
  from: string,
  peer: { readonly cidr: string; readonly gateway: string },
  backend: Backend | null,
): Carriage {
  const device = flannelDevice(backend);
  if (device === null) return 'routed';
  if (backend?.type !== 'vxlan' || !backend.directRouting) return 'encapsulated';
  const host = snapshot.hosts[from];
  const h = host?.status === 'ok' ? host.data : null;
  const decisions = h?.routeDecisions?.status === 'ok' ? h.routeDecisions.data : [];
  const decided = (as: 'pod' | 'node') =>
    decisions.find((d) => d.dst === peer.gateway && d.as === as && d.error === null && d.dev !== null)?.dev;
  const route = (h?.routes.status === 'ok' ? h.routes.data : []).find(
    (r) => r.table === 'main' && r.dst === peer.cidr,
  )?.dev;
  const dev = decided('pod') ?? decided('node') ?? route ?? device;
  return dev === device ? 'encapsulated' : 'routed';
}

/** The gateway (first address) of an IPv4 podCIDR: cni0 on that node, reached through the overlay. */
function gatewayOf(cidr: string): string | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/\d+$/.exec(cidr);
  if (!m) return null;
  const n = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const g = n + 1;
  return [g >>> 24, (g >>> 16) & 255, (g >>> 8) & 255, g & 255].join('.');
}

function contains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const n = (a: string) => a.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  return (n(base) & mask) >>> 0 === (n(ip) & mask) >>> 0;
}

function sample<T>(items: readonly T[], n: number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

export async function probeUnderlay(
  base: Omit<
    LiveCaptureOptions,
    'nodeNames' | 'nodeSelector' | 'pods' | 'write' | 'onPacket' | 'onAllListening' | 'interfaces' | 'filter'
  >,
  snapshot: Snapshot,
  limit: number,
  io: CaptureIo,
): Promise<Collected<UnderlayProbe>> {
  const flannel = snapshot.cluster.flannel;
  const netConf = flannel.status === 'ok' && flannel.data.netConf.status === 'ok' ? flannel.data.netConf.data : null;
  const kubeNodes = snapshot.cluster.nodes.status === 'ok' ? snapshot.cluster.nodes.data : [];
  const backend = netConf?.backend ?? null;
  if (!backend || !['vxlan', 'udp', 'host-gw'].includes(backend.type))
    return {
      status: 'unavailable',
      error: `--probe supports the vxlan, udp and host-gw backends (this cluster: ${backend?.type ?? 'unknown'})`,
    };
  const nodes = kubeNodes
    .map((k) => ({
      name: k.name,
      ip: k.flannelAnnotations['public-ip'] ?? k.internalIPs.find((i) => !i.includes(':')) ?? null,
      gateway: k.podCIDRs.map(gatewayOf).find((g) => g !== null) ?? null,
      cidr: k.podCIDRs.find((c) => !c.includes(':')) ?? '',
    }))
    .filter(
      (n): n is { name: string; ip: string; gateway: string; cidr: string } => n.ip !== null && n.gateway !== null,
    );
  if (nodes.length < 2) return { status: 'skipped', error: 'fewer than two nodes with an address and a podCIDR' };
  const sampled = nodes.length > limit;
  const peersOf = new Map(
    nodes.map((n) => {
      const others = nodes.filter((o) => o !== n);
      return [n.name, sampled ? sample(others, limit - 1) : others] as const;
    }),
  );
  // A payload size no ordinary packet has: probe packets are told from pod traffic by their length.
  const size = 1000 + Math.floor(Math.random() * 200);
  const byIP = new Map(nodes.map((n) => [n.ip, n.name]));
  // On the flannel device the probe is the inner packet, sent from the sender's own flannel address (in its podCIDR).
  const device = flannelDevice(backend);
  const inCidr = (ip: string): string | undefined => nodes.find((n) => n.cidr && contains(n.cidr, ip))?.name;
  const seen = new Map<string, number>();
  const delivered = new Map<string, number>();
  const sendErrors = new Map<string, string>();
  const stop = new AbortController();
  const exec = makeExec(loadKubeConfig(base.kube).kc);

  const send = async (targets: readonly { node: string; target: PodTarget }[]) => {
    await Promise.all(
      targets.map(async ({ node, target }) => {
        const peers = peersOf.get(node) ?? [];
        // From the node's own cni0 address: the probe is a pod-network packet, routed (host-gw) or encapsulated
        // exactly as pod traffic is, and the peer's answer comes back to the pod network too.
        const own = nodes.find((n) => n.name === node)?.gateway ?? '';
        const script =
          'src=$1; shift; for ip in "$@"; do ping -c ' +
          PINGS +
          ' -W 2 -s ' +
          size +
          ' -I "$src" "$ip" >/dev/null 2>&1 & done; wait; echo sent';
        const r = await new PodExecRunner(exec, target, { timeoutMs: 20_000 }).run([
          'sh',
          '-c',
          script,
          'sh',
          own,
          ...peers.map((p) => p.gateway),
        ]);
        if (!r.stdout.includes('sent')) sendErrors.set(node, r.error ?? (r.stderr.trim() || `exit ${r.exitCode}`));
      }),
    );
    setTimeout(() => stop.abort(), 1500);
  };

  const capture = await runLiveCapture(
    {
      ...base,
      nodeNames: nodes.map((n) => n.name),
      pods: [],
      interfaces: device ? ['uplink', device] : ['uplink'],
      // The device sees the inner packets (pod network addresses); the uplink the encapsulated ones.
      filter: `(${overlayFilter(backend, netConf?.network ?? null)}${netConf?.network ? ` or net ${netConf.network}` : ''}) and greater ${size}`,
      write: null,
      stopSignal: stop.signal,
      onAllListening: (_n, _pods, targets) => void send(targets).catch(() => stop.abort()),
      onPacket: (source, p) => {
        const at = source.slice(0, source.indexOf('/'));
        const onDevice = device !== null && source === `${at}/${device}`;
        const loc = locateIp(p.linkType, p.data);
        if (!loc || p.data[loc.ipOff]! >> 4 !== 4) return;
        const src = [...p.data.subarray(loc.ipOff + 12, loc.ipOff + 16)].join('.');
        const byNodeIP = byIP.get(src);
        const from = onDevice ? inCidr(src) : (byNodeIP ?? inCidr(src));
        if (!from || from === at) return;
        if (!onDevice && !byNodeIP) {
          // Routed (host-gw, DirectRouting's on-link peers): the probe crosses the underlay as it is. A request from `from` proves from -> at; a reply from `from`
          // proves that `from` received this node's request (at -> from delivered).
          const ihl = (p.data[loc.ipOff]! & 15) * 4;
          const type = p.data[loc.ipOff + 9] === 1 ? p.data[loc.ipOff + ihl] : undefined;
          if (type === 0) {
            const k = `${at}\0${from}`;
            delivered.set(k, (delivered.get(k) ?? 0) + 1);
            return;
          }
          if (type !== 8) return;
        }
        const key = `${from}\0${at}`;
        const counts = onDevice ? delivered : seen;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      },
    },
    io,
  );
  const captureError = new Map(
    capture.sources.map((s) => [s.name.slice(0, s.name.indexOf('/')), s.setupError ?? s.result?.error ?? null]),
  );
  const pairs: UnderlayProbePair[] = [];
  for (const a of nodes)
    for (const b of peersOf.get(a.name) ?? []) {
      const error = sendErrors.has(a.name)
        ? `sending from ${a.name}: ${sendErrors.get(a.name)}`
        : captureError.get(b.name)
          ? `capturing on ${b.name}: ${captureError.get(b.name)}`
          : captureError.has(b.name)
            ? null
            : `capturing on ${b.name}: not captured`;
      const how = carriage(snapshot, a.name, b, backend);
      pairs.push({
        from: a.name,
        to: b.name,
        fromIP: a.ip,
        toIP: b.ip,
        what: describePair(backend, how),
        sent: error ? 0 : PINGS,
        // Requests only: with no reply coming back the count stays below PINGS even when they arrive.
        seen: Math.min(seen.get(`${a.name}\0${b.name}`) ?? 0, PINGS),
        // Routed packets pass no flannel device: delivery is proven by the peer's echo replies.
        delivered: Math.min(delivered.get(`${a.name}\0${b.name}`) ?? 0, PINGS),
        deliveredOn: how === 'encapsulated' && device ? device : 'an echo reply',
        error,
      });
    }
  return { status: 'ok', data: { what: describe(backend), sampled, pairs } };
}
