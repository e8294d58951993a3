/**
 * AES-GCM for a batch of one SA's packets with three OpenSSL calls instead of a decipher per packet
 * (createDecipheriv, setAAD, setAuthTag, update and final cost ~6 µs per packet; bench/esp/throughput.ts).
 *
 * GCM is CTR encryption plus GHASH, a polynomial in H = E_K(0) over the AAD and ciphertext blocks:
 * - the keystream of every packet (counter blocks salt||IV||2.., and J0 = salt||IV||1 for the tag
 *   mask) comes from one long-lived AES-ECB encryption over all of the batch's counter blocks;
 * - GHASH is linear, so OpenSSL's GHASH over all packets' blocks laid end to end (given as the AAD of
 *   one GCM encryption of nothing) equals the Horner fold of the packets' own GHASHes:
 *   Y = (..(S_1·H^n_2 ⊕ S_2)·H^n_3 ..) ⊕ S_m, where S_i must be T_i ⊕ E_K(J0_i) for packet i's tag T_i.
 * The batch passes only when that one equation holds; a forged or corrupted packet breaks it (making
 * two errors cancel needs H, i.e. the key). When it fails the caller checks each packet on its own,
 * so a bad packet is still found and named. Plaintext exists only after the check has passed.
 * Only full 16-byte ICVs: a truncated tag hides part of S_i.
 */
import { type Cipheriv, createCipheriv, timingSafeEqual } from 'node:crypto';
import { endianness } from 'node:os';
import type { EspSA } from './sa-table.js';

type GcmCipher = Extract<EspSA['cipher'], { kind: 'gcm' }>;

/** ESP header (SPI, sequence number: the AAD) and the 8-byte IV that follows it. */
const ESP_HEADER = 8;
const IV = 8;
const ICV = 16;

/** a·b in GF(2^128) with GCM's bit order (SP 800-38D algorithm 1); blocks are four big-endian u32 words. */
function gmul(a: Uint32Array, ao: number, b: Uint32Array, bo: number, out: Uint32Array, oo: number): void {
  let z0 = 0;
  let z1 = 0;
  let z2 = 0;
  let z3 = 0;
  let v0 = b[bo]!;
  let v1 = b[bo + 1]!;
  let v2 = b[bo + 2]!;
  let v3 = b[bo + 3]!;
  for (let w = 0; w < 4; w++) {
    const x = a[ao + w]!;
    for (let bit = 31; bit >= 0; bit--) {
      if ((x >>> bit) & 1) {
        z0 ^= v0;
        z1 ^= v1;
        z2 ^= v2;
        z3 ^= v3;
      }
      const lsb = v3 & 1;
      v3 = (v3 >>> 1) | (v2 << 31);
      v2 = (v2 >>> 1) | (v1 << 31);
      v1 = (v1 >>> 1) | (v0 << 31);
      v0 = (v0 >>> 1) ^ (lsb ? 0xe1000000 : 0);
    }
  }
  out[oo] = z0;
  out[oo + 1] = z1;
  out[oo + 2] = z2;
  out[oo + 3] = z3;
}

/**
 * A 4-bit table of multiples of P (Shoup's method): entry (pos, v) = the product of P and the block
 * holding nibble v at nibble position pos; a product is then 32 lookups instead of 128 shift steps.
 */
function shoupTable(p: Uint32Array, po: number): Uint32Array {
  // v[i] = P·x^i: what bit i (most significant first) of the other factor contributes.
  const v = new Uint32Array(128 * 4);
  v.set(p.subarray(po, po + 4), 0);
  for (let i = 1; i < 128; i++) {
    const o = 4 * (i - 1);
    const lsb = v[o + 3]! & 1;
    v[4 * i] = (v[o]! >>> 1) ^ (lsb ? 0xe1000000 : 0);
    v[4 * i + 1] = (v[o + 1]! >>> 1) | (v[o]! << 31);
    v[4 * i + 2] = (v[o + 2]! >>> 1) | (v[o + 1]! << 31);
    v[4 * i + 3] = (v[o + 3]! >>> 1) | (v[o + 2]! << 31);
  }
  const t = new Uint32Array(32 * 16 * 4);
  for (let pos = 0; pos < 32; pos++) {
    for (let nib = 1; nib < 16; nib++) {
      const e = (pos * 16 + nib) * 4;
      for (let j = 0; j < 4; j++) {
        if (!((nib >> (3 - j)) & 1)) continue;
        const b = 4 * (4 * pos + j);
        t[e] = t[e]! ^ v[b]!;
        t[e + 1] = t[e + 1]! ^ v[b + 1]!;
        t[e + 2] = t[e + 2]! ^ v[b + 2]!;
        t[e + 3] = t[e + 3]! ^ v[b + 3]!;
      }
    }
  }
  return t;
}

/** out = a·P, P given by its `shoupTable`. */
function gmulTable(a: Uint32Array, t: Uint32Array, out: Uint32Array): void {
  let z0 = 0;
  let z1 = 0;
  let z2 = 0;
  let z3 = 0;
  for (let w = 0; w < 4; w++) {
    const x = a[w]!;
    for (let k = 0; k < 8; k++) {
      const e = ((w * 8 + k) * 16 + ((x >>> (28 - 4 * k)) & 15)) * 4;
      z0 ^= t[e]!;
      z1 ^= t[e + 1]!;
      z2 ^= t[e + 2]!;
      z3 ^= t[e + 3]!;
    }
  }
  out[0] = z0;
  out[1] = z1;
  out[2] = z2;
  out[3] = z3;
}

function words(b: Buffer): Uint32Array {
  return Uint32Array.of(b.readUInt32BE(0), b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12));
}

const swap32 = (x: number): number => ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);

class GcmBatchEngine {
  private readonly ecb: Cipheriv;
  private readonly h: Uint32Array;
  /** E_K(0^96 || 1): the tag mask of the batch-wide GCM call, whose IV is all zeros. */
  private readonly outerMask: Uint32Array;
  /** H^1, H^2, ... (four words each), grown as longer packets arrive. */
  private powers: Uint32Array;
  private havePowers = 1;
  /** Shoup tables of H^n by n, bounded: ESP packet sizes cluster around a few values (MTU, ACKs). */
  private readonly tables = new Map<number, Uint32Array>();
  private readonly zeroIv = Buffer.alloc(12);

  constructor(private readonly c: GcmCipher) {
    const bits = c.algo.slice(4, 7);
    this.ecb = createCipheriv(`aes-${bits}-ecb`, c.key, null);
    this.ecb.setAutoPadding(false);
    const j0 = Buffer.alloc(16);
    j0[15] = 1;
    const k = this.ecb.update(Buffer.concat([Buffer.alloc(16), j0]));
    this.h = words(k.subarray(0, 16));
    this.outerMask = words(k.subarray(16, 32));
    this.powers = new Uint32Array(4 * 128);
    this.powers.set(this.h, 0);
  }

  private power(n: number): number {
    if (n > this.havePowers) {
      if (4 * n > this.powers.length) {
        const grown = new Uint32Array(Math.max(4 * n, this.powers.length * 2));
        grown.set(this.powers);
        this.powers = grown;
      }
      for (let k = this.havePowers; k < n; k++) gmul(this.powers, 4 * (k - 1), this.h, 0, this.powers, 4 * k);
      this.havePowers = n;
    }
    return 4 * (n - 1);
  }

  private table(n: number): Uint32Array {
    let t = this.tables.get(n);
    if (!t) {
      if (this.tables.size >= 256) this.tables.clear();
      t = shoupTable(this.powers, this.power(n));
      this.tables.set(n, t);
    }
    return t;
  }

  /**
   * Each `esp` spans the ESP header through the ICV, with at least an IV and an ICV. Returns each
   * packet's plaintext (ESP trailer included) when every tag is right, null when any is not.
   */
  open(esps: readonly Buffer[]): Buffer[] | null {
    const m = esps.length;
    const ctOff = new Array<number>(m);
    let blocks = 0;
    for (let i = 0; i < m; i++) {
      const ct = esps[i]!.length - ESP_HEADER - IV - ICV;
      ctOff[i] = (blocks + 1) * 16;
      blocks += 2 + ((ct + 15) >> 4);
    }
    // Block layout per packet: [AAD | ciphertext, zero-padded | lengths]; the counter buffer mirrors
    // it: [J0 | counters 2.. | unused], so one ECB call yields tag masks and keystream in place.
    const size = blocks * 16;
    const data = Buffer.alloc(size);
    const ctr = Buffer.allocUnsafe(size);
    const cw = new Int32Array(ctr.buffer, ctr.byteOffset, size >> 2);
    const salt = this.c.salt.readInt32LE(0);
    for (let i = 0; i < m; i++) {
      const esp = esps[i]!;
      const ctLen = esp.length - ESP_HEADER - IV - ICV;
      const at = ctOff[i]! - 16;
      esp.copy(data, at, 0, ESP_HEADER);
      esp.copy(data, at + 16, ESP_HEADER + IV, esp.length - ICV);
      const lenAt = ctOff[i]! + ((ctLen + 15) & ~15);
      data.writeUInt32BE(ESP_HEADER * 8, lenAt + 4);
      data.writeUInt32BE(ctLen * 8, lenAt + 12);
      // Native-endian words: the bytes salt || IV are copied as they are, the counter is big-endian.
      const iv0 = esp.readInt32LE(ESP_HEADER);
      const iv1 = esp.readInt32LE(ESP_HEADER + 4);
      const n = (ctLen + 15) >> 4;
      let w = at >> 2;
      for (let k = 1; k <= n + 1; k++, w += 4) {
        cw[w] = salt;
        cw[w + 1] = iv0;
        cw[w + 2] = iv1;
        cw[w + 3] = swap32(k);
      }
      cw[w] = 0;
      cw[w + 1] = 0;
      cw[w + 2] = 0;
      cw[w + 3] = 0;
    }
    const ks = this.ecb.update(ctr);
    const g = createCipheriv(this.c.algo as 'aes-128-gcm', this.c.key, this.zeroIv);
    g.setAAD(data);
    g.final();
    const outer = words(g.getAuthTag());

    // The fold of the tags' own GHASHes (S_i = T_i ⊕ E_K(J0_i)), then the outer call's length block and ·H.
    const y = new Uint32Array(4);
    const s = new Uint32Array(4);
    for (let i = 0; i < m; i++) {
      const esp = esps[i]!;
      const t = esp.length - ICV;
      const j0 = ctOff[i]! - 16;
      s[0] = y[0]! ^ esp.readUInt32BE(t) ^ ks.readUInt32BE(j0);
      s[1] = y[1]! ^ esp.readUInt32BE(t + 4) ^ ks.readUInt32BE(j0 + 4);
      s[2] = y[2]! ^ esp.readUInt32BE(t + 8) ^ ks.readUInt32BE(j0 + 8);
      s[3] = y[3]! ^ esp.readUInt32BE(t + 12) ^ ks.readUInt32BE(j0 + 12);
      if (i + 1 < m) {
        // Multiplying here, before adding the next S, gives S_i·H^(n_(i+1)): the next packet's block count.
        const next = 2 + ((esps[i + 1]!.length - ESP_HEADER - IV - ICV + 15) >> 4);
        gmulTable(s, this.table(next), y);
      } else y.set(s);
    }
    const bitsHi = Math.floor((size * 8) / 2 ** 32);
    y[0] = y[0]! ^ bitsHi;
    y[1] = y[1]! ^ ((size * 8) >>> 0);
    gmul(y, 0, this.h, 0, s, 0);
    for (let k = 0; k < 4; k++) s[k] = s[k]! ^ this.outerMask[k]!;
    const want = Buffer.from(s.buffer);
    const got = Buffer.from(outer.buffer);
    if (!timingSafeEqual(want, got)) return null;

    // Authentic: decrypt in place (data ⊕ keystream; the AAD and length blocks become junk, unused).
    const dw = new Int32Array(data.buffer, data.byteOffset, size >> 2);
    if (ks.byteOffset % 4 === 0) {
      const kw = new Int32Array(ks.buffer, ks.byteOffset, size >> 2);
      for (let k = 0; k < dw.length; k++) dw[k] = dw[k]! ^ kw[k]!;
    } else {
      for (let k = 0; k < size; k++) data[k] = data[k]! ^ ks[k]!;
    }
    const out = new Array<Buffer>(m);
    for (let i = 0; i < m; i++) {
      const o = ctOff[i]!;
      out[i] = data.subarray(o, o + esps[i]!.length - ESP_HEADER - IV - ICV);
    }
    return out;
  }
}

/** The counter blocks are written as native words (see `open`). */
const LITTLE_ENDIAN = endianness() === 'LE';

const engines = new WeakMap<EspSA, GcmBatchEngine>();

/** Whether `sa`'s packets can go through `openGcmBatch`: GCM with a full 16-byte ICV. */
export function batchable(sa: EspSA): boolean {
  return LITTLE_ENDIAN && sa.cipher.kind === 'gcm' && sa.cipher.icvLen === ICV;
}

/** The smallest ESP packet `openGcmBatch` takes: header, IV and ICV. */
export const GCM_BATCH_MIN = ESP_HEADER + IV + ICV;

/** Process-wide counts, so tests and benchmarks can tell the batch path from the per-packet fallback. */
export const gcmBatchCounts = { batches: 0, packets: 0, failedBatches: 0 };

export function openGcmBatch(sa: EspSA, esps: readonly Buffer[]): Buffer[] | null {
  if (sa.cipher.kind !== 'gcm') throw new Error('openGcmBatch: not a GCM SA');
  let e = engines.get(sa);
  if (!e) {
    e = new GcmBatchEngine(sa.cipher);
    engines.set(sa, e);
  }
  const r = e.open(esps);
  gcmBatchCounts.batches++;
  gcmBatchCounts.packets += esps.length;
  if (!r) gcmBatchCounts.failedBatches++;
  return r;
}
