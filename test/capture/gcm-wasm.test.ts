/**
 * The batched AES-GCM path on inputs scapy's vectors do not reach: ciphertexts of every length (not
 * multiples of 16, empty, up to jumbo), AES-128/192/256, batches of one to hundreds of packets, a
 * large batch followed by small ones (the scratch memory is reused, so stale bytes must never count),
 * each packet compared with its CTR decryption by OpenSSL and one flipped bit refused. The
 * WebAssembly it runs is checked to be what gcm-wasm.wat assembles to.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { openGcmBatch } from '../../src/capture/esp/gcm-batch.js';
import { GCM_WASM } from '../../src/capture/esp/gcm-wasm.js';
import type { EspSA } from '../../src/capture/esp/sa-table.js';
import { ROOT } from './helpers.js';

/** Deterministic, so a failure can be replayed (xorshift32). */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function gcmSa(bits: 128 | 192 | 256): { sa: EspSA; key: Buffer; salt: Buffer } {
  const key = randomBytes(bits / 8);
  const salt = randomBytes(4);
  const cipher = { kind: 'gcm', algo: `aes-${bits}-gcm`, key: createSecretKey(key), salt, icvLen: 16 };
  return { sa: { cipher, auth: null } as unknown as EspSA, key, salt };
}

/** An ESP packet (header, IV, ciphertext, ICV) with a `ctLen`-byte ciphertext, as RFC 4106 builds it. */
function espPacket(bits: number, key: Buffer, salt: Buffer, seq: number, ctLen: number): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(0x2000, 0);
  hdr.writeUInt32BE(seq, 4);
  const iv = randomBytes(8);
  const c = createCipheriv(`aes-${bits}-gcm` as 'aes-128-gcm', key, Buffer.concat([salt, iv]));
  c.setAAD(hdr);
  const ct = Buffer.concat([c.update(randomBytes(ctLen)), c.final()]);
  return Buffer.concat([hdr, iv, ct, c.getAuthTag()]);
}

/** GCM's ciphertext is CTR from counter 2 of salt || IV: the plaintext with its ESP trailer. */
function ctrDecrypt(bits: number, key: Buffer, salt: Buffer, esp: Buffer): Buffer {
  const ctr = Buffer.concat([salt, esp.subarray(8, 16), Buffer.from([0, 0, 0, 2])]);
  return createCipheriv(`aes-${bits}-ctr` as 'aes-128-ctr', key, ctr).update(esp.subarray(16, esp.length - 16));
}

test('random batches open to the CTR decryption of each packet, and one flipped bit fails the batch', () => {
  const r = rng(0x5eed);
  for (const bits of [128, 192, 256] as const) {
    const { sa, key, salt } = gcmSa(bits);
    // Largest first: later, smaller batches run over memory still holding the earlier batch's bytes.
    for (const [count, maxLen] of [
      [300, 9000],
      [64, 1500],
      [7, 100],
      [1, 40],
      [1, 0],
      [33, 17],
    ] as const) {
      const esps = Array.from({ length: count }, (_, i) => espPacket(bits, key, salt, i + 1, r(maxLen + 1)));
      const plain = openGcmBatch(sa, esps);
      assert.ok(plain, `AES-${bits}, ${count} packets up to ${maxLen} bytes: authentic batch refused`);
      esps.forEach((e, k) => assert.deepEqual(plain[k], ctrDecrypt(bits, key, salt, e), `AES-${bits} packet ${k}`));
      const bad = esps.map((e) => Buffer.from(e));
      const k = r(count);
      bad[k]![r(bad[k]!.length)]! ^= 1 << r(8);
      assert.equal(openGcmBatch(sa, bad), null, `AES-${bits}, ${count} packets: a flipped bit in packet ${k} passed`);
    }
  }
});

test('the batch plaintext equals a CTR decryption of each packet, byte for byte (trailer included)', () => {
  const r = rng(77);
  const { sa, key, salt } = gcmSa(128);
  const esps = Array.from({ length: 50 }, (_, i) => espPacket(128, key, salt, i + 1, r(3000)));
  const plain = openGcmBatch(sa, esps);
  assert.ok(plain);
  esps.forEach((e, k) => assert.deepEqual(plain[k], ctrDecrypt(128, key, salt, e), `packet ${k}`));
});

test('the embedded WebAssembly is what gcm-wasm.wat assembles to (run scripts/gcm-wasm.mjs after editing it)', async () => {
  const script = `${ROOT}scripts/gcm-wasm.mjs`;
  const { assemble } = (await import(script)) as { assemble(path: string): Promise<Buffer> };
  const bytes = await assemble(`${ROOT}src/capture/esp/gcm-wasm.wat`);
  assert.equal(bytes.toString('base64'), GCM_WASM);
});
