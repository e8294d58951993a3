/**
 * What reusing cipher objects per SA buys the ESP decryptor (src/capture/esp/esp-crypto.ts), in one process on the
 * same packets: decryptEsp against the straightforward per-packet way (createHmac + createDecipheriv for every
 * packet, as before). CPU time, best of 9 interleaved runs, so a loaded machine skews both sides alike. Not a test.
 *
 *   npx tsc -p . && node_modules/.bin/node dist/bench/esp/cipher-reuse.js
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { decryptEsp } from '../../src/capture/esp/esp-crypto.js';
import type { EspSA } from '../../src/capture/esp/sa-table.js';

const N = 20_000;
const SIZES = [64, 512, 1400];
const ck = randomBytes(16);
const hk = randomBytes(32);
const sa = {
  cipher: { kind: 'cbc', algo: 'aes-128-cbc', key: createSecretKey(ck) },
  auth: { hash: 'sha256', key: createSecretKey(hk), icvLen: 16 },
} as unknown as EspSA;

function packet(i: number): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(0x1000, 0);
  hdr.writeUInt32BE(i + 1, 4);
  const n = SIZES[i % SIZES.length]!;
  const padLen = (16 - ((n + 2) % 16)) % 16;
  const plain = Buffer.concat([
    randomBytes(n),
    Buffer.from(Array.from({ length: padLen }, (_, k) => k + 1)),
    Buffer.from([padLen, 4]),
  ]);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-128-cbc', ck, iv);
  c.setAutoPadding(false);
  const body = Buffer.concat([hdr, iv, c.update(plain), c.final()]);
  return Buffer.concat([body, createHmac('sha256', hk).update(body).digest().subarray(0, 16)]);
}

/** The per-packet way: a new HMAC and a new decipher for every packet. */
function perPacket(esp: Buffer): Buffer | null {
  const authed = esp.length - 16;
  const mac = createHmac('sha256', sa.auth!.key).update(esp.subarray(0, authed)).digest();
  if (!timingSafeEqual(mac.subarray(0, 16), esp.subarray(authed))) return null;
  const d = createDecipheriv('aes-128-cbc', sa.cipher.kind === 'cbc' ? sa.cipher.key : ck, esp.subarray(8, 24));
  d.setAutoPadding(false);
  return Buffer.concat([d.update(esp.subarray(24, authed)), d.final()]);
}

const packets = Array.from({ length: N }, (_, i) => packet(i));
const bytes = packets.reduce((a, p) => a + p.length, 0);
for (const p of packets.slice(0, 100)) {
  const a = perPacket(p);
  const b = decryptEsp(sa, p);
  if (!a || !b.ok || !a.subarray(0, b.payload.length).equals(b.payload)) throw new Error('the two ways disagree');
}
const cpu = (f: (p: Buffer) => unknown): number => {
  const t = process.cpuUsage();
  for (const p of packets) f(p);
  const u = process.cpuUsage(t);
  return (u.user + u.system) / 1e6;
};
const before: number[] = [];
const after: number[] = [];
for (let r = 0; r < 9; r++) {
  before.push(cpu(perPacket));
  after.push(cpu((p) => decryptEsp(sa, p)));
}
const [b, a] = [Math.min(...before), Math.min(...after)];
const mbs = (s: number) => `${(bytes / s / 1e6).toFixed(1)} MB/s`;
console.log(
  `${N.toLocaleString('en')} AES-128-CBC + HMAC-SHA256-128 ESP packets (64/512/1400-byte payloads), CPU time, best of 9`,
);
console.log(`per packet (new HMAC and decipher each): ${mbs(b)}`);
console.log(`decryptEsp (objects reused per SA):      ${mbs(a)}`);
console.log(`ratio: ${(b / a).toFixed(2)}x`);
