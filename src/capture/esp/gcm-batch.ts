/**
 * AES-GCM for a batch of one SA's packets with three OpenSSL calls instead of a decipher per packet
 * (createDecipheriv, setAAD, setAuthTag, update and final cost ~6 µs per packet; bench/esp/throughput.ts).
 *
 * GCM is CTR encryption plus GHASH, a polynomial in H = E_K(0) over the AAD and ciphertext blocks:
 * - the keystream of every packet (counter blocks salt||IV||2.., and J0 = salt||IV||1 for the tag
 *   mask) comes from one long-lived AES-ECB encryption over all of the batch's counter blocks;
 * - GHASH is Horner's rule, Y ← (Y ⊕ B)·H per block B, so after packet i's blocks (AAD, ciphertext,
 *   lengths) a GHASH started at zero holds that packet's GHASH, which must be S_i = T_i ⊕ E_K(J0_i)
 *   for its tag T_i. One more block S_i after them brings Y back to (GHASH_i ⊕ S_i)·H = 0 exactly when
 *   the tag is right, and the next packet starts from zero as on its own. So one OpenSSL GCM call over
 *   all packets laid out as [AAD | ciphertext | lengths | S_i] (given as the AAD of a GCM encryption
 *   of nothing, IV 0) must end in Y = 0 before its own length block L: its tag must be L·H ⊕ E_K(0^96||1).
 * Any wrong packet leaves a non-zero term (GHASH_i ⊕ S_i)·H^e; making two such terms cancel needs H,
 * i.e. the key. When the check fails the caller checks each packet on its own, so a bad packet is
 * still found and named. Plaintext exists only after the check has passed (the XOR comes last).
 * Only full 16-byte ICVs: a truncated tag hides part of S_i. The byte loops (counter blocks, the
 * keystream XOR) run in WebAssembly (gcm-wasm.wat): JavaScript ran them at a quarter of the speed.
 */
import { type Cipheriv, createCipheriv, timingSafeEqual } from 'node:crypto';
import { GCM_WASM } from './gcm-wasm.js';
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

function words(b: Buffer): Uint32Array {
  return Uint32Array.of(b.readUInt32BE(0), b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12));
}

class GcmBatchEngine {
  private readonly ecb: Cipheriv;
  private readonly h: Uint32Array;
  /** E_K(0^96 || 1): the tag mask of the batch-wide GCM call, whose IV is all zeros. */
  private readonly outerMask: Uint32Array;
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
  }

  /**
   * Each `esp` spans the ESP header through the ICV, with at least an IV and an ICV. When every tag is
   * right, returns the scratch memory with each packet's plaintext (ESP trailer included) at
   * `ctOff[i]`, `esps[i].length - 32` bytes long; null when any tag is not. The memory is shared:
   * valid until the next batch is opened.
   */
  open(esps: readonly Buffer[]): OpenedBatch | null {
    const m = esps.length;
    const ctOff = new Array<number>(m);
    let blocks = 0;
    for (let i = 0; i < m; i++) {
      const ct = esps[i]!.length - ESP_HEADER - IV - ICV;
      ctOff[i] = (blocks + 1) * 16;
      blocks += 3 + ((ct + 15) >> 4);
    }
    // Per packet, from 0: [AAD | ciphertext, zero-padded | lengths | tag, then S]; the counter blocks
    // mirror it from `size`: [J0 | counters 2.. | two more], so one ECB call yields each packet's tag
    // mask at its AAD's place and its keystream at its ciphertext's. The memory is reused: every byte
    // that GHASH reads is written here (the packet copied whole, then `lay` moves the ICV, zeroes the
    // IV's place and the padding, and writes the lengths and the counter blocks).
    const size = blocks * 16;
    const { mem, wasm } = scratch(2 * size);
    const salt = this.c.salt.readInt32LE(0);
    for (let i = 0; i < m; i++) {
      const esp = esps[i]!;
      const at = ctOff[i]! - 16;
      mem.set(esp, at);
      wasm.lay(at, size, esp.length - ESP_HEADER - IV - ICV, salt, mem.readInt32LE(at + 8), mem.readInt32LE(at + 12));
    }
    this.ecb.update(mem.subarray(size, 2 * size)).copy(mem, size);
    // T_i becomes S_i = T_i ⊕ E_K(J0_i), the keystream block at packet i's AAD.
    for (let i = 0; i < m; i++) {
      const at = ctOff[i]! - 16;
      wasm.xor(ctOff[i]! + ((esps[i]!.length - ESP_HEADER - IV - ICV + 15) & ~15) + 16, size + at, 16);
    }
    const g = createCipheriv(this.c.algo as 'aes-128-gcm', this.c.key, this.zeroIv);
    g.setAAD(mem.subarray(0, size));
    g.final();
    const got = g.getAuthTag();

    // What the tag is when every packet's GHASH was its S: L·H ⊕ E_K(0^96 || 1), L = [bits of AAD | 0].
    const y = Uint32Array.of(Math.floor((size * 8) / 2 ** 32), (size * 8) >>> 0, 0, 0);
    const s = new Uint32Array(4);
    gmul(y, 0, this.h, 0, s, 0);
    const want = Buffer.alloc(16);
    for (let k = 0; k < 4; k++) want.writeUInt32BE((s[k]! ^ this.outerMask[k]!) >>> 0, 4 * k);
    if (!timingSafeEqual(want, got)) return null;

    // Authentic: decrypt in place (ciphertext ⊕ keystream; the other blocks become junk, unused).
    wasm.xor(0, size, size);
    return { mem, ctOff };
  }
}

/** A batch whose tags were all right: packet i's plaintext is in `mem` from `ctOff[i]`, its ESP length - 32 bytes. */
export interface OpenedBatch {
  readonly mem: Buffer;
  readonly ctOff: readonly number[];
}

/** The ESP bytes around the plaintext: header and IV before it, ICV after it. */
export const GCM_OVERHEAD = ESP_HEADER + IV + ICV;

/** The part of the WebAssembly global used here (the project's `lib` has no DOM, where its types live). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
};

interface GcmWasm {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  counters(dst: number, salt: number, iv0: number, iv1: number, n: number): void;
  lay(at: number, size: number, ct: number, salt: number, iv0: number, iv1: number): void;
  xor(dst: number, src: number, len: number): void;
}

/** One instance per thread (batches are opened one at a time), its memory grown to the largest batch seen. */
let shared: { wasm: GcmWasm; mem: Buffer } | null = null;

function scratch(bytes: number): { wasm: GcmWasm; mem: Buffer } {
  if (!shared) {
    const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(GCM_WASM, 'base64')))
      .exports as unknown as GcmWasm;
    shared = { wasm, mem: Buffer.from(wasm.memory.buffer) };
  }
  const have = shared.wasm.memory.buffer.byteLength;
  if (bytes > have) {
    shared.wasm.memory.grow(Math.ceil((bytes - have) / 65536));
    // Growing detaches the old ArrayBuffer: views must be made again.
    shared.mem = Buffer.from(shared.wasm.memory.buffer);
  }
  return shared;
}

const engines = new WeakMap<EspSA, GcmBatchEngine>();

/** Whether `sa`'s packets can go through `openGcmBatch`: GCM with a full 16-byte ICV. */
export function batchable(sa: EspSA): boolean {
  return sa.cipher.kind === 'gcm' && sa.cipher.icvLen === ICV;
}

/** The smallest ESP packet `openGcmBatch` takes: header, IV and ICV. */
export const GCM_BATCH_MIN = ESP_HEADER + IV + ICV;

/** Process-wide counts, so tests and benchmarks can tell the batch path from the per-packet fallback. */
export const gcmBatchCounts = { batches: 0, packets: 0, failedBatches: 0 };

/** Each packet's plaintext (ESP trailer included) when every tag is right, null when any is not; views of shared memory. */
export function openGcmBatch(sa: EspSA, esps: readonly Buffer[]): Buffer[] | null {
  const r = openGcmBatchInPlace(sa, esps);
  return r && esps.map((e, i) => r.mem.subarray(r.ctOff[i]!, r.ctOff[i]! + e.length - GCM_OVERHEAD));
}

/** openGcmBatch without a view per packet: the plaintexts are read from the shared memory by offset. */
export function openGcmBatchInPlace(sa: EspSA, esps: readonly Buffer[]): OpenedBatch | null {
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
