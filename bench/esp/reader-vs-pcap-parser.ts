/**
 * Why capture has its own pcap reader instead of pcap-parser 0.2.1 (the design card's choice):
 * measures both on the same inputs and prints what each does. Not a test.
 *
 *   npx tsc -p . && node_modules/.bin/node dist/bench/esp/reader-vs-pcap-parser.js [--packets 200000]
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CaptureReader } from '../../src/capture/pcap-reader.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(import.meta.url);
interface PcapParser {
  on(ev: 'packet', f: (p: { data: Buffer }) => void): PcapParser;
  on(ev: 'error', f: (e: Error) => void): PcapParser;
  on(ev: 'end', f: () => void): PcapParser;
}
const pcapParser = require('pcap-parser') as { parse(input: string | Readable): PcapParser };

const i = process.argv.indexOf('--packets');
const PACKETS = i > 0 ? Number(process.argv[i + 1]) : 200_000;
const dir = join(tmpdir(), `kf-reader-bench-${process.pid}`);

function viaPcapParser(
  input: string | Readable,
): Promise<{ packets: number; error: string | null; ms: number; peakRssMB: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let packets = 0;
    let error: string | null = null;
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const p = pcapParser.parse(input);
    p.on('packet', () => packets++);
    p.on('error', (e) => (error = e.message));
    p.on('end', () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      resolve({ packets, error, ms: performance.now() - t0, peakRssMB: peak / 1e6 });
    });
  });
}

async function viaOurs(
  path: string,
): Promise<{ packets: number; error: string | null; ms: number; peakRssMB: number }> {
  const t0 = performance.now();
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const reader = new CaptureReader(createReadStream(path, { highWaterMark: 1 << 20 }), path);
  let packets = 0;
  let error: string | null = null;
  try {
    for await (const batch of reader) packets += batch.length;
    if (reader.truncatedTail) error = `input ends inside packet ${reader.truncatedTail.packetIndex} (reported)`;
  } catch (e) {
    error = (e as Error).message.replace(path, 'FILE');
  }
  clearInterval(timer);
  return { packets, error, ms: performance.now() - t0, peakRssMB: Math.max(peak, process.memoryUsage().rss) / 1e6 };
}

type Result = { packets: number; error: string | null; ms: number; peakRssMB: number };

// Each measurement runs in a fresh process so peak RSS is that reader's alone.
const one = process.argv.indexOf('--one');
if (one > 0) {
  const [which, file] = [process.argv[one + 1]!, process.argv[one + 2]!];
  const r = which === 'pcap-parser' ? await viaPcapParser(file) : await viaOurs(file);
  process.stdout.write(JSON.stringify(r));
  process.exit(0);
}
const measure = (which: string, file: string): Result =>
  JSON.parse(
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--one', which, file], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }),
  ) as Result;

mkdirSync(dir, { recursive: true });
try {
  execFileSync('/usr/bin/python3', [join(ROOT, 'bench/esp/make_bench_pcap.py'), dir, '--packets', String(PACKETS)], {
    stdio: 'ignore',
  });
  const us = join(dir, 'bench.pcap');
  const ns = join(dir, 'ns.pcap');
  const corrupt = join(dir, 'corrupt.pcap');
  const cut = join(dir, 'cut.pcap');
  {
    const buf = readFileSync(us);
    // Same packets with the nanosecond magic (what `tcpdump --time-stamp-precision=nano -w` writes).
    const nsBuf = Buffer.from(buf);
    nsBuf.writeUInt32LE(0xa1b23c4d, 0);
    writeFileSync(ns, nsBuf);
    // A corrupt first record length, in front of the first 20 MB of the file.
    const c = Buffer.from(buf.subarray(0, 20_000_000));
    c.writeUInt32LE(0x7fffffff, 24 + 8);
    writeFileSync(corrupt, c);
    // A file cut in the middle of its last packet.
    writeFileSync(cut, buf.subarray(0, buf.length - 100));
  }
  const mb = statSync(us).size / 1e6;
  console.log(
    `input: ${PACKETS.toLocaleString('en')} packets, ${mb.toFixed(1)} MB; node ${process.version}; one run each, each in its own process`,
  );
  const show = (name: string, r: Result): void =>
    console.log(
      `  ${name.padEnd(16)} ${String(r.packets).padStart(8)} packets ${r.ms.toFixed(0).padStart(6)} ms  peak RSS ${r.peakRssMB.toFixed(0).padStart(4)} MB  ${r.error ? `error: ${r.error}` : 'no error'}`,
    );
  for (const [label, file] of [
    ['µs pcap', us],
    ['ns pcap', ns],
    ['corrupt length (20 MB file)', corrupt],
    ['truncated file', cut],
  ] as const) {
    console.log(`${label}:`);
    show('pcap-parser', measure('pcap-parser', file));
    show('CaptureReader', measure('ours', file));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
