/**
 * `trace --probe`: real packets from SRC's network namespace, captured at every hop on both nodes at once.
 *
 * The capture is the live capture's (pods' netns, cni0, the flannel device, the uplink filtered to the overlay),
 * the probe is ping from inside SRC (ICMP echo, DF set, sized to the pod's MTU = FLANNEL_MTU, a random payload
 * pattern). A packet is the probe's when its bytes hold SRC's and DST's addresses as an IPv4 header has them
 * (source then destination: requests; the other way: replies) and the pattern, so the encapsulated form on the
 * uplink is recognised inside its VXLAN/UDP wrapper too.
 */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { CaptureIo } from '../capture/run.js';
import { PodExecRunner } from '../collectors/node/pod-runner.js';
import { UserError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { makeExec } from '../kube/exec.js';
import { loadKubeConfig } from '../kube/kubeconfig.js';
import { type LiveCaptureOptions, type PodSource, runLiveCapture } from './run.js';

export interface ProbeHop {
  /** The capture source: `node/interface` or `node/ns/pod`. */
  readonly name: string;
  readonly requests: number;
  readonly replies: number;
  /** ms after the first probe was sent; null when not seen. */
  readonly firstRequestMs: number | null;
  readonly firstReplyMs: number | null;
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
): Promise<ProbeResult> {
  const src = await podRef(client, srcArg);
  const dst = await podRef(client, dstArg);
  const pattern = randomBytes(16);
  const fwd = Buffer.concat([ipBytes(src.ip), ipBytes(dst.ip)]);
  const back = Buffer.concat([ipBytes(dst.ip), ipBytes(src.ip)]);
  const seen = new Map<string, { requests: number; replies: number; req: number | null; rep: number | null }>();
  let sentAt: number | null = null;
  let ping = 'not sent';
  let size = 0;
  const count = 3;
  const stop = new AbortController();
  const exec = makeExec(loadKubeConfig(base.kube).kc);

  const send = async (pods: readonly PodSource[]) => {
    const from = pods.find((p) => p.name === `${src.node}/${src.ns}/${src.name}`);
    if (!from) {
      ping = `no way into ${srcArg}'s network namespace`;
      stop.abort();
      return;
    }
    const runner = new PodExecRunner(exec, from.target, { timeoutMs: 15_000 });
    const inNs = (argv: string[]) => runner.run(['nsenter', `--net=${from.netns}`, '--', ...argv]);
    const link = await inNs(['ip', '-o', 'link', 'show', 'eth0']);
    const mtu = /\smtu (\d+)\s/.exec(link.stdout);
    // ICMP echo payload = MTU - 20 (IPv4) - 8 (ICMP): the largest packet flannel's MTU lets through, DF set.
    size = mtu ? Number(mtu[1]) - 28 : 1200;
    sentAt = Date.now();
    const r = await inNs([
      'ping',
      '-n',
      '-c',
      String(count),
      '-i',
      '0.3',
      '-W',
      '2',
      '-M',
      'do',
      '-s',
      String(size),
      '-p',
      pattern.toString('hex'),
      dst.ip,
    ]);
    const summary = /\d+ packets transmitted.*$/m.exec(r.stdout)?.[0];
    ping = summary ?? (r.stderr.trim() || r.error || `ping exited ${r.exitCode}`);
    // Let the last replies reach every capture point before stopping.
    setTimeout(() => stop.abort(), 1500);
  };

  const capture = await runLiveCapture(
    {
      ...base,
      nodeNames: [...new Set([src.node, dst.node])],
      pods: [`${src.ns}/${src.name}`, `${dst.ns}/${dst.name}`],
      write: null,
      stopSignal: stop.signal,
      onAllListening: (_n, pods) =>
        void send(pods).catch((e: Error) => {
          ping = e.message;
          stop.abort();
        }),
      onPacket: (name, p) => {
        if (sentAt === null || p.data.indexOf(pattern) < 0) return;
        const s = seen.get(name) ?? { requests: 0, replies: 0, req: null, rep: null };
        const at = p.tsSec * 1000 + p.tsNsec / 1e6 - sentAt;
        if (p.data.indexOf(fwd) >= 0) {
          s.requests++;
          s.req ??= at;
        } else if (p.data.indexOf(back) >= 0) {
          s.replies++;
          s.rep ??= at;
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
      error: errors.get(name) ?? (errors.has(name) ? null : 'not captured'),
    };
  });
  const lastReq = hops.findLastIndex((h) => h.requests > 0);
  const reqLost = hops.slice(lastReq + 1).find((h) => !h.error);
  // Replies travel the path backwards: the last hop (from DST's end) that saw them.
  const firstRep = hops.findIndex((h) => h.replies > 0);
  const repLost = !reqLost
    ? hops
        .slice(0, firstRep < 0 ? hops.length : firstRep)
        .reverse()
        .find((h) => !h.error)
    : undefined;
  return {
    sent: sentAt === null ? 0 : count,
    size,
    hops,
    requestVanishedAt: reqLost?.name ?? null,
    requestLastSeen: lastReq >= 0 ? hops[lastReq]!.name : null,
    replyVanishedAt: repLost?.name ?? null,
    ping,
  };
}

export function renderProbe(r: ProbeResult, tableArrives: boolean): string {
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `Probe: ${r.sent} ICMP echo requests of ${r.size} bytes (DF set) from SRC's network namespace; ping: ${r.ping}`,
  );
  const w = Math.max(...r.hops.map((h) => h.name.length));
  const lastSeen = r.hops.findIndex((h) => h.name === r.requestLastSeen);
  r.hops.forEach((h, i) => {
    const ms = (v: number | null) => (v === null ? '' : ` (first at ${v.toFixed(1)} ms)`);
    const mark = h.error ? '?' : h.requests > 0 ? '✔' : i < lastSeen ? '·' : '✖';
    const detail = h.error
      ? `not captured: ${h.error}`
      : i < lastSeen && h.requests === 0
        ? 'not on this path (a later hop saw the probe)'
        : `requests ${h.requests}${ms(h.firstRequestMs)}, replies ${h.replies}${ms(h.firstReplyMs)}`;
    lines.push(` ${String(i + 1).padStart(2)}. ${mark} ${h.name.padEnd(w)}  ${detail}`);
  });
  if (r.sent === 0) lines.push('The probe was not sent.');
  else if (r.requestVanishedAt) {
    const i = r.hops.findIndex((h) => h.name === r.requestVanishedAt);
    const before = r.hops
      .slice(0, i)
      .reverse()
      .find((h) => !h.error);
    lines.push(
      `The probe vanished between ${before?.name ?? 'the source'} and ${r.requestVanishedAt}: it was seen at the first, never at the second.`,
    );
  } else if (r.replyVanishedAt) lines.push(`The requests arrived; the replies vanished at ${r.replyVanishedAt}.`);
  else lines.push('The probe and its replies were seen at every hop.');
  const probeArrives = r.sent > 0 && r.requestVanishedAt === null;
  if (r.sent > 0 && probeArrives !== tableArrives)
    lines.push(
      tableArrives
        ? '⚠ The tables and the packets disagree: every table says the packet arrives, but the probe did not. Something the tables do not show drops it (the underlay or a cloud firewall, a filter, checksum offload).'
        : '⚠ The tables and the packets disagree: the table trace says the packet breaks, but the probe arrived.',
    );
  return `${lines.join('\n')}\n`;
}
