/**
 * bundle's tcpdump samples, taken on a simulated cluster the way bundle takes them on a real one: real tcpdump on
 * every node's uplink (filtered to the overlay) and flannel device while pods ping, the packets tallied by the same
 * SampleTally. The nodes share this host's clock, so no clock offset applies.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureReader } from '../../src/capture/pcap-reader.js';
import { type SampleRole, SampleTally } from '../../src/capture/sample-tally.js';
import {
  describeSamples,
  encapsulationOf,
  sampleDevices,
  sampleSnaplen,
  uplinkFilter,
} from '../../src/live/samples.js';
import { parseCounters } from '../../src/live/tcpdump.js';
import type { NetConf, SampleSource, Snapshot, UnderlaySamples } from '../../src/snapshot/types.js';
import type { SimCluster } from './cluster.js';

/** Every ordered pair of the first three nodes has pod traffic: each pod pings the next. */
export const RING: [string, string][] = [
  ['node1', 'node2'],
  ['node2', 'node3'],
  ['node3', 'node1'],
];

interface Running {
  readonly node: string;
  readonly iface: string;
  readonly role: SampleRole;
  readonly family: 4 | 6 | null;
  readonly file: string;
  readonly child: ChildProcess;
  stderr: string;
  listeningMs: number | null;
}

function netConfOf(s: Snapshot): NetConf {
  const f = s.cluster.flannel;
  if (f.status !== 'ok' || f.data.netConf.status !== 'ok') throw new Error('sim snapshot without net-conf');
  return f.data.netConf.data;
}

/** `families`: which pod addresses are pinged (default every family the cluster has). */
export async function sampleCluster(
  c: SimCluster,
  snapshot: Snapshot,
  traffic: [string, string][],
  families: readonly (4 | 6)[] = [4, 6],
): Promise<UnderlaySamples> {
  const netConf = netConfOf(snapshot);
  const dir = mkdtempSync(join(tmpdir(), 'kfl-sim-samples-'));
  try {
    return await capture(c, snapshot, traffic, families, netConf, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function capture(
  c: SimCluster,
  snapshot: Snapshot,
  traffic: [string, string][],
  families: readonly (4 | 6)[],
  netConf: NetConf,
  dir: string,
): Promise<UnderlaySamples> {
  const backend = netConf.backend;
  const runs: Running[] = [];
  for (const n of c.nodes)
    for (const [iface, role, filter, family, snaplen] of [
      ['eth0', 'uplink', uplinkFilter(netConf), null, sampleSnaplen(backend)],
      ...sampleDevices(netConf).map((d) => [d.iface, 'device', '', d.family, d.snaplen]),
    ] as [string, SampleRole, string, 4 | 6 | null, number][]) {
      const file = join(dir, `${c.prefix}-${n.name}-${iface}.pcap`);
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          n.ns,
          'tcpdump',
          '-U',
          '-n',
          '-i',
          iface,
          '-s',
          String(snaplen),
          '-w',
          file,
          ...(filter ? [filter] : []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const r: Running = { node: n.name, iface, role, family, file, child, stderr: '', listeningMs: null };
      child.stderr!.on('data', (d: Buffer) => {
        r.stderr += d.toString();
        if (r.listeningMs === null && r.stderr.includes('listening on')) r.listeningMs = Date.now();
      });
      runs.push(r);
    }
  const start = Date.now();
  while (runs.some((r) => r.listeningMs === null)) {
    assert.ok(Date.now() - start < 10_000, `tcpdump did not start: ${runs.map((r) => r.stderr).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // After a second, so the packets fall inside every window's margins.
  await new Promise((r) => setTimeout(r, 1100));
  await Promise.all(
    traffic.flatMap(([from, to]) =>
      // Both families where the cluster has them (the pods' IPv6 address is the second of their /64).
      [
        ...(c.v4 && families.includes(4) ? [c.node(to).podIP] : []),
        ...(c.v6 && families.includes(6) ? [`${c.node(to).podNet6}2`] : []),
      ].map(
        (ip) =>
          new Promise<void>((resolve) => {
            const argv = [
              'netns',
              'exec',
              c.node(from).podNs,
              'ping',
              '-n',
              '-q',
              '-c',
              '12',
              '-i',
              '0.2',
              '-W',
              '1',
              ip,
            ];
            spawn('ip', argv, { stdio: 'ignore' }).on('exit', () => resolve());
          }),
      ),
    ),
  );
  await new Promise((r) => setTimeout(r, 1100));
  const ended = await Promise.all(
    runs.map(
      (r) =>
        new Promise<number>((resolve) => {
          r.child.on('exit', () => resolve(Date.now()));
          r.child.kill('SIGINT');
        }),
    ),
  );
  const nodes = snapshot.cluster.nodes.status === 'ok' ? snapshot.cluster.nodes.data : [];
  const tally = new SampleTally(
    nodes.map((k) => ({
      name: k.name,
      ips: [k.flannelAnnotations['public-ip'], ...k.internalIPs].filter((x): x is string => !!x),
      podCIDRs: k.podCIDRs,
    })),
    encapsulationOf(backend),
  );
  const sources: SampleSource[] = [];
  for (const [i, r] of runs.entries()) {
    let packets = 0;
    for await (const batch of new CaptureReader(createReadStream(r.file), r.file))
      for (const p of batch) {
        tally.add(r.node, r.iface, r.role, p);
        packets++;
      }
    const counters = parseCounters(r.stderr);
    sources.push({
      node: r.node,
      iface: r.iface,
      role: r.role,
      family: r.family,
      listeningMs: r.listeningMs,
      endedMs: ended[i]!,
      cappedAtMs: null,
      receivedByFilter: counters.receivedByFilter,
      droppedByKernel: counters.droppedByKernel,
      packets,
      error: null,
      flows: tally.flowsOf(r.node, r.iface, 0),
    });
  }
  return {
    what: describeSamples(backend),
    durationMs: Math.max(...ended) - Math.min(...runs.map((r) => r.listeningMs!)),
    snaplen: sampleSnaplen(backend),
    file: null,
    sources,
  };
}
