// GHASH (the GCM authenticator the ESP decryptor checks tags with) against OpenSSL's own AES-GCM: for random keys,
// nonces and every message length up to a few blocks past 1,400 bytes, E(J0) ^ GHASH(A, C) must be OpenSSL's tag.
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ghashLengths, ghashTables, ghashUpdate } from '../../src/capture/esp/ghash.js';

function ourTag(key: Buffer, iv: Buffer, aad: Buffer, ct: Buffer): Buffer {
  const ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  ecb.setAutoPadding(false);
  const t = ghashTables(ecb.update(Buffer.alloc(16)));
  const s = new Uint32Array(4);
  ghashUpdate(t, s, aad, 0, aad.length);
  ghashUpdate(t, s, ct, 0, ct.length);
  ghashLengths(t, s, aad.length, ct.length);
  const ej0 = ecb.update(Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]));
  const tag = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) tag.writeUInt32BE((s[i]! ^ ej0.readUInt32BE(4 * i)) >>> 0, 4 * i);
  return tag;
}

test('GHASH tags equal OpenSSL AES-GCM tags (AES-128/192/256, lengths 0..64 and around 1,400 bytes)', () => {
  const lengths = [...Array.from({ length: 65 }, (_, i) => i), 1391, 1392, 1393, 1400, 1408, 1423];
  for (const keyLen of [16, 24, 32]) {
    for (const len of lengths) {
      const key = randomBytes(keyLen);
      const iv = randomBytes(12);
      const aad = randomBytes(len % 3 === 0 ? 8 : 12);
      const c = createCipheriv(`aes-${keyLen * 8}-gcm` as 'aes-128-gcm', key, iv);
      c.setAAD(aad);
      const ct = Buffer.concat([c.update(randomBytes(len)), c.final()]);
      assert.deepEqual(ourTag(key, iv, aad, ct), c.getAuthTag(), `AES-${keyLen * 8}, ${len} bytes`);
    }
  }
});

test('a flipped ciphertext bit changes the tag', () => {
  const key = randomBytes(16);
  const iv = randomBytes(12);
  const aad = randomBytes(8);
  const c = createCipheriv('aes-128-gcm', key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(randomBytes(100)), c.final()]);
  const tag = c.getAuthTag();
  for (const bit of [0, 7, 8 * 50 + 3, 8 * 99 + 7]) {
    const bad = Buffer.from(ct);
    bad[bit >>> 3] = bad[bit >>> 3]! ^ (1 << (bit & 7));
    assert.notDeepEqual(ourTag(key, iv, aad, bad), tag);
  }
});
