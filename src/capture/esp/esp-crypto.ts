/**
 * ESP payload decryption (RFC 4303) with Node's crypto. Integrity is always settled before any
 * plaintext is returned: HMAC is checked before CBC/CTR decryption, and GCM output is used only
 * after `final()` has verified the tag.
 */
import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
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

  const icvLen = sa.auth?.icvLen ?? 0;
  const authed = esp.length - icvLen;
  if (authed < ESP_HEADER) return { ok: false, reason: 'malformed ESP' };
  if (sa.auth) {
    const mac = createHmac(sa.auth.hash, sa.auth.key).update(esp.subarray(0, authed)).digest();
    if (!timingSafeEqual(mac.subarray(0, icvLen), esp.subarray(authed)))
      return { ok: false, reason: 'integrity check failed' };
  }
  if (c.kind === 'null') return trailer(esp.subarray(ESP_HEADER, authed));
  if (c.kind === 'cbc') {
    const ct = esp.subarray(ESP_HEADER + 16, authed);
    if (authed < ESP_HEADER + 16 || ct.length % 16 !== 0) return { ok: false, reason: 'malformed ESP' };
    const d = createDecipheriv(c.algo as 'aes-128-cbc', c.key, esp.subarray(ESP_HEADER, ESP_HEADER + 16));
    d.setAutoPadding(false);
    const head = d.update(ct);
    const rest = d.final();
    return trailer(rest.length ? Buffer.concat([head, rest]) : head);
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
