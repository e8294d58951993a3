/**
 * ESP payload decryption (RFC 4303) with Node's crypto. Integrity is always settled before any
 * plaintext is returned: HMAC is checked before CBC/CTR decryption, and GCM's tag before its
 * plaintext is made.
 *
 * Speed: creating a cipher costs Node far more than decrypting a packet with it (measured in
 * bench/esp/throughput.ts), so GCM and CBC use long-lived cipher objects per SA (an engine):
 * GCM's keystream and E(J0) come from one AES-ECB cipher and the tag from GHASH (ghash.ts); CBC
 * runs one decipher across all of an SA's packets and corrects each packet's first block (its
 * chaining input is the previous packet's last ciphertext block instead of the packet's IV);
 * HMAC is two one-shot hashes over the precomputed ipad/opad keys.
 */
import {
  type Cipheriv,
  createCipheriv,
  createDecipheriv,
  createHmac,
  type Decipheriv,
  hash,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import { type GhashState, ghashLengths, ghashTables, ghashUpdate } from './ghash.js';
import type { EspSA } from './sa-table.js';

export type DecryptFailure = 'integrity check failed' | 'malformed ESP' | 'invalid padding';

export type DecryptResult =
  | { readonly ok: true; readonly payload: Buffer; readonly nextHeader: number }
  | { readonly ok: false; readonly reason: DecryptFailure };

const ESP_HEADER = 8;

function trailer(plain: Buffer): DecryptResult {
  // Plaintext ends with padding, pad length, next header.
  if (plain.length < 2) return { ok: false, reason: 'malformed ESP' };
  const padLen = plain[plain.length - 2]!;
  const nextHeader = plain[plain.length - 1]!;
  const end = plain.length - 2 - padLen;
  if (end < 0) return { ok: false, reason: 'invalid padding' };
  return { ok: true, payload: plain.subarray(0, end), nextHeader };
}

class GcmEngine {
  private readonly ecb: Cipheriv;
  private readonly tables: Uint32Array;
  private readonly state: GhashState = new Uint32Array(4);
  private counters = Buffer.alloc(0);

  constructor(
    algo: string,
    key: KeyObject,
    private readonly salt: Buffer,
  ) {
    this.ecb = createCipheriv(algo.replace(/-gcm$/, '-ecb'), key, null);
    this.ecb.setAutoPadding(false);
    this.tables = ghashTables(this.ecb.update(Buffer.alloc(16)));
  }

  decrypt(esp: Buffer, icvLen: number): DecryptResult {
    const ctOff = ESP_HEADER + 8;
    const ctLen = esp.length - ctOff - icvLen;
    // Counter blocks J0 (for the tag), then J0+1… (the keystream): salt || IV || 32-bit counter from 1.
    const blocks = 1 + Math.ceil(ctLen / 16);
    if (this.counters.length < blocks * 16)
      this.counters = Buffer.alloc(Math.max(blocks * 16, 2 * this.counters.length));
    const c = this.counters;
    for (let i = 0; i < blocks; i++) {
      const o = i * 16;
      this.salt.copy(c, o);
      esp.copy(c, o + 4, ESP_HEADER, ESP_HEADER + 8);
      c.writeUInt32BE(i + 1, o + 12);
    }
    const ks = this.ecb.update(c.subarray(0, blocks * 16));
    const s = this.state;
    s.fill(0);
    ghashUpdate(this.tables, s, esp, 0, ESP_HEADER);
    ghashUpdate(this.tables, s, esp, ctOff, ctLen);
    ghashLengths(this.tables, s, ESP_HEADER, ctLen);
    const tag = esp.subarray(esp.length - icvLen);
    for (let i = 0; i < icvLen; i++) {
      const byte = ((s[i >>> 2]! >>> (24 - 8 * (i & 3))) & 255) ^ ks[i]!;
      if (byte !== tag[i]) return { ok: false, reason: 'integrity check failed' };
    }
    const plain = Buffer.allocUnsafe(ctLen);
    for (let i = 0; i < ctLen; i++) plain[i] = esp[ctOff + i]! ^ ks[16 + i]!;
    return trailer(plain);
  }
}

class CbcEngine {
  private readonly decipher: Decipheriv;
  /** The last ciphertext block fed to `decipher`: what it chains the next packet's first block with. */
  private readonly prev = Buffer.alloc(16);

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
}

const BLOCK: Readonly<Record<string, number>> = { md5: 64, sha1: 64, sha256: 64, sha384: 128, sha512: 128 };

class HmacEngine {
  private readonly ipad: Buffer;
  private readonly opad: Buffer;

  constructor(
    private readonly algo: string,
    key: KeyObject,
  ) {
    const size = BLOCK[algo] ?? 64;
    let k = key.export();
    if (k.length > size) k = hash(algo, k, 'buffer');
    this.ipad = Buffer.alloc(size, 0x36);
    this.opad = Buffer.alloc(size, 0x5c);
    for (let i = 0; i < k.length; i++) {
      this.ipad[i] = this.ipad[i]! ^ k[i]!;
      this.opad[i] = this.opad[i]! ^ k[i]!;
    }
  }

  mac(data: Buffer): Buffer {
    const inner = hash(this.algo, Buffer.concat([this.ipad, data]), 'buffer');
    return hash(this.algo, Buffer.concat([this.opad, inner]), 'buffer');
  }
}

interface Engines {
  gcm?: GcmEngine;
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
    if (c.kind === 'gcm') e.gcm = new GcmEngine(c.algo, c.key, c.salt);
    if (c.kind === 'cbc') e.cbc = new CbcEngine(c.algo, c.key);
    if (sa.auth && BLOCK[sa.auth.hash]) e.hmac = new HmacEngine(sa.auth.hash, sa.auth.key);
    engines.set(sa, e);
  }
  return e;
}

/** `esp` spans the ESP header through the ICV, nothing after (no link-layer trailer). */
export function decryptEsp(sa: EspSA, esp: Buffer): DecryptResult {
  const c = sa.cipher;
  const e = enginesOf(sa);
  if (c.kind === 'gcm') {
    const body = esp.length - ESP_HEADER - 8 - c.icvLen;
    if (body < 0) return { ok: false, reason: 'malformed ESP' };
    return e.gcm!.decrypt(esp, c.icvLen);
  }

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
