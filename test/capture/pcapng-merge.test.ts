/**
 * Live capture's building blocks on real packets: the tcpdump wrapper the nodes run (stop line,
 * dead-man timer, kernel counters) is run here by sh in two network namespaces this test creates
 * while one pings the other; the two real pcap streams are merged by TimeMerger and written by
 * PcapngWriter; tshark (an independent reader) must see every packet, each interface by name with
 * its own link type, in time order, and the statistics blocks must carry the kernel's counters.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { TimeMerger } from '../../src/capture/merge.js';
import type { CapturedPacket, PacketBatch } from '../../src/capture/packet.js';
import { CaptureReader } from '../../src/capture/pcap-reader.js';
import { PcapngWriter } from '../../src/capture/pcapng-writer.js';
import { isListening, parseCounters, STOP_LINE, tcpdumpArgv } from '../../src/live/tcpdump.js';

const id = randomBytes(3).toString('hex');
const nsA = `kfma${id}`;
const nsB = `kfmb${id}`;
const vethA = `kfma${id}`;
const vethB = `kfmb${id}`;
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kf-merge-'));
  execFileSync('ip', ['netns', 'add', nsA]);
  execFileSync('ip', ['netns', 'add', nsB]);
  execFileSync('ip', ['-n', nsA, 'link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB]);
  for (const [ns, dev, ip] of [
    [nsA, vethA, '10.213.77.1/24'],
    [nsB, vethB, '10.213.77.2/24'],
  ] as const) {
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    execFileSync('ip', ['-n', ns, 'addr', 'add', ip, 'dev', dev]);
    execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
});
after(() => {
  spawnSync('ip', ['netns', 'del', nsA]);
  spawnSync('ip', ['netns', 'del', nsB]);
  rmSync(dir, { recursive: true, force: true });
});

interface Wrapped {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly code: number | null;
  readonly ms: number;
}

/** Runs the exact argv a node would run (`sh -c WRAPPER …`) in a namespace; `stop` writes the stop line. */
function runWrapper(ns: string, argv: string[]): { listening: Promise<void>; stop(): void; done: Promise<Wrapped> } {
  const started = Date.now();
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  let onListen!: () => void;
  const listening = new Promise<void>((r) => (onListen = r));
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (isListening(err)) onListen();
  });
  const done = once(child, 'exit').then(([code]) => ({
    stdout: Buffer.concat(out),
    stderr: err,
    code: code as number | null,
    ms: Date.now() - started,
  }));
  return { listening, stop: () => child.stdin.write(STOP_LINE), done };
}

async function packetsOf(pcap: Buffer): Promise<CapturedPacket[]> {
  const all: CapturedPacket[] = [];
  const one = async function* () {
    yield pcap;
  };
  for await (const b of new CaptureReader(one(), 'test')) all.push(...b);
  return all;
}

function tshark(file: string, fields: string[], filter?: string): string[][] {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])];
  if (filter) args.push('-Y', filter);
  return execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'));
}

/** Interface Statistics Blocks, read naively (independent of the writer's code). */
function statisticsBlocks(file: string): { iface: number; recv: bigint | null; drop: bigint | null }[] {
  const b = readFileSync(file);
  const out: { iface: number; recv: bigint | null; drop: bigint | null }[] = [];
  for (let off = 0; off < b.length; ) {
    const type = b.readUInt32LE(off);
    const len = b.readUInt32LE(off + 4);
    if (type === 5) {
      const s = { iface: b.readUInt32LE(off + 8), recv: null as bigint | null, drop: null as bigint | null };
      for (let o = off + 20; o < off + len - 4; ) {
        const code = b.readUInt16LE(o);
        const olen = b.readUInt16LE(o + 2);
        if (code === 0) break;
        if (code === 4) s.recv = b.readBigUInt64LE(o + 4);
        if (code === 5) s.drop = b.readBigUInt64LE(o + 4);
        o += 4 + Math.ceil(olen / 4) * 4;
      }
      out.push(s);
    }
    off += len;
  }
  return out;
}

test('two real tcpdump streams merge into one pcapng that tshark reads with names, link types and time order', async () => {
  const pings = 20;
  // Source 0: the sender's veth (Ethernet). Source 1: `any` on the receiver (Linux cooked v2).
  const a = runWrapper(nsA, tcpdumpArgv({ iface: vethA, filter: 'icmp', snaplen: 262144, count: 1000, durationS: 30 }));
  const b = runWrapper(nsB, tcpdumpArgv({ iface: 'any', filter: 'icmp', snaplen: 262144, count: 1000, durationS: 30 }));
  await Promise.all([a.listening, b.listening]);
  execFileSync('ip', ['netns', 'exec', nsA, 'ping', '-c', String(pings), '-i', '0.02', '-q', '10.213.77.2']);
  a.stop();
  b.stop();
  const [ra, rb] = await Promise.all([a.done, b.done]);
  for (const r of [ra, rb]) {
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 20_000, 'the stop line ended tcpdump long before its timer');
  }
  const ca = parseCounters(ra.stderr);
  const cb = parseCounters(rb.stderr);
  assert.equal(ca.captured, 2 * pings, ra.stderr);
  assert.equal(cb.captured, 2 * pings, rb.stderr);
  assert.equal(ca.droppedByKernel, 0);

  const pa = await packetsOf(ra.stdout);
  const pb = await packetsOf(rb.stdout);
  assert.equal(pa[0]!.linkType, 1);
  assert.equal(pb[0]!.linkType, 276);

  // Feed them as a live capture would: small interleaved batches, source 1 arriving later.
  const merger = new TimeMerger([0, 1], 500);
  const file = join(dir, 'merged.pcapng');
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const w = new PcapngWriter(out);
  const ifA = await w.addInterface({
    name: 'nodeA/veth',
    linkType: 1,
    snaplen: 262144,
    nanosecond: false,
    filter: 'icmp',
  });
  const ifB = await w.addInterface({ name: 'nodeB/any', linkType: 276, snaplen: 262144, nanosecond: false });
  const ifaceOf = [ifA, ifB];
  let now = 0;
  const emit = async (batch: ReturnType<TimeMerger['take']>) =>
    w.write(batch.map((m) => ({ iface: ifaceOf[m.source]!, packet: m.packet })));
  const batches = (ps: CapturedPacket[], size: number): PacketBatch[] => {
    const r: PacketBatch[] = [];
    for (let i = 0; i < ps.length; i += size) r.push(ps.slice(i, i + size));
    return r;
  };
  const ba = batches(pa, 3);
  const bb = batches(pb, 5);
  for (let i = 0; i < Math.max(ba.length, bb.length); i++) {
    now += 10;
    if (ba[i]) merger.push(0, ba[i]!, now);
    await emit(merger.take(now));
    if (i >= 2 && bb[i - 2]) merger.push(1, bb[i - 2]!, now);
    await emit(merger.take(now));
  }
  for (let i = Math.max(ba.length, bb.length) - 2; i < bb.length; i++) if (bb[i]) merger.push(1, bb[i]!, now);
  merger.end(0);
  merger.end(1);
  await emit(merger.drain());
  await w.writeStatistics(ifA, {
    received: ca.receivedByFilter,
    dropped: ca.droppedByKernel,
    delivered: pa.length,
    startMs: 1,
    endMs: 2,
  });
  await w.writeStatistics(ifB, {
    received: cb.receivedByFilter,
    dropped: 7,
    delivered: pb.length,
    startMs: 1,
    endMs: 2,
  });
  out.end();
  await once(out, 'end');
  writeFileSync(file, Buffer.concat(chunks));

  const rows = tshark(file, ['frame.interface_name', 'frame.time_epoch', 'icmp.type']);
  assert.equal(rows.length, pa.length + pb.length);
  assert.equal(merger.late, 0);
  const byName = (n: string) => rows.filter((r) => r[0] === n);
  assert.equal(byName('nodeA/veth').length, 2 * pings);
  assert.equal(byName('nodeB/any').length, 2 * pings);
  assert.equal(byName('nodeA/veth').filter((r) => r[2] === '8').length, pings, 'echo requests seen on A');
  assert.equal(byName('nodeB/any').filter((r) => r[2] === '0').length, pings, 'echo replies seen on B');
  const times = rows.map((r) => Number(r[1]));
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `packet ${i + 1} is out of time order`);
  // Both link types survive (Ethernet and SLL2 decode to the same ICMP).
  assert.deepEqual(
    new Set(tshark(file, ['frame.interface_name', 'frame.protocols']).map((r) => `${r[0]} ${r[1]!.split(':')[0]}`)),
    new Set(['nodeA/veth eth', 'nodeB/any sll']),
  );
  // Every byte of every packet is the one tcpdump captured.
  const ours = await packetsOf(Buffer.concat(chunks));
  const key = (p: CapturedPacket) => `${p.linkType} ${p.tsSec}.${p.tsNsec} ${p.data.toString('hex')}`;
  assert.deepEqual(ours.map(key).sort(), [...pa, ...pb].map(key).sort());
  assert.deepEqual(statisticsBlocks(file), [
    { iface: 0, recv: BigInt(ca.receivedByFilter!), drop: 0n },
    { iface: 1, recv: BigInt(cb.receivedByFilter!), drop: 7n },
  ]);
});

test('the wrapper ends tcpdump by its own timer, with counters, when no stop line comes', async () => {
  // A filter nothing here sends: the link's own IPv6 neighbour discovery made an empty filter capture 2 packets.
  const r = runWrapper(
    nsA,
    tcpdumpArgv({ iface: vethA, filter: 'udp port 9', snaplen: 96, count: 1000, durationS: 1 }),
  );
  const done = await r.done;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(done.ms < 8000, `took ${done.ms} ms`);
  assert.equal(parseCounters(done.stderr).captured, 0);
  assert.equal(done.stdout.readUInt32LE(0), 0xa1b2c3d4, 'a pcap header, even with no packet');
});

test('an unknown interface is an error tcpdump names', async () => {
  const r = runWrapper(nsA, tcpdumpArgv({ iface: 'nosuchdev0', filter: '', snaplen: 96, count: 1, durationS: 5 }));
  const done = await r.done;
  assert.notEqual(done.code, 0);
  assert.match(done.stderr, /nosuchdev0/);
});

test('the merger releases by watermark, lets an idle source not hold others past the window, counts late packets', () => {
  const p = (sec: number): CapturedPacket => ({
    tsSec: sec,
    tsNsec: 0,
    origLen: 1,
    linkType: 1,
    data: Buffer.from([sec]),
  });
  const m = new TimeMerger([0, 1], 1000);
  m.push(0, [p(10), p(12)], 0);
  assert.deepEqual(m.take(0), [], 'source 1 has said nothing yet: hold');
  m.push(1, [p(11)], 100);
  assert.deepEqual(
    m.take(100).map((x) => x.packet.tsSec),
    [10, 11],
    'up to the oldest latest timestamp',
  );
  assert.deepEqual(m.take(900), []);
  assert.deepEqual(
    m.take(1000).map((x) => x.packet.tsSec),
    [12],
    'source 1 idle for the window: released',
  );
  m.push(1, [p(11)], 1100);
  assert.deepEqual(
    m.drain().map((x) => x.packet.tsSec),
    [11],
  );
  assert.equal(m.late, 1);
  const n = new TimeMerger([0, 1], 1000);
  n.push(0, [p(5)], 0);
  n.end(1);
  assert.deepEqual(
    n.take(0).map((x) => x.packet.tsSec),
    [5],
    'an ended source holds nothing back',
  );
});
