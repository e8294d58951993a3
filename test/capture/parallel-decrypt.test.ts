/**
 * `capture --decrypt-esp --threads N` (src/capture/esp/parallel.ts, pcap-chunks.ts, decrypt-worker.ts): workers
 * take chunks of whole pcap records and write their output in place. Against the single-threaded decryptor on
 * scapy's vectors (make_vectors.py, six rounds of every kind): the same bytes, the same counts in the same order,
 * whatever the thread count and wherever the chunks are cut, including inside a run of one SA's packets (a GCM or
 * CBC batch), before an unknown SPI and before a tampered packet.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EspDecryptor } from '../../src/capture/esp/decryptor.js';
import { ParallelEspDecryptor } from '../../src/capture/esp/parallel.js';
import { SaTable } from '../../src/capture/esp/sa-table.js';
import { statsToWire } from '../../src/capture/esp/stats-wire.js';
import { type PcapChunk, PcapChunker, streamSource } from '../../src/capture/pcap-chunks.js';
import { CaptureReader } from '../../src/capture/pcap-reader.js';
import { pcapRecordsSize, writePcapRecords } from '../../src/capture/pcap-records.js';
import { parseXfrmState } from '../../src/parse/xfrm.js';
import { cli, makeVectors, ROOT, readPcapFile, type Vectors } from './helpers.js';

let v: Vectors;
let table: SaTable;
before(() => {
  v = makeVectors(['--count', '6']);
  table = new SaTable(parseXfrmState(readFileSync(join(v.dir, 'xfrm-state.txt'), 'utf8'), { keepKeys: true }).states);
});
after(() => v.cleanup());

async function* piecesOf(...pieces: Buffer[]): AsyncGenerator<Buffer> {
  yield* pieces;
}

/** The single-threaded stage: CaptureReader, EspDecryptor.processBatch, pcap records. */
async function single(file: string): Promise<{ records: Buffer; stats: ReturnType<typeof statsToWire> }> {
  const reader = new CaptureReader(piecesOf(readFileSync(join(v.dir, file))), file);
  const d = new EspDecryptor(table);
  const parts: Buffer[] = [];
  for await (const batch of reader) {
    const out = d.processBatch(batch);
    const b = Buffer.alloc(pcapRecordsSize(out));
    writePcapRecords(out, reader.format!.nanosecond, b, 0);
    parts.push(b);
  }
  return { records: Buffer.concat(parts), stats: counts(statsToWire(d.stats)) };
}

/** The same input through the chunker and `threads` workers, in chunks of `chunkSize` bytes. */
async function parallel(file: string, chunkSize: number, threads: number, lazily = false) {
  const bytes = readFileSync(join(v.dir, file));
  const chunker = new PcapChunker(bytes.subarray(0, 24), streamSource(bytes, piecesOf()), file, chunkSize);
  const p = new ParallelEspDecryptor(
    table.sas.map((sa) => sa.state),
    chunker.layout,
    threads,
    lazily,
  );
  const chunks: Omit<PcapChunk, 'buffer'>[] = [];
  async function* seen() {
    for await (const c of chunker) {
      chunks.push({ start: c.start, end: c.end, count: c.count, first: c.first });
      yield c;
    }
  }
  const parts: Buffer[] = [];
  try {
    for await (const d of p.decrypt(seen())) parts.push(Buffer.from(d.records));
  } finally {
    await p.close();
  }
  return {
    records: Buffer.concat(parts),
    stats: counts(statsToWire(p.stats)),
    chunks,
    packetsRead: chunker.packetsRead,
  };
}

/**
 * The counts, with per-SA and per-reason counts in name order: the decryptor counts a batch SA by SA, so their
 * first appearance depends on the cuts (the summary sorts them). Unknown SPIs stay in order of appearance.
 */
const counts = (s: ReturnType<typeof statsToWire>) => ({
  ...s,
  decryptedBySa: [...s.decryptedBySa].sort(),
  failures: [...s.failures].sort(),
});

/** The chunk (its index) that holds packet `i` (0-based). */
const chunkOf = (chunks: { first: number; count: number }[], i: number): number =>
  chunks.findIndex((c) => i >= c.first && i < c.first + c.count);

test('every chunk size from one record to the whole file, 1 to 3 workers: the single-threaded bytes and counts', async () => {
  const want = await single('ether.pcap');
  const size = readFileSync(join(v.dir, 'ether.pcap')).length;
  // 1,500 bytes: about one record per chunk; prime steps put the cuts at ever different places.
  for (const [chunkSize, threads] of [
    [1500, 2],
    [2003, 3],
    [4099, 2],
    [8191, 1],
    [16381, 2],
    [size, 2],
  ] as const) {
    const got = await parallel('ether.pcap', chunkSize, threads);
    assert.equal(got.packetsRead, v.manifest.packets.length);
    assert.deepEqual(got.stats, want.stats, `chunk ${chunkSize}, ${threads} threads: counts`);
    assert.ok(got.records.equals(want.records), `chunk ${chunkSize}, ${threads} threads: bytes`);
    if (chunkSize < size) assert.ok(got.chunks.length > 1, `chunk ${chunkSize}: ${got.chunks.length} chunks`);
  }
});

test('started lazily (the default): one chunk decrypted on the main thread, more on workers, the same bytes', async () => {
  const want = await single('ether.pcap');
  const size = readFileSync(join(v.dir, 'ether.pcap')).length;
  for (const chunkSize of [size, 3001]) {
    const got = await parallel('ether.pcap', chunkSize, 2, true);
    assert.equal(got.chunks.length > 1, chunkSize < size);
    assert.deepEqual(got.stats, want.stats, `chunk ${chunkSize}: counts`);
    assert.ok(got.records.equals(want.records), `chunk ${chunkSize}: bytes`);
  }
});

test('the CLI default on a file of several chunks (workers) writes the bytes of --threads 0', () => {
  // ether.pcap's records 150 times over: about 3 MB, three chunks and more.
  const whole = readFileSync(join(v.dir, 'ether.pcap'));
  const big = Buffer.concat([whole.subarray(0, 24), ...Array.from({ length: 150 }, () => whole.subarray(24))]);
  assert.ok(big.length > 2 * (1 << 20));
  writeFileSync(join(v.dir, 'big.pcap'), big);
  const run = (extra: string[], out: string) => {
    const r = cli([
      'capture',
      '-r',
      join(v.dir, 'big.pcap'),
      '--xfrm-state',
      join(v.dir, 'xfrm-state.txt'),
      '--decrypt-esp',
      ...extra,
      '-w',
      join(v.dir, out),
    ]);
    assert.equal(r.status, 0, r.stderr.toString());
    return r.stderr.toString().replace(out, 'OUT');
  };
  const a = run(['--threads', '0'], 'big.t0.pcap');
  const b = run([], 'big.default.pcap');
  assert.equal(b, a);
  assert.match(a, new RegExp(`read ${150 * v.manifest.packets.length} packets`));
  assert.ok(readFileSync(join(v.dir, 'big.default.pcap')).equals(readFileSync(join(v.dir, 'big.t0.pcap'))));
});

test('a run of one SA cut by a chunk boundary (a batch split across two workers) decrypts the same', async () => {
  const want = await single('ether.pcap');
  const got = await parallel('ether.pcap', 6007, 2);
  // The single-threaded run (one batch: the file is smaller than a chunk) opens each SA's good packets together;
  // here an SA has good packets in two neighbouring chunks, so its batch is cut in two, on two workers.
  const kinds = v.manifest.packets;
  const sasIn = (c: { first: number; count: number }) =>
    new Set(kinds.slice(c.first, c.first + c.count).flatMap((p) => (p.kind === 'esp-ok' && p.sa ? [p.sa] : [])));
  const split = got.chunks.slice(1).filter((c, k) => [...sasIn(c)].some((sa) => sasIn(got.chunks[k]!).has(sa)));
  assert.ok(split.length > 0, 'no chunk boundary falls inside a run of one SA; change the chunk size');
  assert.ok(got.records.equals(want.records));
  assert.deepEqual(got.stats, want.stats);
});

test('an unknown SPI first seen in a later chunk: counted, listed in order of appearance, packet kept', async () => {
  const want = await single('ether.pcap');
  const got = await parallel('ether.pcap', 3001, 2);
  const unknown = v.manifest.packets.flatMap((p, i) => (p.kind === 'unknown-spi' ? [i] : []));
  assert.ok(unknown.length >= 2);
  assert.ok(chunkOf(got.chunks, unknown[0]!) > 0, 'the first unknown-SPI packet is in the first chunk');
  assert.deepEqual(got.stats.unknownSpis, want.stats.unknownSpis);
  assert.deepEqual(got.stats.unknownSpis, [[0x5eca1e75, unknown.length]]);
  assert.ok(got.records.equals(want.records));
});

test("a tampered packet in a worker's chunk is the one kept as captured; its neighbours are decrypted", async () => {
  const input = readPcapFile(join(v.dir, 'ether.pcap')).records;
  const expected = readPcapFile(join(v.dir, 'ether.expected.pcap')).records;
  const got = await parallel('ether.pcap', 2503, 2);
  const out = readPcapFile(join(v.dir, 'ether.pcap'));
  // Parse the output records with the naive reader: a pcap header in front of them.
  const file = Buffer.concat([readFileSync(join(v.dir, 'ether.pcap')).subarray(0, 24), got.records]);
  const records = (() => {
    const recs: Buffer[] = [];
    for (let off = 24; off + 16 <= file.length; ) {
      const caplen = file.readUInt32LE(off + 8);
      recs.push(file.subarray(off + 16, off + 16 + caplen));
      off += 16 + caplen;
    }
    return recs;
  })();
  assert.equal(out.records.length, records.length);
  const tampered = v.manifest.packets.flatMap((p, i) => (p.kind === 'tampered' ? [i] : []));
  const later = tampered.filter((i) => chunkOf(got.chunks, i) > 0);
  assert.ok(later.length >= 3, 'tampered packets in later chunks');
  for (const i of later) {
    assert.deepEqual(records[i], input[i]!.data, `packet ${i + 1} (tampered) must be unchanged`);
    for (const j of [i - 1, i + 1])
      if (v.manifest.packets[j]?.kind === 'esp-ok')
        assert.deepEqual(records[j], expected[j]!.data, `packet ${j + 1} next to a tampered one is decrypted`);
  }
  assert.equal(got.stats.failures.find(([r]) => r === 'integrity check failed')?.[1], tampered.length);
});

test('the CLI: --threads 2 (and 1, 3 on ether.pcap) writes the bytes and summary of --threads 0 on every corpus file', () => {
  for (const input of [
    'ether.pcap',
    'ether-be.pcap',
    'ether-ns.pcap',
    'vlan.pcap',
    'sll.pcap',
    'sll2.pcap',
    'raw.pcap',
    'ether.pcapng',
  ]) {
    const run = (threads: number) => {
      const out = join(v.dir, `${input}.t${threads}.out.pcap`);
      const r = cli([
        'capture',
        '-r',
        join(v.dir, input),
        '--xfrm-state',
        join(v.dir, 'xfrm-state.txt'),
        '--decrypt-esp',
        '--threads',
        String(threads),
        '-w',
        out,
      ]);
      assert.equal(r.status, 0, r.stderr.toString());
      return { bytes: readFileSync(out), summary: r.stderr.toString().replace(out, 'OUT') };
    };
    const base = run(0);
    // Each run starts a process (about a second here): every file with 2 workers, the other counts on one file.
    for (const t of input === 'ether.pcap' ? [1, 2, 3] : [2]) {
      const r = run(t);
      assert.ok(r.bytes.equals(base.bytes), `${input} --threads ${t}: bytes`);
      assert.equal(r.summary, base.summary, `${input} --threads ${t}: summary`);
    }
  }
});

test('the CLI from stdin and from a named pipe: the same bytes as from the file', () => {
  const args = (read: string, out: string) => [
    'capture',
    '-r',
    read,
    '--xfrm-state',
    join(v.dir, 'xfrm-state.txt'),
    '--decrypt-esp',
    '--threads',
    '2',
    '-w',
    join(v.dir, out),
  ];
  const file = cli(args(join(v.dir, 'ether.pcap'), 'file.out.pcap'));
  assert.equal(file.status, 0, file.stderr.toString());
  const stdin = cli(args('-', 'stdin.out.pcap'), { input: readFileSync(join(v.dir, 'ether.pcap')) });
  assert.equal(stdin.status, 0, stdin.stderr.toString());
  assert.ok(readFileSync(join(v.dir, 'stdin.out.pcap')).equals(readFileSync(join(v.dir, 'file.out.pcap'))));
  // A named pipe (bash's process substitution) cannot be read at a position: read as a stream.
  const fifo = spawnSync('bash', [
    '-c',
    `"$0" ${args('<(cat "$1")', 'fifo.out.pcap')
      .map((a) => (a.startsWith('<(') ? a : `'${a}'`))
      .join(' ')}`,
    join(ROOT, 'bin/kubectl-flannel'),
    join(v.dir, 'ether.pcap'),
  ]);
  assert.equal(fifo.status, 0, fifo.stderr.toString());
  assert.match(fifo.stderr.toString(), /read \d+ packets from \/dev\/fd\//);
  assert.ok(readFileSync(join(v.dir, 'fifo.out.pcap')).equals(readFileSync(join(v.dir, 'file.out.pcap'))));
  assert.ok(readFileSync(join(v.dir, 'file.out.pcap')).equals(readFileSync(join(v.dir, 'ether.expected.pcap'))));
});

test("a truncated last record and a corrupt length: the reader's warning and error, with workers", () => {
  const whole = readFileSync(join(v.dir, 'ether.pcap'));
  const run = (name: string, bytes: Buffer, threads: number) =>
    cli(
      [
        'capture',
        '-r',
        '-',
        '--xfrm-state',
        join(v.dir, 'xfrm-state.txt'),
        '--decrypt-esp',
        '--threads',
        String(threads),
        '-w',
        join(v.dir, `${name}.t${threads}.pcap`),
      ],
      { input: bytes },
    );
  const cut = whole.subarray(0, whole.length - 7);
  const a = run('cut', cut, 0);
  const b = run('cut', cut, 2);
  assert.equal(a.status, 0);
  assert.equal(b.status, 0);
  assert.match(b.stderr.toString(), /warning: the input ends inside packet \d+ \(\d+ of \d+ bytes\)/);
  assert.equal(b.stderr.toString().replace('t2', 't0'), a.stderr.toString());
  assert.ok(readFileSync(join(v.dir, 'cut.t2.pcap')).equals(readFileSync(join(v.dir, 'cut.t0.pcap'))));
  const corrupt = Buffer.from(whole);
  // The third record's caplen: 24 + two records further.
  let off = 24;
  for (let k = 0; k < 2; k++) off += 16 + corrupt.readUInt32LE(off + 8);
  corrupt.writeUInt32LE(0x7fffffff, off + 8);
  const c = run('corrupt', corrupt, 0);
  const d = run('corrupt', corrupt, 2);
  assert.notEqual(d.status, 0);
  assert.match(d.stderr.toString(), /packet 3 \(byte offset \d+\) claims 2147483647 captured bytes/);
  assert.equal(d.stderr.toString(), c.stderr.toString());
  assert.equal(d.status, c.status);
});
