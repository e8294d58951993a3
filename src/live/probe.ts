/**
 * `trace --probe`: real packets from SRC's network namespace, captured at every hop on both nodes at once.
 *
 * The capture is the live capture's (pods' netns, cni0, the flannel device, the uplink filtered to the overlay).
 * Two probes go from inside SRC: small ICMP echoes (does anything get through, both ways?) and UDP datagrams with a
 * unique payload, DF set, each exactly FLANNEL_MTU bytes (from SRC's node's subnet.env): the largest packet flannel
 * promises pods, so a device on the way with a smaller MTU kills them while the pings pass. A packet is the probe's
 * when its pod-level IPv4 header (found inside the VXLAN/UDP wrapper on the uplink) holds SRC's and DST's
 * addresses and the probe's pattern or token (probe-match.ts).
 */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { CaptureIo } from '../capture/run.js';
import { PodExecRunner } from '../collectors/node/pod-runner.js';
import { UserError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { makeExec } from '../kube/exec.js';
import { loadKubeConfig } from '../kube/kubeconfig.js';
import type { Backend } from '../snapshot/types.js';
import { classifyProbe, type ProbeIds, type Tunnel } from './probe-match.js';
import { type LiveCaptureOptions, type PodSource, runLiveCapture } from './run.js';

export interface ProbeHop {
  /** The capture source: `node/interface` or `node/ns/pod`. */
  readonly name: string;
  readonly requests: number;
  readonly replies: number;
  /** ms after the first probe was sent; null when not seen. */
  readonly firstRequestMs: number | null;
  readonly firstReplyMs: number | null;
  /** FLANNEL_MTU-sized UDP probes seen whole, DF set, as sent. */
  readonly udp: number;
  readonly firstUdpMs: number | null;
  /** UDP probe pieces seen fragmented or without DF (a kernel on the way fragmented them): not the probe as sent. */
  readonly udpFragments: number;
  /** The source could not capture: the hop is unknown, not "vanished". */
  readonly error: string | null;
}

export interface ProbeResult {
  readonly sent: number;
  readonly size: number;
  readonly hops: readonly ProbeHop[];
  /**
   * The first hop (in path order) no request reached after the last hop that saw them, or null when they
   * reached the destination pod. A hop that saw nothing while a later one did is not on this path (host-gw and
   * DirectRouting bypass the flannel device), not a loss.
   */
  readonly requestVanishedAt: string | null;
  /** The last hop the requests were seen at. */
  readonly requestLastSeen: string | null;
  /** With requests delivered: the first hop back towards SRC no reply reached. */
  readonly replyVanishedAt: string | null;
  /** What ping said (its summary line, or why it could not run). */
  readonly ping: string;
  readonly udp: UdpProbeResult;
}

export interface UdpProbeResult {
  readonly sent: number;
  /** IP packet size: FLANNEL_MTU. */
  readonly size: number;
  /** Where `size` came from: SRC's node's subnet.env, or SRC's eth0 MTU when that was not collected. */
  readonly sizeFrom: string;
  readonly port: number;
  /** What sent it (python3 with IP_PMTUDISC_PROBE, bash's /dev/udp, nc -u), or why it could not be sent. */
  readonly sender: string;
  /** Like `requestVanishedAt` and `requestLastSeen`, for the UDP probe. */
  readonly vanishedAt: string | null;
  readonly lastSeen: string | null;
  /** ICMP "fragmentation needed" answers about the probe, where they were seen. */
  readonly fragNeeded: readonly { readonly at: string; readonly mtu: number; readonly from: string }[];
}

export interface ProbeContext {
  readonly backend: Backend | null;
  /** net-conf.json's Network (the uplink's capture filter on host-gw needs it); null when unknown. */
  readonly network: string | null;
  /** FLANNEL_MTU in a node's subnet.env, as collected; null when unknown. */
  readonly flannelMtuOf: (node: string) => number | null;
  /** `trace --size`: the UDP probe is this many bytes, so it tests the size the table trace follows. */
  readonly size?: number;
}

/** The pod MTU's overhead: IPv4 header (20) + UDP header (8), or + ICMP header (8). */
const L3L4 = 28;
/** Small echoes: they pass wherever anything passes, so an MTU problem shows as UDP dying while they arrive. */
const PING_PAYLOAD = 56;
const COUNT = 3;

/**
 * Sends `count` UDP datagrams of the given payload from inside the pod's netns. python3 sets IP_PMTUDISC_PROBE
 * (10, 3): DF set and any path MTU the pod's kernel cached ignored, so every datagram leaves the pod at full size
 * (as after a restart) and dies, or not, where the real packet would. bash's /dev/udp uses the default (DF set
 * unless a smaller path MTU is cached, then fragments: those pieces are counted apart, never as the probe), and
 * so does busybox nc -u, the last resort.
 */
export const UDP_SENDER = [
  'p=$1 ip=$2 port=$3 n=$4',
  'if command -v python3 >/dev/null 2>&1; then exec python3 -c "$5" "$p" "$ip" "$port" "$n"; fi',
  'if command -v bash >/dev/null 2>&1; then exec bash -c \'for i in $(seq "$4"); do printf %s "$1" >"/dev/udp/$2/$3" || exit 1; sleep 0.3; done; echo "sent by bash /dev/udp"\' bash "$p" "$ip" "$port" "$n"; fi',
  'if command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- " -u"; then for i in $(seq "$n"); do printf %s "$p" | nc -u -w1 "$ip" "$port" || exit 1; done; echo "sent by nc -u"; exit 0; fi',
  'echo "no python3, bash or nc -u in the image to send UDP with" >&2; exit 127',
].join('\n');
export const UDP_PY = [
  'import socket,sys,time',
  'p,ip,port,n=sys.argv[1].encode(),sys.argv[2],int(sys.argv[3]),int(sys.argv[4])',
  's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)',
  's.setsockopt(socket.IPPROTO_IP,10,3)',
  'try:',
  ' for i in range(n):',
  '  s.sendto(p,(ip,port)); time.sleep(0.3)',
  'except OSError as e:',
  ' print("sending failed: "+e.strerror, file=sys.stderr); sys.exit(1)',
  'print("sent by python3 (IP_PMTUDISC_PROBE)")',
].join('\n');

function tunnelOf(b: Backend | null): Tunnel {
  return { vxlanPort: b?.type === 'vxlan' ? b.port : null, udpPort: b?.type === 'udp' ? b.port : null };
}

interface PodRef {
  readonly ns: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
}

async function podRef(client: KubeClient, arg: string): Promise<PodRef> {
  const [ns, name] = arg.split('/', 2) as [string, string];
  let pod: V1Pod;
  try {
    pod = await client.readPod(ns, name);
  } catch (e) {
    throw new UserError(`--probe: pod ${arg}: ${(e as Error).message}`);
  }
  const ip = pod.status?.podIP;
  const node = pod.spec?.nodeName;
  if (!ip || !node) throw new UserError(`--probe: pod ${arg} has no IP or node yet`);
  if (ip.includes(':')) throw new UserError('--probe sends IPv4 probes; IPv6 pods are not supported yet');
  return { ns, name, node, ip };
}

const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

/** Path order: SRC's veth, SRC node cni0 → flannel device → uplink, DST node uplink → device → cni0, DST's veth. */
export function pathOrder(names: readonly string[], src: PodRef, dst: PodRef): string[] {
  const srcPod = `${src.node}/${src.ns}/${src.name}`;
  const dstPod = `${dst.node}/${dst.ns}/${dst.name}`;
  const nodeIfaces = (node: string) => names.filter((n) => n.startsWith(`${node}/`) && n.split('/').length === 2);
  // The capture plans each node's interfaces as uplink, flannel device, cni0.
  const srcIfaces = [...nodeIfaces(src.node)].reverse();
  const dstIfaces = src.node === dst.node ? [] : nodeIfaces(dst.node);
  return [srcPod, ...srcIfaces, ...dstIfaces, dstPod].filter((n, i, a) => a.indexOf(n) === i);
}

export async function runProbe(
  base: Omit<LiveCaptureOptions, 'nodeNames' | 'nodeSelector' | 'pods' | 'write' | 'onPacket' | 'onAllListening'>,
  client: KubeClient,
  srcArg: string,
  dstArg: string,
  io: CaptureIo,
  ctx: ProbeContext,
): Promise<ProbeResult> {
  const src = await podRef(client, srcArg);
  const dst = await podRef(client, dstArg);
  const ids: ProbeIds = {
    fwd: Buffer.concat([ipBytes(src.ip), ipBytes(dst.ip)]),
    back: Buffer.concat([ipBytes(dst.ip), ipBytes(src.ip)]),
    icmpPattern: randomBytes(16),
    // A port nothing listens on (traceroute's range): DST's kernel answers port unreachable, nothing runs.
    udpPort: 33434 + Math.floor(Math.random() * 1000),
    udpToken: Buffer.from(`kubectl-flannel-probe-${randomBytes(8).toString('hex')}`),
  };
  const tunnel = tunnelOf(ctx.backend);
  interface Seen {
    requests: number;
    replies: number;
    req: number | null;
    rep: number | null;
    udp: number;
    udpAt: number | null;
    fragments: number;
  }
  const seen = new Map<string, Seen>();
  const fragNeeded: { at: string; mtu: number; from: string }[] = [];
  let sentAt: number | null = null;
  let ping = 'not sent';
  let sender = 'not sent';
  let udpSent = 0;
  const flannelMtu = ctx.size ?? ctx.flannelMtuOf(src.node);
  let udpSize = flannelMtu ?? 0;
  let sizeFrom = ctx.size !== undefined ? '--size' : `${src.node}'s subnet.env (FLANNEL_MTU)`;
  const stop = new AbortController();
  const exec = makeExec(loadKubeConfig(base.kube).kc);

  const send = async (pods: readonly PodSource[]) => {
    const from = pods.find((p) => p.name === `${src.node}/${src.ns}/${src.name}`);
    if (!from) {
      ping = `no way into ${srcArg}'s network namespace`;
      sender = ping;
      stop.abort();
      return;
    }
    const runner = new PodExecRunner(exec, from.target, { timeoutMs: 15_000 });
    const inNs = (argv: string[]) => runner.run(['nsenter', `--net=${from.netns}`, '--', ...argv]);
    if (flannelMtu === null) {
      const link = await inNs(['ip', '-o', 'link', 'show', 'eth0']);
      const mtu = /\smtu (\d+)\s/.exec(link.stdout);
      udpSize = mtu ? Number(mtu[1]) : 1450;
      sizeFrom = mtu ? `${srcArg}'s eth0 MTU (${src.node}'s subnet.env was not collected)` : 'a guess (1450)';
    }
    sentAt = Date.now();
    const r = await inNs([
      'ping',
      '-n',
      '-c',
      String(COUNT),
      '-i',
      '0.3',
      '-W',
      '2',
      '-M',
      'do',
      '-s',
      String(PING_PAYLOAD),
      '-p',
      ids.icmpPattern.toString('hex'),
      dst.ip,
    ]);
    const summary = /\d+ packets transmitted.*$/m.exec(r.stdout)?.[0];
    ping = summary ?? (r.stderr.trim() || r.error || `ping exited ${r.exitCode}`);
    const payload = Buffer.alloc(Math.max(udpSize - L3L4, ids.udpToken.length), '.');
    ids.udpToken.copy(payload);
    const u = await inNs([
      'sh',
      '-c',
      UDP_SENDER,
      'sh',
      payload.toString('latin1'),
      dst.ip,
      String(ids.udpPort),
      String(COUNT),
      UDP_PY,
    ]);
    const said = u.stdout.trim().split('\n').pop() ?? '';
    if (u.exitCode === 0 && said.startsWith('sent by')) {
      sender = said;
      udpSent = COUNT;
    } else sender = u.stderr.trim().split('\n').pop() || u.error || `the UDP sender exited ${u.exitCode}`;
    // Let the last packets reach every capture point before stopping.
    setTimeout(() => stop.abort(), 1500);
  };

  const capture = await runLiveCapture(
    {
      ...base,
      nodeNames: [...new Set([src.node, dst.node])],
      pods: [`${src.ns}/${src.name}`, `${dst.ns}/${dst.name}`],
      netConf: { backend: ctx.backend, network: ctx.network },
      write: null,
      stopSignal: stop.signal,
      onAllListening: (_n, pods) =>
        void send(pods).catch((e: Error) => {
          ping = e.message;
          stop.abort();
        }),
      onPacket: (name, p) => {
        if (sentAt === null) return;
        const m = classifyProbe(p.linkType, p.data, tunnel, ids);
        if (!m) return;
        const s = seen.get(name) ?? {
          requests: 0,
          replies: 0,
          req: null,
          rep: null,
          udp: 0,
          udpAt: null,
          fragments: 0,
        };
        const at = p.tsSec * 1000 + p.tsNsec / 1e6 - sentAt;
        switch (m.kind) {
          case 'echo-request':
            s.requests++;
            s.req ??= at;
            break;
          case 'echo-reply':
            s.replies++;
            s.rep ??= at;
            break;
          case 'udp':
            if (m.df && !m.fragment) {
              s.udp++;
              s.udpAt ??= at;
            } else s.fragments++;
            break;
          case 'frag-needed':
            if (!fragNeeded.some((f) => f.at === name && f.mtu === m.mtu && f.from === m.from))
              fragNeeded.push({ at: name, mtu: m.mtu, from: m.from });
            break;
        }
        seen.set(name, s);
      },
    },
    io,
  );
  const errors = new Map(capture.sources.map((s) => [s.name, s.setupError ?? s.result?.error ?? null] as const));
  const order = pathOrder(
    capture.sources.map((s) => s.name),
    src,
    dst,
  );
  const hops: ProbeHop[] = order.map((name) => {
    const s = seen.get(name);
    return {
      name,
      requests: s?.requests ?? 0,
      replies: s?.replies ?? 0,
      firstRequestMs: s?.req ?? null,
      firstReplyMs: s?.rep ?? null,
      udp: s?.udp ?? 0,
      firstUdpMs: s?.udpAt ?? null,
      udpFragments: s?.fragments ?? 0,
      error: errors.get(name) ?? (errors.has(name) ? null : 'not captured'),
    };
  });
  const req = vanishing(hops, (h) => h.requests > 0);
  // Replies travel the path backwards: the last hop (from DST's end) that saw them.
  const firstRep = hops.findIndex((h) => h.replies > 0);
  const repLost = !req.vanishedAt
    ? hops
        .slice(0, firstRep < 0 ? hops.length : firstRep)
        .reverse()
        .find((h) => !h.error)
    : undefined;
  // Where the echoes went all the way, they mark the path: a hop they skipped (the flannel device under host-gw or
  // DirectRouting) is not where the UDP probe vanished.
  const echoPath = req.vanishedAt === null && req.lastSeen !== null ? (h: ProbeHop) => h.requests > 0 : () => true;
  const udp = vanishing(hops, (h) => h.udp > 0, echoPath);
  return {
    sent: sentAt === null ? 0 : COUNT,
    size: PING_PAYLOAD,
    hops,
    requestVanishedAt: req.vanishedAt,
    requestLastSeen: req.lastSeen,
    replyVanishedAt: repLost?.name ?? null,
    ping,
    udp: {
      sent: udpSent,
      size: udpSize,
      sizeFrom,
      port: ids.udpPort,
      sender,
      vanishedAt: udpSent === 0 ? null : udp.vanishedAt,
      lastSeen: udp.lastSeen,
      fragNeeded,
    },
  };
}

/** The last hop (in path order) that saw the probe, and the first captured hop after it, where it vanished. */
function vanishing(
  hops: readonly ProbeHop[],
  saw: (h: ProbeHop) => boolean,
  onPath: (h: ProbeHop) => boolean = () => true,
) {
  const last = hops.findLastIndex(saw);
  const lost = hops.slice(last + 1).find((h) => !h.error && onPath(h));
  return { lastSeen: last >= 0 ? hops[last]!.name : null, vanishedAt: lost?.name ?? null };
}

export function renderProbe(r: ProbeResult, tableArrives: boolean): string {
  const lines: string[] = [];
  const u = r.udp;
  lines.push('');
  lines.push(
    `Probe from SRC's network namespace: ${r.sent} ICMP echo requests of ${r.size + L3L4} bytes (DF set); ping: ${r.ping}`,
  );
  lines.push(
    `       and ${u.sent} UDP datagrams to port ${u.port} of ${u.size} bytes (DF set; size: ${u.sizeFrom}); ${u.sender}`,
  );
  const w = Math.max(...r.hops.map((h) => h.name.length));
  const lastSeen = Math.max(
    r.hops.findIndex((h) => h.name === r.requestLastSeen),
    r.hops.findIndex((h) => h.name === u.lastSeen),
  );
  const ms = (v: number | null) => (v === null ? '' : ` (first at ${v.toFixed(1)} ms)`);
  r.hops.forEach((h, i) => {
    const any = h.requests > 0 || h.udp > 0;
    const mark = h.error
      ? '?'
      : any
        ? h.requests > 0 && (h.udp > 0 || u.sent === 0)
          ? '✔'
          : '◐'
        : i < lastSeen
          ? '·'
          : '✖';
    const frags = h.udpFragments > 0 ? `, ${h.udpFragments} UDP fragments (not as sent)` : '';
    const detail = h.error
      ? `not captured: ${h.error}`
      : i < lastSeen && !any
        ? 'not on this path (a later hop saw the probe)'
        : `echo requests ${h.requests}${ms(h.firstRequestMs)}, replies ${h.replies}${ms(h.firstReplyMs)}; UDP ${h.udp}${ms(h.firstUdpMs)}${frags}`;
    lines.push(` ${String(i + 1).padStart(2)}. ${mark} ${h.name.padEnd(w)}  ${detail}`);
  });
  const between = (last: string | null, at: string) =>
    `between ${last ?? 'the source'} and ${at}: seen at the first, never at the second`;
  if (r.sent === 0) lines.push('The probe was not sent.');
  else if (r.requestVanishedAt)
    lines.push(`The echo requests vanished ${between(r.requestLastSeen, r.requestVanishedAt)}.`);
  else if (r.replyVanishedAt) lines.push(`The echo requests arrived; the replies vanished at ${r.replyVanishedAt}.`);
  else lines.push('The echo requests and their replies were seen at every hop.');
  if (u.sent > 0) {
    if (u.vanishedAt) {
      lines.push(`The ${u.size}-byte UDP probe vanished ${between(u.lastSeen, u.vanishedAt)}.`);
      if (!r.requestVanishedAt)
        lines.push(
          `  Small packets pass, ${u.size}-byte ones (FLANNEL_MTU) do not: an MTU on the way is below FLANNEL_MTU (at or just before ${u.vanishedAt}), or the path drops large DF packets.`,
        );
    } else lines.push(`The ${u.size}-byte UDP probe reached every hop.`);
    const answers = new Map<string, string[]>();
    for (const f of u.fragNeeded)
      answers.set(`${f.from}\0${f.mtu}`, [...(answers.get(`${f.from}\0${f.mtu}`) ?? []), f.at]);
    for (const [k, at] of answers) {
      const [from, mtu] = k.split('\0');
      lines.push(`  ${from} answered "fragmentation needed, next-hop MTU ${mtu}" (seen at ${at.join(', ')}).`);
    }
  }
  const probeArrives = r.sent > 0 && r.requestVanishedAt === null && (u.sent === 0 || u.vanishedAt === null);
  if (r.sent > 0 && probeArrives !== tableArrives)
    lines.push(
      tableArrives
        ? `⚠ The tables and the packets disagree: every table says the packet arrives, but the ${r.requestVanishedAt ? 'probe' : `${u.size}-byte UDP probe`} did not. Something the tables do not show drops it (the underlay or a cloud firewall, a filter, checksum offload${r.requestVanishedAt ? '' : ', a device MTU'}).`
        : '⚠ The tables and the packets disagree: the table trace says the packet breaks, but the probe arrived.',
    );
  return `${lines.join('\n')}\n`;
}
