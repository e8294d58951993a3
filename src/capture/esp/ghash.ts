/**
 * GHASH (NIST SP 800-38D §6.4), the authenticator of AES-GCM, for checking ESP's ICV without a cipher object per
 * packet: Node spends far longer creating a GCM decipher than decrypting a packet, so the keystream comes from one
 * long-lived AES-ECB cipher per SA and the tag is checked here. Multiplication by H uses 16 tables of 256 entries
 * (one per byte position of the block, 64 KiB per SA): X·H is the XOR of T[i][X's byte i], since multiplication
 * by H is linear over GF(2). Proven against OpenSSL's GCM in test/capture/ghash.test.ts.
 */

/** The four 32-bit words (big-endian order) of a GHASH state. */
export type GhashState = Uint32Array;

/** X·H in GF(2^128) with GCM's bit order (the bit-by-bit algorithm of SP 800-38D, used only to build tables). */
function mulBits(x: readonly number[], h: readonly number[]): number[] {
  const z = [0, 0, 0, 0];
  const v = [...h];
  for (let i = 0; i < 128; i++) {
    if ((x[i >>> 5]! >>> (31 - (i & 31))) & 1) for (let k = 0; k < 4; k++) z[k] = (z[k]! ^ v[k]!) >>> 0;
    const lsb = v[3]! & 1;
    v[3] = ((v[3]! >>> 1) | (v[2]! << 31)) >>> 0;
    v[2] = ((v[2]! >>> 1) | (v[1]! << 31)) >>> 0;
    v[1] = ((v[1]! >>> 1) | (v[0]! << 31)) >>> 0;
    v[0] = (v[0]! >>> 1) >>> 0;
    if (lsb) v[0] = (v[0]! ^ 0xe1000000) >>> 0;
  }
  return z;
}

/** The 16×256 tables for hash key H (16 bytes: AES_K(0^128)). */
export function ghashTables(h: Uint8Array): Uint32Array {
  const hw = [0, 1, 2, 3].map(
    (k) => ((h[4 * k]! << 24) | (h[4 * k + 1]! << 16) | (h[4 * k + 2]! << 8) | h[4 * k + 3]!) >>> 0,
  );
  const t = new Uint32Array(16 * 256 * 4);
  for (let i = 0; i < 16; i++) {
    // The image of each single bit of byte i; every other entry is the XOR of its bits' images.
    for (let b = 0; b < 8; b++) {
      const x = [0, 0, 0, 0];
      x[i >>> 2] = (1 << (8 * (3 - (i & 3)) + b)) >>> 0;
      const z = mulBits(x, hw);
      t.set(z, (i * 256 + (1 << b)) * 4);
    }
    for (let v = 3; v < 256; v++) {
      const low = v & -v;
      if (low === v) continue;
      const o = (i * 256 + v) * 4;
      const a = (i * 256 + low) * 4;
      const r = (i * 256 + (v ^ low)) * 4;
      for (let k = 0; k < 4; k++) t[o + k] = t[a + k]! ^ t[r + k]!;
    }
  }
  return t;
}

/** Folds one block (as four big-endian words) into the state: S = (S ^ X)·H. */
function block(t: Uint32Array, s: GhashState, x0: number, x1: number, x2: number, x3: number): void {
  x0 ^= s[0]!;
  x1 ^= s[1]!;
  x2 ^= s[2]!;
  x3 ^= s[3]!;
  let z0 = 0;
  let z1 = 0;
  let z2 = 0;
  let z3 = 0;
  let o = 0;
  for (let i = 0; i < 4; i++) {
    const w = i === 0 ? x0 : i === 1 ? x1 : i === 2 ? x2 : x3;
    const base = i << 10;
    o = (base | ((w >>> 24) & 255)) << 2;
    z0 ^= t[o]!;
    z1 ^= t[o + 1]!;
    z2 ^= t[o + 2]!;
    z3 ^= t[o + 3]!;
    o = ((base + 256) | ((w >>> 16) & 255)) << 2;
    z0 ^= t[o]!;
    z1 ^= t[o + 1]!;
    z2 ^= t[o + 2]!;
    z3 ^= t[o + 3]!;
    o = ((base + 512) | ((w >>> 8) & 255)) << 2;
    z0 ^= t[o]!;
    z1 ^= t[o + 1]!;
    z2 ^= t[o + 2]!;
    z3 ^= t[o + 3]!;
    o = ((base + 768) | (w & 255)) << 2;
    z0 ^= t[o]!;
    z1 ^= t[o + 1]!;
    z2 ^= t[o + 2]!;
    z3 ^= t[o + 3]!;
  }
  s[0] = z0;
  s[1] = z1;
  s[2] = z2;
  s[3] = z3;
}

const be = (d: Uint8Array, p: number): number => (d[p]! << 24) | (d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!;

/** Folds `len` bytes of `d` from `off`, the last block zero-padded (SP 800-38D: A and C are each padded). */
export function ghashUpdate(t: Uint32Array, s: GhashState, d: Uint8Array, off: number, len: number): void {
  const full = off + (len & ~15);
  let p = off;
  for (; p < full; p += 16) block(t, s, be(d, p), be(d, p + 4), be(d, p + 8), be(d, p + 12));
  if (p < off + len) {
    const last = new Uint8Array(16);
    last.set(d.subarray(p, off + len));
    block(t, s, be(last, 0), be(last, 4), be(last, 8), be(last, 12));
  }
}

/** The final block: the bit lengths of A and C (each below 2^32 bits for any packet). */
export function ghashLengths(t: Uint32Array, s: GhashState, aadBytes: number, ctBytes: number): void {
  block(t, s, 0, aadBytes * 8, 0, ctBytes * 8);
}
