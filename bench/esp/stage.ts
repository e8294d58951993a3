/**
 * The steady state of `capture --decrypt-esp` without process start-up or file I/O: the bench file's batches
 * (as CaptureReader cuts them, all held in memory) through EspDecryptor.processBatch and PcapWriter into a
 * discarding stream, CPU time, best of R runs, and a SHA-256 of the output so two versions can be compared
 * byte for byte. Not a test: prints figures. Use it to see what a change to the decryptor buys per CPU-second.
 *
 *   npx tsc -p . && node_modules/.bin/node dist/bench/esp/stage.js [--packets 200000] [--runs 7] [--cpu-prof]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EspDecryptor } from '../../src/capture/esp/decryptor.js';
import { SaTable } from '../../src/capture/esp/sa-table.js';
import type { PacketBatch } from '../../src/capture/packet.js';
import { CaptureReader } from '../../src/capture/pcap-reader.js';
import { PcapWriter } from '../../src/capture/pcap-writer.js';
import { parseXfrmState } from '../../src/parse/xfrm.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PACKETS = arg('packets', 200_000);
const RUNS = arg('runs', 7);

const dir = join(tmpdir(), `kf-esp-stage-${process.pid}`);
mkdirSync(dir, { recursive: true });
let file: Buffer;
let stateText: string;
try {
  execFileSync('/usr/bin/python3', [join(ROOT, 'bench/esp/make_bench_pcap.py'), dir, '--packets', String(PACKETS)], {
    stdio: 'ignore',
  });
  file = readFileSync(join(dir, 'bench.pcap'));
  stateText = readFileSync(join(dir, 'xfrm-state.txt'), 'utf8');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const table = new SaTable(parseXfrmState(stateText, { keepKeys: true }).states);

async function* chunks(): AsyncGenerator<Buffer> {
  for (let o = 0; o < file.length; o += 1 << 20) yield file.subarray(o, o + (1 << 20));
}
const batches: PacketBatch[] = [];
for await (const b of new CaptureReader(chunks(), 'bench.pcap')) batches.push(b);

async function run(): Promise<{ cpu: number; sha: string; decrypted: number }> {
  const sha = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      sha.update(chunk);
      done();
    },
  });
  // The hash is the check, not the stage: its CPU time is taken off below.
  let hashCpu = 0;
  const realUpdate = sha.update.bind(sha);
  sha.update = ((d: Buffer) => {
    const t = process.cpuUsage();
    realUpdate(d);
    const u = process.cpuUsage(t);
    hashCpu += u.user + u.system;
    return sha;
  }) as typeof sha.update;
  const d = new EspDecryptor(table);
  const w = new PcapWriter(sink, { nanosecond: false, snaplen: 262144 }, 'out');
  const t = process.cpuUsage();
  for (const b of batches) await w.write(d.processBatch(b));
  const u = process.cpuUsage(t);
  return { cpu: (u.user + u.system - hashCpu) / 1e6, sha: sha.digest('hex'), decrypted: d.stats.decrypted };
}

const mb = file.length / 1e6;
const cpus: number[] = [];
let sha = '';
for (let r = 0; r < RUNS; r++) {
  const x = await run();
  if (x.decrypted !== PACKETS) throw new Error(`decrypted ${x.decrypted} of ${PACKETS}`);
  if (sha && x.sha !== sha) throw new Error('two runs wrote different output');
  sha = x.sha;
  cpus.push(x.cpu);
}
const best = Math.min(...cpus);
const median = [...cpus].sort((a, b) => a - b)[Math.floor(cpus.length / 2)]!;
console.log(
  `${PACKETS.toLocaleString('en')} packets, ${mb.toFixed(1)} MB, ${batches.length} batches: decrypt + write, CPU best ${best.toFixed(3)} s = ${(mb / best).toFixed(1)} MB per CPU-second (median ${(mb / median).toFixed(1)}); output sha256 ${sha.slice(0, 16)}`,
);
