/**
 * `capture` live: tcpdump on node interfaces and in pod network namespaces, all at once, merged in
 * time order into one pcapng (one interface per source, named `node/interface` or `node/ns/pod`).
 *
 * Each node is reached the way doctor reaches it: its flannel pod when that has tcpdump, else a
 * helper pod (never-leak rules of helper-pods.ts); pods' namespaces are found by doctor's
 * findPodNetns in the helper pod. Every capture is bounded by --duration, --count and --max-size;
 * the first Ctrl-C stops every tcpdump cleanly (their counters become Interface Statistics Blocks),
 * a second one exits at once.
 */
import { Writable } from 'node:stream';
import type { Exec, V1Pod } from '@kubernetes/client-node';
import { type DecryptStats, EspDecryptor } from '../capture/esp/decryptor.js';
import { TimeMerger } from '../capture/merge.js';
import { type CapturedPacket, linkTypeName } from '../capture/packet.js';
import { PcapngWriter } from '../capture/pcapng-writer.js';
import type { CaptureIo } from '../capture/run.js';
import { openOutput, readXfrmStateFile, writeKeyFile } from '../capture/run.js';
import { type FlannelLocator, locateFlannel, readClusterState, usablePod } from '../collectors/api/cluster.js';
import type { HelperPodSettings } from '../collectors/collect.js';
import { HELPER_CONTAINER, HelperPods, newRunId } from '../collectors/node/helper-pods.js';
import { netConfArgv, readNodeNetConf } from '../collectors/node/node-files.js';
import { findPodNetns, PodExecRunner, type PodTarget, podNetnsArgv } from '../collectors/node/pod-runner.js';
import type { CommandRunner } from '../collectors/node/runner.js';
import { type ScriptStep, scripted, textCommand } from '../collectors/node/script.js';
import { EXIT, UserError } from '../errors.js';
import { KubeClient } from '../kube/client.js';
import { KubeAccessError } from '../kube/errors.js';
import { makeExec } from '../kube/exec.js';
import { type KubeConfigOptions, loadKubeConfig } from '../kube/kubeconfig.js';
import type { Backend, KubeNode } from '../snapshot/types.js';
import { defaultInterfaces, type InterfaceChoice, interfaceHolding, UPLINK } from './interfaces.js';

const ADDRESSES_ARGV = ['ip', '-o', 'addr', 'show'] as const;

import { LiveKeys } from './keys.js';
import { LiveSource, type SourceResult } from './source.js';

export interface LiveCaptureOptions {
  readonly kube: KubeConfigOptions;
  readonly requestTimeoutMs: number;
  readonly flannel: FlannelLocator;
  readonly nodeNames: readonly string[];
  readonly nodeSelector?: string | undefined;
  /** NAMESPACE/NAME of pods to capture inside. */
  readonly pods: readonly string[];
  /** -i: interfaces on every node (default: the backend's). */
  readonly interfaces: readonly string[];
  /**
   * The backend and Network when the caller knows them from a collected snapshot: k3s keeps net-conf.json on
   * the node, not in a ConfigMap the cluster read finds, and without it the flannel device is not captured.
   */
  readonly netConf?: { readonly backend: Backend | null; readonly network: string | null } | undefined;
  /** Interfaces with their own filter and snaplen on every node, instead of -i (bundle's samples). */
  readonly interfaceChoices?: readonly InterfaceChoice[];
  readonly filter?: string | undefined;
  readonly durationMs: number;
  readonly count: number;
  readonly maxBytes: number;
  readonly snaplen: number;
  /** Output file ('-' for stdout); null keeps no file (trace --probe only looks at the packets). */
  readonly write: string | null;
  /** Where the pcapng goes instead of `write` (bundle's samples, kept in memory). */
  readonly sink?: Writable;
  /** Bounds per source besides the totals: packets and bytes kept of one interface (bundle's samples). */
  readonly perSource?: { readonly count: number; readonly maxBytes: number };
  /** Every batch as it arrives, with the plugin's clock then (how far a node's clock is from ours). */
  readonly onArrival?: (source: string, batch: readonly CapturedPacket[], nowMs: number) => void;
  /** Every packet as it is released in time order, with its source's name (trace --probe). */
  readonly onPacket?: (source: string, packet: CapturedPacket) => void;
  readonly helperPods: HelperPodSettings;
  readonly commandTimeoutMs: number;
  /** Reorder window of the merge. */
  readonly windowMs?: number;
  /** Called once every source listens (trace --probe sends then); not used by the CLI. */
  readonly onAllListening?: (
    sources: number,
    pods: readonly PodSource[],
    nodes: readonly { readonly node: string; readonly target: PodTarget }[],
  ) => void;
  /** Stop every source now (used by callers that end the capture themselves). */
  readonly stopSignal?: AbortSignal;
  /** Decrypt ESP with the SAs read from the captured nodes' `ip xfrm state` (and --xfrm-state, if given). */
  readonly decryptEsp?: boolean;
  /** Extra SAs from a file (`ip xfrm state` text), e.g. of a node outside the capture. */
  readonly xfrmStateFile?: string | undefined;
  /** Also write the SAs read at the start as a Wireshark esp_sa table (keys are written nowhere else). */
  readonly writeKeys?: string | undefined;
  /** Install SIGINT/SIGTERM handling (the CLI does). */
  readonly handleSignals?: boolean;
}

/** A pod source's way in: who runs commands in its network namespace (trace --probe sends from there). */
export interface PodSource {
  readonly name: string;
  readonly target: PodTarget;
  readonly netns: string;
}

export interface SourceReport {
  readonly name: string;
  readonly via: string;
  readonly filter: string;
  readonly linkType: number | null;
  readonly result: SourceResult | null;
  /** The source could not even start (node unreachable, no tcpdump, pod netns not found). */
  readonly setupError: string | null;
  /** Packets of this source written to the output. */
  written: number;
  /** Bytes of this source written (with the per-packet block overhead). */
  bytes: number;
  /** The plugin's clock when tcpdump said it was listening. */
  listeningMs: number | null;
  /** The plugin's clock when a per-source bound first discarded a packet of this source. */
  cappedAtMs: number | null;
}

export interface LiveCaptureResult {
  readonly sources: readonly SourceReport[];
  readonly written: number;
  readonly bytes: number;
  readonly stoppedBy: string;
  readonly late: number;
  readonly discarded: number;
  /** With --decrypt-esp: what was decrypted, the SA reads and what each node gave. */
  readonly esp: {
    readonly stats: DecryptStats;
    readonly reads: number;
    readonly perNode: ReadonlyMap<string, { readonly sas: number } | { readonly error: string }>;
    readonly sas: number;
  } | null;
}

interface Planned {
  /** The node whose tcpdump this is ('' when unknown). */
  readonly node: string;
  readonly name: string;
  readonly via: string;
  readonly target: PodTarget | null;
  readonly choice: InterfaceChoice & { readonly netns?: string };
  readonly setupError: string | null;
}

const GRACE_MS = 10_000;

function backendOf(read: Awaited<ReturnType<typeof readClusterState>>): {
  backend: Backend | null;
  network: string | null;
} {
  const f = read.state.flannel;
  if (f.status !== 'ok' || f.data.netConf.status !== 'ok') return { backend: null, network: null };
  return { backend: f.data.netConf.data.backend, network: f.data.netConf.data.network };
}

const TCPDUMP_VERSION = ['tcpdump', '--version'] as const;

async function hasTcpdump(runner: CommandRunner, timeoutMs: number): Promise<{ ok: boolean; why: string }> {
  const r = await runner.run(TCPDUMP_VERSION, { timeoutMs });
  if (r.exitCode === 0) return { ok: true, why: '' };
  if (r.error && r.exitCode === null && !('toolMissing' in r && r.toolMissing)) return { ok: false, why: r.error };
  return { ok: false, why: 'tcpdump is not installed' };
}

/** Plans every source: who runs tcpdump where, on which interface, with which filter. */
async function plan(
  o: LiveCaptureOptions,
  client: KubeClient,
  exec: Exec,
  helpers: HelperPods | null,
  signal: AbortSignal,
): Promise<{ planned: Planned[]; helperImage: string }> {
  const wantNodes = o.nodeNames.length > 0 || o.nodeSelector !== undefined;
  const read = await readClusterState(client, o.flannel, {
    nodeNames: o.nodeNames,
    nodeSelector: o.nodeSelector,
    logTailLines: 1,
  });
  const { backend, network } = o.netConf?.backend ? o.netConf : backendOf(read);
  const helperImage = helpers?.options.image ?? read.location.image;
  const nodeByName = new Map(read.nodes.map((n) => [n.name, n]));

  /**
   * The node's capture pod (flannel pod with tcpdump, else a helper pod with tcpdump), and a runner that answers
   * what the job will ask there (`steps`) from one script: the set-up costs one exec per node (issue 13), the
   * tcpdump check included. Each (node, netnsWork) pair is asked once, by the one job that needs it.
   */
  const onNode = async (
    node: string,
    netnsWork: boolean,
    steps: readonly ScriptStep[],
  ): Promise<{ target: PodTarget; via: string; runner: CommandRunner }> => {
    const withTcpdump = [{ command: textCommand('tcpdump', TCPDUMP_VERSION) }, ...steps];
    const runnerOn = (t: PodTarget) =>
      scripted(new PodExecRunner(exec, t, { timeoutMs: o.commandTimeoutMs }), withTcpdump, o.commandTimeoutMs, signal);
    const reasons: string[] = [];
    const pod = usablePod(read.podsByNode.get(node) ?? [], read.location.container);
    if (!netnsWork && pod && !o.helperPods.always) {
      const t = {
        namespace: read.location.namespace,
        pod: pod.metadata?.name ?? '',
        container: read.location.container,
      };
      const runner = await runnerOn(t);
      const has = await hasTcpdump(runner, o.commandTimeoutMs);
      if (has.ok) return { target: t, via: `flannel pod ${t.namespace}/${t.pod}`, runner };
      reasons.push(`flannel pod ${t.pod}: ${has.why}`);
    } else if (!netnsWork) reasons.push(pod ? '--node-access helper-pod' : 'no running flannel pod');
    else reasons.push('pod network namespaces need a helper pod (SYS_ADMIN)');
    if (!helpers) throw new Error(`${reasons.join('; ')}, and helper pods are disabled`);
    const ref = await helpers.ensure(node, signal);
    const t = { namespace: ref.namespace, pod: ref.name, container: HELPER_CONTAINER };
    const runner = await runnerOn(t);
    const has = await hasTcpdump(runner, o.commandTimeoutMs);
    if (!has.ok)
      throw new Error(
        `${reasons.join('; ')}; helper pod (image ${helperImage}): ${has.why}; pass --image with an image that has tcpdump (e.g. nicolaka/netshoot)`,
      );
    return { target: t, via: `helper pod ${t.namespace}/${t.pod}`, runner };
  };

  const planned: Planned[] = [];
  const failedPlan = (name: string, e: unknown, node = ''): Planned => ({
    node,
    name,
    via: '',
    target: null,
    choice: { iface: '', filter: '' },
    setupError: (e as Error).message,
  });

  // Embedded flannel (k3s) has no ConfigMap: the backend's interfaces come from the node's own net-conf.json.
  const packaging = read.location.packaging;
  const nodeNetConf = !backend && packaging.kind === 'embedded' ? packaging.netConfPath : null;
  const nodeJobs = (wantNodes ? read.nodes : []).map(async (node: KubeNode): Promise<Planned[]> => {
    let choices: readonly InterfaceChoice[] =
      o.interfaceChoices ??
      (o.interfaces.length
        ? o.interfaces.map((iface) => ({ iface, filter: '' }))
        : defaultInterfaces(backend, network));
    try {
      const readNetConf = nodeNetConf !== null && !o.interfaceChoices && !o.interfaces.length;
      const wantUplink = readNetConf || choices.some((c) => c.iface === UPLINK);
      const a = await onNode(node.name, false, [
        ...(readNetConf ? [{ command: textCommand('netconf', netConfArgv(nodeNetConf)) }] : []),
        ...(wantUplink ? [{ command: textCommand('addresses', ADDRESSES_ARGV) }] : []),
      ]);
      const runner = a.runner;
      if (readNetConf) {
        const f = await readNodeNetConf(runner, nodeNetConf, o.commandTimeoutMs, signal);
        const nc = f.status === 'ok' ? f.data?.netConf : null;
        if (nc) choices = defaultInterfaces(nc.backend, nc.network);
      }
      let uplink: string | null = null;
      if (choices.some((c) => c.iface === UPLINK)) {
        const ip = node.flannelAnnotations['public-ip'] ?? node.internalIPs[0];
        const r = await runner.run(ADDRESSES_ARGV, { timeoutMs: o.commandTimeoutMs, ...(signal ? { signal } : {}) });
        uplink = ip ? interfaceHolding(r.stdout, ip) : null;
        if (!uplink)
          return [
            failedPlan(
              `${node.name}/${UPLINK}`,
              new Error(`no interface holds the node's address ${ip ?? '(unknown)'}; name it with -i`),
            ),
            ...choices.filter((c) => c.iface !== UPLINK).map((c) => planNode(node.name, a, c)),
          ];
      }
      return choices.map((c) => planNode(node.name, a, c.iface === UPLINK ? { ...c, iface: uplink! } : c));
    } catch (e) {
      return choices.map((c) => failedPlan(`${node.name}/${c.iface}`, e));
    }
  });
  const planNode = (node: string, a: { target: PodTarget; via: string }, c: InterfaceChoice): Planned => ({
    node,
    name: `${node}/${c.iface}`,
    via: a.via,
    target: a.target,
    choice: { iface: c.iface, filter: o.filter ?? c.filter, ...(c.snaplen ? { snaplen: c.snaplen } : {}) },
    setupError: null,
  });

  const podJobs = o.pods.map(async (ref): Promise<Planned[]> => {
    const [ns, name] = ref.split('/') as [string, string];
    let pod: V1Pod;
    try {
      pod = await client.readPod(ns, name);
    } catch (e) {
      if (e instanceof KubeAccessError && e.kind === 'not-found')
        return [failedPlan(`?/${ref}`, new Error(`--pod ${ref}: no such pod`))];
      return [failedPlan(`?/${ref}`, e)];
    }
    const node = pod.spec?.nodeName;
    const ip = pod.status?.podIP;
    const label = `${node ?? '?'}/${ns}/${name}`;
    if (!node || !ip) return [failedPlan(label, new Error(`--pod ${ref}: not scheduled or has no IP yet`))];
    if (pod.spec?.hostNetwork)
      return [failedPlan(label, new Error(`--pod ${ref} uses the host network: capture on its node (--node ${node})`))];
    try {
      const a = await onNode(node, true, [{ command: textCommand('netns', podNetnsArgv()) }]);
      const netns = await findPodNetns(a.runner, ip);
      if (!netns) throw new Error(`no network namespace on ${node} holds the pod's IP ${ip}`);
      return [
        {
          node,
          name: label,
          via: `${a.via}, netns ${netns}`,
          target: a.target,
          choice: { iface: 'eth0', filter: o.filter ?? '', netns },
          setupError: null,
        },
      ];
    } catch (e) {
      return [failedPlan(label, e)];
    }
  });
  for (const group of await Promise.all([...nodeJobs, ...podJobs])) planned.push(...group);
  for (const n of o.nodeNames) if (!nodeByName.has(n)) planned.push(failedPlan(`${n}/*`, new Error('no such node')));
  return { planned, helperImage };
}

export async function runLiveCapture(o: LiveCaptureOptions, io: CaptureIo): Promise<LiveCaptureResult> {
  const cfg = loadKubeConfig(o.kube);
  const hard = new AbortController();
  const client = new KubeClient(cfg.kc, o.requestTimeoutMs, hard.signal);
  const exec = makeExec(cfg.kc);
  let helpers: HelperPods | null = null;

  // Until the capture runs, an interrupt just aborts the set-up (helper pods are still deleted).
  let stopAll: (why: string) => void = (why) => hard.abort(new Error(`interrupted (${why})`));
  let stoppedBy = '';
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) {
      io.stderr.write(`${sig} again: exiting now; remove leftover helper pods with: kubectl flannel cleanup\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    interrupted = true;
    io.stderr.write(`${sig}: stopping the capture; everything captured so far is kept\n`);
    stopAll(sig === 'SIGINT' ? 'Ctrl-C' : sig);
  };
  if (o.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  try {
    let planned: Planned[];
    try {
      // Helper pods live in flannel's namespace and default to flannel's image (already on every node).
      const loc = await locateFlannel(client, o.flannel);
      if (o.helperPods.enabled)
        helpers = new HelperPods(
          client,
          {
            namespace: loc.namespace,
            image: o.helperPods.image ?? loc.image,
            imagePullSecrets: o.helperPods.imagePullSecrets,
            runId: newRunId(),
            // The kubelet's dead-man switch must outlast the capture.
            deadlineSeconds: Math.max(o.helperPods.deadlineSeconds, Math.ceil((o.durationMs + 3 * GRACE_MS) / 1000)),
          },
          o.helperPods.startTimeoutMs,
        );
      ({ planned } = await plan(o, client, exec, helpers, hard.signal));
    } catch (e) {
      if (e instanceof KubeAccessError) throw new UserError(e.message, EXIT.cluster);
      throw e;
    }
    return await capture(
      o,
      io,
      exec,
      planned,
      hard,
      (f) => (stopAll = f),
      (why) => (stoppedBy ||= why),
    ).then((r) => ({ ...r, stoppedBy: stoppedBy || r.stoppedBy }));
  } finally {
    if (o.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (helpers?.names().length) {
      const r = await helpers.deleteAll();
      for (const f of r.failed)
        io.stderr.write(
          `warning: helper pod ${f.name} not deleted (${f.error}); it stops by itself, or run: kubectl flannel cleanup\n`,
        );
    }
  }
}

async function capture(
  o: LiveCaptureOptions,
  io: CaptureIo,
  exec: Exec,
  planned: Planned[],
  hard: AbortController,
  setStop: (f: (why: string) => void) => void,
  noteStop: (why: string) => void,
): Promise<Omit<LiveCaptureResult, 'stoppedBy'> & { stoppedBy: string }> {
  const runnable = planned.filter((p) => p.target && !p.setupError);
  const reports: SourceReport[] = planned.map((p) => ({
    name: p.name,
    via: p.via,
    filter: p.choice.filter,
    linkType: null,
    result: null,
    setupError: p.setupError,
    written: 0,
    bytes: 0,
    listeningMs: null,
    cappedAtMs: null,
  }));
  if (runnable.length === 0) {
    return {
      sources: reports,
      written: 0,
      bytes: 0,
      stoppedBy: 'nothing to capture',
      late: 0,
      discarded: 0,
      esp: null,
    };
  }
  let keys: LiveKeys | null = null;
  let decryptor: EspDecryptor | null = null;
  let keyRead: Awaited<ReturnType<LiveKeys['read']>> | null = null;
  if (o.decryptEsp) {
    const extra = o.xfrmStateFile ? await readXfrmStateFile(o.xfrmStateFile, io) : [];
    const byNode = new Map<string, PodTarget>();
    for (const p of runnable) if (p.node && !byNode.has(p.node)) byNode.set(p.node, p.target!);
    keys = new LiveKeys(
      exec,
      [...byNode].map(([node, target]) => ({ node, target })),
      extra,
      o.commandTimeoutMs,
    );
    keyRead = await keys.read();
    decryptor = new EspDecryptor(keyRead.table);
    if (o.writeKeys) await writeKeyFile(o.writeKeys, keyRead.table, io);
  }
  const output = o.sink
    ? { stream: o.sink, close: async () => void (await new Promise<void>((r) => o.sink!.end(r))) }
    : o.write !== null
      ? await openOutput(o.write, io)
      : { stream: new Writable({ write: (_c, _e, cb) => cb() }), close: async () => {} };
  let outputError: Error | null = null;
  output.stream.on('error', (e: Error) => (outputError = e));
  const writer = new PcapngWriter(output.stream);
  await writer.begin();

  const indexes = planned.map((p, i) => (runnable.includes(p) ? i : -1)).filter((i) => i >= 0);
  const merger = new TimeMerger(indexes, o.windowMs ?? 500);
  const ifaceOf = new Map<number, number>();
  const sources = new Map<number, LiveSource>();
  let written = 0;
  let bytes = 0;
  let discarded = 0;
  let stopping = false;

  const stopAll = (why: string) => {
    if (stopping) return;
    stopping = true;
    noteStop(why);
    for (const s of sources.values()) s.stop();
    setTimeout(() => hard.abort(new Error('sources did not stop')), GRACE_MS).unref();
  };
  setStop(stopAll);
  o.stopSignal?.addEventListener('abort', () => stopAll('stopped'), { once: true });

  let chain: Promise<void> = Promise.resolve();
  const serial = (f: () => Promise<void>): Promise<void> => {
    chain = chain.then(f).catch((e: Error) => {
      outputError ??= e;
      stopAll('output error');
    });
    return chain;
  };
  const flush = (released: ReturnType<TimeMerger['take']>) =>
    serial(async () => {
      if (outputError || released.length === 0) return;
      const accepted: (typeof released)[number][] = [];
      for (const m of released) {
        const size = 32 + m.packet.data.length;
        const r = reports[m.source]!;
        if (o.perSource && (r.written >= o.perSource.count || r.bytes + size > o.perSource.maxBytes)) {
          r.cappedAtMs ??= Date.now();
          discarded++;
          continue;
        }
        if (written >= o.count || bytes + size > o.maxBytes) {
          discarded++;
          continue;
        }
        written++;
        bytes += size;
        r.written++;
        r.bytes += size;
        accepted.push(m);
      }
      // What arrived together is decrypted together: the offline stage's batches (one GCM or CBC call per SA)
      const packets = decryptor ? decryptor.processBatch(accepted.map((m) => m.packet)) : accepted.map((m) => m.packet);
      const out = accepted.map((m, i) => {
        const packet = packets[i]!;
        o.onPacket?.(planned[m.source]!.name, packet);
        return { iface: ifaceOf.get(m.source)!, packet };
      });
      await writer.write(out);
      if (decryptor && keys && decryptor.stats.unknownSpis.size > 0) {
        const d = decryptor;
        keys.refreshFor(d.stats.unknownSpis.keys())?.then(
          (r) => {
            keyRead = r;
            d.replaceTable(r.table);
          },
          () => undefined,
        );
      }
      if (written >= o.count) stopAll(`--count ${o.count}`);
      else if (bytes + 32 >= o.maxBytes) stopAll(`--max-size ${o.maxBytes} bytes`);
    });
  // Packets arrive one per exec message; writing them out in 10 ms batches instead of one write per packet
  // is what keeps up with the stream (per-packet writes lost packets at 14 MB/s).
  let flushTimer: NodeJS.Timeout | null = null;
  const scheduleFlush = () => {
    flushTimer ??= setTimeout(() => {
      flushTimer = null;
      void flush(merger.take(Date.now()));
    }, 10);
  };
  const tick = setInterval(() => void flush(merger.take(Date.now())), 100);
  const durationTimer = setTimeout(() => stopAll(`--duration ${Math.round(o.durationMs / 1000)}s`), o.durationMs);
  let listening = 0;

  const runs = indexes.map(async (i) => {
    const p = planned[i]!;
    const src = new LiveSource(
      p.name,
      {
        iface: p.choice.iface,
        filter: p.choice.filter,
        snaplen: p.choice.snaplen ?? o.snaplen,
        count: o.perSource ? Math.min(o.count, o.perSource.count) : o.count,
        durationS: o.durationMs / 1000 + 2,
        netns: p.choice.netns,
      },
      p.via,
      p.target!,
    );
    sources.set(i, src);
    if (stopping) src.stop();
    const result = await src.run(
      exec,
      {
        onHeader: (h) =>
          serial(async () => {
            (reports[i] as { linkType: number | null }).linkType = h.linkType;
            ifaceOf.set(
              i,
              await writer.addInterface({
                name: p.name,
                linkType: h.linkType,
                snaplen: h.snaplen,
                nanosecond: h.nanosecond,
                description: `tcpdump -i ${p.choice.iface} via ${p.via}`,
                filter: p.choice.filter || undefined,
              }),
            );
          }),
        onBatch: (batch) => {
          o.onArrival?.(p.name, batch, Date.now());
          merger.push(i, batch, Date.now());
          scheduleFlush();
        },
        onListening: () => {
          reports[i]!.listeningMs = Date.now();
          if (++listening === indexes.length)
            o.onAllListening?.(
              indexes.length,
              runnable
                .filter((p) => p.choice.netns)
                .map((p) => ({ name: p.name, target: p.target!, netns: p.choice.netns! })),
              [...new Map(runnable.filter((p) => !p.choice.netns).map((p) => [p.node, p.target!])).entries()].map(
                ([node, target]) => ({ node, target }),
              ),
            );
        },
      },
      { timeoutMs: o.durationMs + 2 * GRACE_MS, signal: hard.signal },
    );
    (reports[i] as { result: SourceResult | null }).result = result;
    merger.end(i);
    await flush(merger.take(Date.now()));
  });
  await Promise.all(runs);
  clearInterval(tick);
  if (flushTimer) clearTimeout(flushTimer);
  clearTimeout(durationTimer);
  await flush(merger.drain());
  await serial(async () => {
    for (const [i, iface] of ifaceOf) {
      const r = reports[i]!.result;
      if (!r) continue;
      await writer.writeStatistics(iface, {
        received: r.counters.receivedByFilter,
        dropped: r.counters.droppedByKernel,
        delivered: reports[i]!.written,
        startMs: r.startedMs,
        endMs: r.endedMs,
        comment: r.error ?? undefined,
      });
    }
  });
  if (!outputError) await output.close();
  const err = outputError as Error | null;
  if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE')
    throw new UserError(`--write ${o.write ?? '(none)'}: ${err.message}`);
  const kr = keyRead as Awaited<ReturnType<LiveKeys['read']>> | null;
  return {
    sources: reports,
    written,
    bytes,
    stoppedBy: stopping ? '' : 'every source ended',
    late: merger.late,
    discarded,
    esp:
      decryptor && keys && kr
        ? { stats: decryptor.stats, reads: keys.reads, perNode: kr.perNode, sas: kr.table.sas.length }
        : null,
  };
}

export function formatLiveSummary(r: LiveCaptureResult, target: string): string {
  const lines: string[] = [];
  const ok = r.sources.filter((s) => s.result && !s.result.error && !s.setupError).length;
  lines.push(
    `captured ${r.written} packets (${(r.bytes / 1e6).toFixed(1)} MB) from ${ok}/${r.sources.length} sources into ${target}; stopped by ${r.stoppedBy}`,
  );
  const width = Math.max(...r.sources.map((s) => s.name.length));
  for (const s of r.sources) {
    const name = s.name.padEnd(width);
    if (s.setupError) {
      lines.push(`  ✖ ${name}  not captured: ${s.setupError}`);
      continue;
    }
    const res = s.result!;
    const c = res.counters;
    const counts = [
      `${s.written} packets written`,
      c.receivedByFilter !== null ? `${c.receivedByFilter} received by filter` : null,
      c.droppedByKernel !== null ? `${c.droppedByKernel} dropped by kernel` : 'kernel drops unknown',
      s.linkType !== null ? linkTypeName(s.linkType) : null,
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${res.error ? '✖' : '✔'} ${name}  ${counts}${s.filter ? `  [${s.filter}]` : ''}`);
    if (res.error) lines.push(`      ${res.error}`);
    lines.push(`      via ${s.via}`);
  }
  if (r.late > 0) lines.push(`  ${r.late} packets arrived later than the reorder window and were written out of order`);
  if (r.discarded > 0) lines.push(`  ${r.discarded} packets beyond --count/--max-size were not written`);
  if (r.esp) {
    const e = r.esp;
    const nodes = [...e.perNode].map(([n, v]) => ('error' in v ? `${n}: not read (${v.error})` : `${n}: ${v.sas}`));
    lines.push(`  ESP: ${e.sas} SAs in memory (read ${e.reads} time(s); per node ${nodes.join(', ') || 'none'})`);
    lines.push(`    ESP packets: ${e.stats.espPackets}, decrypted: ${e.stats.decrypted}`);
    for (const [label, n] of [...e.stats.decryptedBySa].sort((a, b) => b[1] - a[1])) lines.push(`      ${label}: ${n}`);
    for (const [reason, n] of [...e.stats.failures].sort((a, b) => b[1] - a[1]))
      lines.push(`    not decrypted (${reason}): ${n}`);
  }
  return `${lines.join('\n')}\n`;
}
