/**
 * ESP payload decryption (RFC 4303) with Node's crypto. Integrity is always settled before any
 * plaintext is returned: HMAC is checked before CBC/CTR decryption, and GCM output is used only
 * after `final()` has verified the tag.
 *
 * Speed (CPU time per packet, old against new in one process: bench/esp/cipher-reuse.ts): CBC and
 * HMAC use long-lived objects per SA (an engine): one CBC decipher runs across all of an SA's
 * packets and each packet's first block is corrected (the decipher chained it with the previous
 * packet's last ciphertext block instead of the packet's IV), and HMAC is two one-shot hashes
 * over the precomputed ipad/opad keys, the data copied after them into a reused buffer (no
 * concat and no allocation per packet: 1.5x). GCM here is one OpenSSL decipher per packet: the
 * decryptor sends full-ICV GCM packets through gcm-batch.ts (one GHASH over a whole batch in OpenSSL,
 * 4.3x less CPU: bench/esp/gcm-batch.ts) and uses this path for truncated ICVs and for a batch whose
 * check failed.
 */
import { createDecipheriv, createHmac, type Decipheriv, hash, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { EspSA } from './sa-table.js';

export type DecryptFailure = 'integrity check failed' | 'malformed ESP' | 'invalid padding';

export type DecryptResult =
  | { readonly ok: true; readonly payload: Buffer; readonly nextHeader: number }
  | { readonly ok: false; readonly reason: DecryptFailure };

const ESP_HEADER = 8;

/** Splits decrypted ESP into payload and next header (RFC 4303 §2.4-2.6). */
export function trailer(plain: Buffer): DecryptResult {
  // Plaintext ends with padding, pad length, next header.
  if (plain.length < 2) return { ok: false, reason: 'malformed ESP' };
  const padLen = plain[plain.length - 2]!;
  const nextHeader = plain[plain.length - 1]!;
  const end = plain.length - 2 - padLen;
  if (end < 0) return { ok: false, reason: 'invalid padding' };
  return { ok: true, payload: plain.subarray(0, end), nextHeader };
}

class CbcEngine {
  private readonly decipher: Decipheriv;
  /** The last ciphertext block fed to `decipher`: what it chains the next packet's first block with. */
  readonly prev = Buffer.alloc(16);

  constructor(algo: string, key: KeyObject) {
    this.decipher = createDecipheriv(algo, key, this.prev);
    this.decipher.setAutoPadding(false);
  }

  /** `ct` is a non-empty whole number of blocks. */
  decrypt(iv: Buffer, ct: Buffer): Buffer {
    const plain = this.decipher.update(ct);
    for (let i = 0; i < 16; i++) plain[i] = plain[i]! ^ this.prev[i]! ^ iv[i]!;
    ct.copy(this.prev, 0, ct.length - 16);
    return plain;
  }

  /**
   * Several packets' ciphertexts laid end to end in `joined` (`lens[i]` bytes each, whole blocks), in one
   * call: each packet's first block is corrected as in `decrypt`, from the block before it in `joined`.
   */
  decryptJoined(joined: Buffer, ivs: readonly Buffer[], lens: readonly number[]): Buffer {
    const plain = this.decipher.update(joined);
    let off = 0;
    for (let k = 0; k < lens.length; k++) {
      const iv = ivs[k]!;
      if (k === 0) for (let i = 0; i < 16; i++) plain[i] = plain[i]! ^ this.prev[i]! ^ iv[i]!;
      else for (let i = 0; i < 16; i++) plain[off + i] = plain[off + i]! ^ joined[off - 16 + i]! ^ iv[i]!;
      off += lens[k]!;
    }
    joined.copy(this.prev, 0, joined.length - 16);
    return plain;
  }
}

const BLOCK: Readonly<Record<string, number>> = { md5: 64, sha1: 64, sha256: 64, sha384: 128, sha512: 128 };

class HmacEngine {
  /** ipad key, then the data: grown to the largest packet; the inner hash input without a concat per packet. */
  private inner: Buffer;
  /** opad key, then the inner digest. */
  private readonly outer: Buffer;
  private readonly size: number;

  constructor(
    private readonly algo: string,
    key: KeyObject,
  ) {
    this.size = BLOCK[algo] ?? 64;
    let k = key.export();
    if (k.length > this.size) k = hash(algo, k, 'buffer');
    const ipad = Buffer.alloc(this.size, 0x36);
    const opad = Buffer.alloc(this.size, 0x5c);
    for (let i = 0; i < k.length; i++) {
      ipad[i] = ipad[i]! ^ k[i]!;
      opad[i] = opad[i]! ^ k[i]!;
    }
    this.inner = Buffer.alloc(this.size + 2048);
    ipad.copy(this.inner);
    this.outer = Buffer.alloc(this.size + hash(algo, '', 'buffer').length);
    opad.copy(this.outer);
  }

  mac(data: Buffer): Buffer {
    const n = this.size + data.length;
    if (n > this.inner.length) {
      const grown = Buffer.alloc(Math.max(n, 2 * this.inner.length));
      this.inner.copy(grown, 0, 0, this.size);
      this.inner = grown;
    }
    data.copy(this.inner, this.size);
    hash(this.algo, this.inner.subarray(0, n), 'buffer').copy(this.outer, this.size);
    return hash(this.algo, this.outer, 'buffer');
  }
}

interface Engines {
  cbc?: CbcEngine;
  hmac?: HmacEngine;
}

/** Engines live as long as their SA object: a rekey brings new SAs, the old ones' engines go with them. */
const engines = new WeakMap<EspSA, Engines>();

function enginesOf(sa: EspSA): Engines {
  let e = engines.get(sa);
  if (!e) {
    e = {};
    const c = sa.cipher;
    if (c.kind === 'cbc') e.cbc = new CbcEngine(c.algo, c.key);
    if (sa.auth && BLOCK[sa.auth.hash]) e.hmac = new HmacEngine(sa.auth.hash, sa.auth.key);
    engines.set(sa, e);
  }
  return e;
}

/** Whether `decryptCbcBatch` takes `sa`'s packets: AES-CBC with HMAC (as flannel's non-AEAD proposals have). */
export function cbcBatchable(sa: EspSA): boolean {
  return sa.cipher.kind === 'cbc' && sa.auth !== null && BLOCK[sa.auth.hash] !== undefined;
}

/**
 * `decryptEsp` for several packets of one CBC + HMAC SA, with the same results: every ICV is checked
 * first, then the authentic packets' ciphertexts are deciphered in one OpenSSL call (a call costs
 * ~2 µs whatever its length; bench/esp/stage.ts). A packet whose ICV is wrong is never deciphered.
 */
export function decryptCbcBatch(sa: EspSA, esps: readonly Buffer[]): DecryptResult[] {
  if (!cbcBatchable(sa)) throw new Error('decryptCbcBatch: not a CBC + HMAC SA');
  const e = enginesOf(sa);
  const icvLen = sa.auth!.icvLen;
  const out = new Array<DecryptResult>(esps.length);
  const take: number[] = [];
  let total = 0;
  for (let i = 0; i < esps.length; i++) {
    const esp = esps[i]!;
    const authed = esp.length - icvLen;
    const ctLen = authed - ESP_HEADER - 16;
    // The same order of checks as decryptEsp: the ICV (when the packet holds one), then the ciphertext's shape.
    if (authed < ESP_HEADER) out[i] = { ok: false, reason: 'malformed ESP' };
    else if (!timingSafeEqual(e.hmac!.mac(esp.subarray(0, authed)).subarray(0, icvLen), esp.subarray(authed)))
      out[i] = { ok: false, reason: 'integrity check failed' };
    else if (ctLen <= 0 || ctLen % 16 !== 0) out[i] = { ok: false, reason: 'malformed ESP' };
    else {
      take.push(i);
      total += ctLen;
    }
  }
  if (take.length === 0) return out;
  const joined = Buffer.allocUnsafe(total);
  const ivs = new Array<Buffer>(take.length);
  const lens = new Array<number>(take.length);
  let off = 0;
  take.forEach((i, k) => {
    const esp = esps[i]!;
    const authed = esp.length - icvLen;
    ivs[k] = esp.subarray(ESP_HEADER, ESP_HEADER + 16);
    lens[k] = esp.copy(joined, off, ESP_HEADER + 16, authed);
    off += lens[k]!;
  });
  const plain = e.cbc!.decryptJoined(joined, ivs, lens);
  off = 0;
  take.forEach((i, k) => {
    out[i] = trailer(plain.subarray(off, off + lens[k]!));
    off += lens[k]!;
  });
  return out;
}

/** `esp` spans the ESP header through the ICV, nothing after (no link-layer trailer). */
export function decryptEsp(sa: EspSA, esp: Buffer): DecryptResult {
  const c = sa.cipher;
  if (c.kind === 'gcm') {
    const body = esp.length - ESP_HEADER - 8 - c.icvLen;
    if (body < 0) return { ok: false, reason: 'malformed ESP' };
    const nonce = Buffer.allocUnsafe(12);
    c.salt.copy(nonce, 0);
    esp.copy(nonce, 4, ESP_HEADER, ESP_HEADER + 8);
    const d = createDecipheriv(c.algo as 'aes-128-gcm', c.key, nonce, { authTagLength: c.icvLen });
    d.setAAD(esp.subarray(0, ESP_HEADER));
    d.setAuthTag(esp.subarray(esp.length - c.icvLen));
    const plain = d.update(esp.subarray(ESP_HEADER + 8, esp.length - c.icvLen));
    try {
      d.final();
    } catch {
      return { ok: false, reason: 'integrity check failed' };
    }
    return trailer(plain);
  }

  const e = enginesOf(sa);
  const icvLen = sa.auth?.icvLen ?? 0;
  const authed = esp.length - icvLen;
  if (authed < ESP_HEADER) return { ok: false, reason: 'malformed ESP' };
  if (sa.auth) {
    const mac = e.hmac
      ? e.hmac.mac(esp.subarray(0, authed))
      : createHmac(sa.auth.hash, sa.auth.key).update(esp.subarray(0, authed)).digest();
    if (!timingSafeEqual(mac.subarray(0, icvLen), esp.subarray(authed)))
      return { ok: false, reason: 'integrity check failed' };
  }
  if (c.kind === 'null') return trailer(esp.subarray(ESP_HEADER, authed));
  if (c.kind === 'cbc') {
    const ct = esp.subarray(ESP_HEADER + 16, authed);
    if (authed < ESP_HEADER + 16 || ct.length % 16 !== 0) return { ok: false, reason: 'malformed ESP' };
    if (ct.length === 0) return { ok: false, reason: 'malformed ESP' };
    return trailer(e.cbc!.decrypt(esp.subarray(ESP_HEADER, ESP_HEADER + 16), ct));
  }
  // ctr
  if (authed < ESP_HEADER + 8) return { ok: false, reason: 'malformed ESP' };
  const block = Buffer.alloc(16);
  c.nonce.copy(block, 0);
  esp.copy(block, 4, ESP_HEADER, ESP_HEADER + 8);
  block.writeUInt32BE(1, 12);
  const d = createDecipheriv(c.algo as 'aes-128-ctr', c.key, block);
  return trailer(d.update(esp.subarray(ESP_HEADER + 8, authed)));
}
