/**
 * Turns the SAs of `ip xfrm state` into ready-to-use decryption contexts, looked up by SPI and
 * destination as the receiving kernel does (RFC 4301 §4.1).
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { XfrmKey, XfrmState } from '../../snapshot/types.js';
import { addressBytes } from '../ip-address.js';

export type EspCipher =
  /** RFC 4106: key || 4-byte salt; nonce = salt || 8-byte IV from the packet. */
  | {
      readonly kind: 'gcm';
      readonly algo: string;
      readonly key: KeyObject;
      readonly salt: Buffer;
      readonly icvLen: number;
    }
  /** RFC 3602: 16-byte IV from the packet. */
  | { readonly kind: 'cbc'; readonly algo: string; readonly key: KeyObject }
  /** RFC 3686: key || 4-byte nonce; counter block = nonce || 8-byte IV || 1. */
  | { readonly kind: 'ctr'; readonly algo: string; readonly key: KeyObject; readonly nonce: Buffer }
  /** RFC 2410 NULL encryption: no IV. */
  | { readonly kind: 'null' };

export interface EspAuth {
  readonly hash: string;
  readonly key: KeyObject;
  readonly icvLen: number;
}

export interface EspSA {
  readonly spi: number;
  readonly src: string;
  readonly dst: string;
  readonly dstBytes: Buffer;
  readonly cipher: EspCipher;
  /** null for AEAD (integrity is part of the cipher) or an SA configured without integrity. */
  readonly auth: EspAuth | null;
  /** Shown in summaries: SPI, direction and algorithms, never key material. */
  readonly label: string;
  readonly state: XfrmState;
}

export interface SkippedState {
  readonly state: XfrmState;
  readonly reason: string;
}

const HMAC: Readonly<Record<string, { hash: string; defaultTruncBits: number }>> = {
  'hmac(sha1)': { hash: 'sha1', defaultTruncBits: 96 },
  'hmac(sha256)': { hash: 'sha256', defaultTruncBits: 128 },
  'hmac(sha384)': { hash: 'sha384', defaultTruncBits: 192 },
  'hmac(sha512)': { hash: 'sha512', defaultTruncBits: 256 },
  'hmac(md5)': { hash: 'md5', defaultTruncBits: 96 },
};

class Unusable extends Error {}

function keyBytes(k: XfrmKey): Buffer {
  if (k.hex === undefined)
    throw new Unusable(`${k.name} key is not in the input (redacted, or \`ip xfrm state\` was not run as root)`);
  return Buffer.from(k.hex.slice(2), 'hex');
}

function aesBits(len: number, name: string): number {
  if (len !== 16 && len !== 24 && len !== 32)
    throw new Unusable(`${name} key of ${len * 8} bits is not an AES key size`);
  return len * 8;
}

function cipherFor(s: XfrmState): EspCipher {
  if (s.aead) {
    if (s.aead.name !== 'rfc4106(gcm(aes))') throw new Unusable(`AEAD ${s.aead.name} is not supported`);
    const material = keyBytes(s.aead);
    const key = material.subarray(0, material.length - 4);
    const bits = aesBits(key.length, s.aead.name);
    const icvLen = (s.aead.icvBits ?? 128) / 8;
    if (icvLen !== 8 && icvLen !== 12 && icvLen !== 16)
      throw new Unusable(`GCM ICV of ${s.aead.icvBits} bits is not 64, 96 or 128`);
    return {
      kind: 'gcm',
      algo: `aes-${bits}-gcm`,
      key: createSecretKey(key),
      salt: Buffer.from(material.subarray(-4)),
      icvLen,
    };
  }
  if (!s.enc) throw new Unusable('no encryption algorithm');
  const name = s.enc.name;
  if (name === 'ecb(cipher_null)' || name === 'cipher_null') return { kind: 'null' };
  const material = keyBytes(s.enc);
  if (name === 'cbc(aes)')
    return { kind: 'cbc', algo: `aes-${aesBits(material.length, name)}-cbc`, key: createSecretKey(material) };
  if (name === 'rfc3686(ctr(aes))') {
    const key = material.subarray(0, material.length - 4);
    return {
      kind: 'ctr',
      algo: `aes-${aesBits(key.length, name)}-ctr`,
      key: createSecretKey(key),
      nonce: Buffer.from(material.subarray(-4)),
    };
  }
  throw new Unusable(`encryption ${name} is not supported`);
}

function authFor(s: XfrmState): EspAuth | null {
  if (s.aead || !s.auth) return null;
  const h = HMAC[s.auth.name];
  if (!h) throw new Unusable(`integrity algorithm ${s.auth.name} is not supported`);
  const truncBits = s.auth.icvBits ?? h.defaultTruncBits;
  if (truncBits % 8 !== 0 || truncBits === 0)
    throw new Unusable(`truncation to ${truncBits} bits is not a whole number of bytes`);
  return { hash: h.hash, key: createSecretKey(keyBytes(s.auth)), icvLen: truncBits / 8 };
}

function describe(s: XfrmState, cipher: EspCipher, auth: EspAuth | null): string {
  const spi = `0x${s.spi.toString(16).padStart(8, '0')}`;
  let alg: string;
  if (cipher.kind === 'gcm') alg = `${cipher.algo.toUpperCase()} ICV ${cipher.icvLen * 8}`;
  else alg = cipher.kind === 'null' ? 'NULL' : cipher.algo.toUpperCase();
  if (auth) alg += ` + HMAC-${auth.hash.toUpperCase()}-${auth.icvLen * 8}`;
  const encap = s.encap ? ` udp ${s.encap.sport}->${s.encap.dport}` : '';
  return `spi ${spi} ${s.src} -> ${s.dst} ${alg}${encap}`;
}

const identity = (s: XfrmState): string =>
  JSON.stringify([s.spi, s.dst, s.aead?.digest, s.enc?.digest, s.auth?.digest, s.aead?.icvBits, s.auth?.icvBits]);

export class SaTable {
  readonly sas: EspSA[] = [];
  readonly skipped: SkippedState[] = [];
  private readonly bySpi = new Map<number, EspSA[]>();

  constructor(states: readonly XfrmState[]) {
    const seen = new Set<string>();
    for (const state of states) {
      if (state.proto !== 'esp') continue;
      // The same SA shows up in both nodes' output when several nodes are concatenated.
      const id = identity(state);
      if (seen.has(id)) continue;
      seen.add(id);
      try {
        const dstBytes = addressBytes(state.dst);
        if (!dstBytes) throw new Unusable(`destination ${state.dst} is not an address`);
        const cipher = cipherFor(state);
        const auth = authFor(state);
        const sa: EspSA = {
          spi: state.spi,
          src: state.src,
          dst: state.dst,
          dstBytes,
          cipher,
          auth,
          label: describe(state, cipher, auth),
          state,
        };
        this.sas.push(sa);
        const list = this.bySpi.get(sa.spi);
        if (list) list.push(sa);
        else this.bySpi.set(sa.spi, [sa]);
      } catch (e) {
        if (!(e instanceof Unusable)) throw e;
        this.skipped.push({ state, reason: e.message });
      }
    }
  }

  /**
   * SAs to try for a packet, best match first: same SPI and destination, then same SPI only
   * (behind NAT the captured destination is not the SA's). The ICV decides which one is right.
   */
  candidates(spi: number, dst: Uint8Array | (() => Uint8Array)): readonly EspSA[] {
    const list = this.bySpi.get(spi);
    if (!list || list.length === 1) return list ?? [];
    // A function: the destination is only cut out of the packet when an SPI has several SAs (rare).
    const d = typeof dst === 'function' ? dst() : dst;
    return [...list].sort((a, b) => Number(b.dstBytes.equals(d)) - Number(a.dstBytes.equals(d)));
  }
}
