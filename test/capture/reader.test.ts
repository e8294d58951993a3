/**
 * The reader on bad and awkward input: garbage, truncation, corrupt lengths, tiny chunks, files
 * rewritten by the real tcpdump/libpcap. Errors must name the input; nothing may crash.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CaptureReader } from '../../src/capture/pcap-reader.js';
import { UserError } from '../../src/errors.js';
import { cli, makeVectors, readPcapFile, type Vectors } from './helpers.js';

let v: Vectors;
before(() => {
  v = makeVectors();
});
after(() => v.cleanup());

async function readAll(
  buf: Buffer,
  chunk: number,
): Promise<{ reader: CaptureReader; packets: Buffer[]; ts: [number, number][] }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) chunks.push(buf.subarray(i, i + chunk));
  const reader = new CaptureReader(Readable.from(chunks), 'test.pcap');
  const packets: Buffer[] = [];
  const ts: [number, number][] = [];
  for await (const batch of reader) {
    for (const p of batch) {
      packets.push(Buffer.from(p.data));
      ts.push([p.tsSec, p.tsNsec]);
    }
  }
  return { reader, packets, ts };
}

test('any chunking of the input gives the same packets (1, 7, 4096 bytes; pcap and pcapng)', async () => {
  for (const file of ['ether.pcap', 'ether-be.pcap', 'ether-ns.pcap', 'ether.pcapng']) {
    const buf = readFileSync(join(v.dir, file));
    const whole = await readAll(buf, buf.length);
    assert.equal(whole.packets.length, v.manifest.packets.length, file);
    for (const size of [1, 7, 4096]) {
      const r = await readAll(buf, size);
      assert.deepEqual(r.packets, whole.packets, `${file} in ${size}-byte chunks`);
      assert.deepEqual(r.ts, whole.ts);
    }
  }
});

test('records longer than the join of a cut record (64 KiB) read whole across chunks of every size around it', async () => {
  const sizes = [200_000, 10, 150_000, 70_000, 65_536, 65_535, 3, 262_144];
  const recs = sizes.map((n, i) => Buffer.alloc(n, i + 1));
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262_144, 16);
  header.writeUInt32LE(1, 20);
  const file = Buffer.concat([
    header,
    ...recs.flatMap((r) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(r.length, 8);
      h.writeUInt32LE(r.length, 12);
      return [h, r];
    }),
  ]);
  for (const chunk of [1000, 65_535, 65_536, 65_537, 100_000, 300_000, 1 << 20]) {
    const { reader, packets } = await readAll(file, chunk);
    assert.deepEqual(packets, recs, `chunks of ${chunk}`);
    assert.equal(reader.truncatedTail, null);
  }
});

test('timestamps: µs, ns and pcapng are read to the nanosecond the file holds', async () => {
  const us = await readAll(readFileSync(join(v.dir, 'ether.pcap')), 1 << 16);
  const ns = await readAll(readFileSync(join(v.dir, 'ether-ns.pcap')), 1 << 16);
  const ng = await readAll(readFileSync(join(v.dir, 'ether.pcapng')), 1 << 16);
  // make_vectors.py: packet i at BASE + i s and (123456789 + i * 1000003) % 1e9 ns.
  ns.ts.forEach(([s, n], i) => assert.deepEqual([s, n], [1763777000 + i, (123456789 + i * 1000003) % 1e9]));
  us.ts.forEach(([s, n], i) => assert.deepEqual([s, n], [ns.ts[i]![0], Math.floor(ns.ts[i]![1] / 1000) * 1000]));
  assert.deepEqual(ng.ts, us.ts);
});

test('garbage, empty and too-short input give a UserError naming the input', async () => {
  const cases: [Buffer, RegExp][] = [
    [
      Buffer.from('this is not a capture file at all, just text\n'),
      /test\.pcap: not a pcap or pcapng file \(starts with 0x74686973\)/,
    ],
    [Buffer.alloc(0), /test\.pcap: empty input/],
    [Buffer.from([0xd4, 0xc3, 0xb2]), /test\.pcap: only 3 bytes/],
  ];
  for (const [buf, re] of cases) {
    await assert.rejects(readAll(buf, 64), (e: unknown) => e instanceof UserError && re.test(e.message));
  }
});

test('a corrupt record length is an error before anything is buffered, not a memory blow-up', async () => {
  const buf = Buffer.from(readFileSync(join(v.dir, 'ether.pcap')));
  buf.writeUInt32LE(0x7fffffff, 24 + 8); // first record's caplen
  await assert.rejects(readAll(buf, 1 << 16), /packet 1 \(byte offset 24\) claims 2147483647 captured bytes.*corrupt/);
  // A header snaplen of 4 GiB does not raise the bound: records stay limited to 16 MiB.
  const huge = Buffer.from(readFileSync(join(v.dir, 'ether.pcap')));
  huge.writeUInt32LE(0xffffffff, 16);
  huge.writeUInt32LE(0x7fffffff, 24 + 8);
  await assert.rejects(readAll(huge, 1 << 16), /claims 2147483647 captured bytes, more than the maximum 16777216/);
  const ng = Buffer.from(readFileSync(join(v.dir, 'ether.pcapng')));
  ng.writeUInt32LE(13, 4); // SHB length not a multiple of 4
  await assert.rejects(readAll(ng, 1 << 16), /pcapng block at byte 0 has invalid length 13/);
});

test('a file cut in the middle of a packet: earlier packets survive, the cut is reported', async () => {
  const buf = readFileSync(join(v.dir, 'ether.pcap'));
  const cut = buf.subarray(0, buf.length - 50);
  const r = await readAll(cut, 1000);
  assert.equal(r.packets.length, v.manifest.packets.length - 1);
  assert.equal(r.reader.truncatedTail?.packetIndex, v.manifest.packets.length);

  const path = join(v.dir, 'cut.pcap');
  writeFileSync(path, cut);
  const run = cli([
    'capture',
    '-r',
    path,
    '--xfrm-state',
    join(v.dir, 'xfrm-state.txt'),
    '--decrypt-esp',
    '-w',
    join(v.dir, 'cut.out.pcap'),
  ]);
  assert.equal(run.status, 0);
  assert.match(
    run.stderr.toString(),
    /warning: the input ends inside packet 27 \(\d+ of \d+ bytes\); that packet is dropped/,
  );
  assert.equal(readPcapFile(join(v.dir, 'cut.out.pcap')).records.length, v.manifest.packets.length - 1);
});

test('random garbage after a valid header never crashes: it is an error or per-packet failures', () => {
  const header = readFileSync(join(v.dir, 'ether.pcap')).subarray(0, 24);
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let n = 0; n < 5; n++) {
    const body = Buffer.alloc(3000, 0).map(() => rnd());
    const path = join(v.dir, `garbage${n}.pcap`);
    writeFileSync(path, Buffer.concat([header, body]));
    const r = cli([
      'capture',
      '-r',
      path,
      '--xfrm-state',
      join(v.dir, 'xfrm-state.txt'),
      '--decrypt-esp',
      '-w',
      join(v.dir, `g${n}.out`),
    ]);
    const err = r.stderr.toString();
    assert.ok(r.status === 0 || r.status === 3, `exit ${r.status}: ${err}`);
    assert.doesNotMatch(err, /\n\s+at /, 'stack trace printed');
  }
});

test('files written by the real tcpdump (libpcap) read back: -w from a pcapng, and nanosecond precision', () => {
  const us = join(v.dir, 'tcpdump-us.pcap');
  const ns = join(v.dir, 'tcpdump-ns.pcap');
  execFileSync('tcpdump', ['-r', join(v.dir, 'ether.pcapng'), '-w', us], { stdio: 'ignore' });
  execFileSync('tcpdump', ['--time-stamp-precision=nano', '-r', join(v.dir, 'ether-ns.pcap'), '-w', ns], {
    stdio: 'ignore',
  });
  assert.equal(readFileSync(ns).readUInt32LE(0), 0xa1b23c4d, 'tcpdump wrote a nanosecond file');
  for (const [file, expected] of [
    [us, 'ether.expected.pcap'],
    [ns, 'ether-ns.expected.pcap'],
  ] as const) {
    const out = `${file}.out`;
    const r = cli(['capture', '-r', file, '--xfrm-state', join(v.dir, 'xfrm-state.txt'), '--decrypt-esp', '-w', out]);
    assert.equal(r.status, 0, r.stderr.toString());
    const got = readPcapFile(out).records;
    const want = readPcapFile(join(v.dir, expected)).records;
    assert.deepEqual(
      got.map((x) => [x.sec, x.frac, x.data]),
      want.map((x) => [x.sec, x.frac, x.data]),
    );
  }
});
