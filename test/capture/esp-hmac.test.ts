/**
 * CBC + HMAC ESP of every length the HMAC engine's reused buffer must handle (empty through jumbo,
 * longest first so shorter packets run over a buffer holding longer ones), for each hash the SA
 * table accepts: each packet's ICV is checked against Node's own createHmac, and one flipped bit in
 * the header, IV, ciphertext or ICV must fail it. scapy's vectors (decrypt-esp.test.ts) cover the
 * same algorithms at their packet sizes.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decryptEsp } from '../../src/capture/esp/esp-crypto.js';
import type { EspSA } from '../../src/capture/esp/sa-table.js';

const HASHES = [
  ['md5', 16, 12],
  ['sha1', 20, 12],
  ['sha256', 32, 16],
  ['sha384', 48, 24],
  ['sha512', 64, 32],
] as const;

function packet(encKey: Buffer, authAlgo: string, authKey: Buffer, icvLen: number, payload: Buffer): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(0xa0a0, 0);
  hdr.writeUInt32BE(1, 4);
  const padLen = (16 - ((payload.length + 2) % 16)) % 16;
  const pad = Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1));
  const plain = Buffer.concat([payload, pad, Buffer.from([padLen, 4])]);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-128-cbc', encKey, iv).setAutoPadding(false);
  const body = Buffer.concat([hdr, iv, c.update(plain), c.final()]);
  return Buffer.concat([body, createHmac(authAlgo, authKey).update(body).digest().subarray(0, icvLen)]);
}

test('HMAC over a reused buffer: every length, every hash, one flipped bit refused', () => {
  for (const [algo, keyLen, icvLen] of HASHES) {
    const encKey = randomBytes(16);
    const authKey = randomBytes(keyLen);
    const sa = {
      cipher: { kind: 'cbc', algo: 'aes-128-cbc', key: createSecretKey(encKey) },
      auth: { hash: algo, key: createSecretKey(authKey), icvLen },
    } as unknown as EspSA;
    for (const size of [70_000, 9000, 2100, 2047, 1400, 100, 17, 0]) {
      const payload = randomBytes(size);
      const esp = packet(encKey, algo, authKey, icvLen, payload);
      const r = decryptEsp(sa, esp);
      assert.ok(r.ok, `${algo} ${size}: authentic packet refused`);
      assert.deepEqual(r.payload, payload, `${algo} ${size}`);
      for (const at of [0, 9, 30, esp.length - icvLen - 1, esp.length - 1]) {
        const bad = Buffer.from(esp);
        bad[at]! ^= 0x80;
        assert.deepEqual(
          decryptEsp(sa, bad),
          { ok: false, reason: 'integrity check failed' },
          `${algo} ${size} @${at}`,
        );
      }
    }
  }
});
