/**
 * What opening AES-GCM packets as a batch buys (src/capture/esp/gcm-batch.ts), in one process on the same packets:
 * decryptEsp (an OpenSSL decipher per packet) against openGcmBatch over batches of 256 packets of one SA, the
 * plaintexts compared first. CPU time, best of 9 interleaved runs, so a loaded machine skews both sides alike.
 * Not a test.
 *
 *   npx tsc -p . && node_modules/.bin/node dist/bench/esp/gcm-batch.js
 */
import { createCipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { decryptEsp, trailer } from '../../src/capture/esp/esp-crypto.js';
import { gcmBatchCounts, openGcmBatch } from '../../src/capture/esp/gcm-batch.js';
import type { EspSA } from '../../src/capture/esp/sa-table.js';

const N = 30_000;
const BATCH = 256;
const SIZES = [64, 512, 1400];
const key = randomBytes(16);
const salt = randomBytes(4);
const sa = {
  cipher: { kind: 'gcm', algo: 'aes-128-gcm', key: createSecretKey(key), salt, icvLen: 16 },
  auth: null,
} as unknown as EspSA;

function packet(i: number): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(0x1000, 0);
  hdr.writeUInt32BE(i + 1, 4);
  const n = SIZES[i % SIZES.length]!;
  const padLen = (4 - ((n + 2) % 4)) % 4;
  const plain = Buffer.concat([randomBytes(n), Buffer.alloc(padLen), Buffer.from([padLen, 4])]);
  const iv = randomBytes(8);
  const c = createCipheriv('aes-128-gcm', key, Buffer.concat([salt, iv]));
  c.setAAD(hdr);
  const body = Buffer.concat([hdr, iv, c.update(plain), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

const packets = Array.from({ length: N }, (_, i) => packet(i));
const batches: Buffer[][] = [];
for (let i = 0; i < N; i += BATCH) batches.push(packets.slice(i, i + BATCH));
const bytes = packets.reduce((a, p) => a + p.length, 0);
for (const b of batches) {
  const plain = openGcmBatch(sa, b);
  if (!plain) throw new Error('a batch of authentic packets failed');
  b.forEach((p, k) => {
    const one = decryptEsp(sa, p);
    const t = trailer(plain[k]!);
    if (!one.ok || !t.ok || !one.payload.equals(t.payload)) throw new Error('the two ways disagree');
  });
}
const cpu = (f: () => void): number => {
  const t = process.cpuUsage();
  f();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / 1e6;
};
const before: number[] = [];
const after: number[] = [];
for (let r = 0; r < 9; r++) {
  before.push(cpu(() => packets.forEach((p) => decryptEsp(sa, p))));
  after.push(cpu(() => batches.forEach((b) => openGcmBatch(sa, b))));
}
if (gcmBatchCounts.failedBatches !== 0) throw new Error('a batch failed its check');
const [b, a] = [Math.min(...before), Math.min(...after)];
const mbs = (s: number) => `${(bytes / s / 1e6).toFixed(1)} MB/s, ${Math.round(N / s).toLocaleString('en')} packets/s`;
console.log(
  `${N.toLocaleString('en')} AES-128-GCM ESP packets (64/512/1400-byte payloads), batches of ${BATCH}, CPU time, best of 9`,
);
console.log(`decryptEsp (an OpenSSL decipher per packet): ${mbs(b)}`);
console.log(`openGcmBatch (one ECB, one GHASH per batch): ${mbs(a)}`);
console.log(`ratio: ${(b / a).toFixed(2)}x`);
