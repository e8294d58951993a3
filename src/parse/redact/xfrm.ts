/**
 * `ip xfrm state` text as it may be stored and shown.
 *
 * Well-formed keys (`aead|enc|auth|auth-trunc NAME 0xHEX`) become `<redacted sha256:…>`, the first
 * 16 hex digits of the key's SHA-256, so two nodes' keys can still be compared and the text still
 * parses. Key material anywhere else (a mangled algorithm word, a key without `0x`, a line cut in
 * two) goes too: every long hex or base64 run that is not a placeholder is removed.
 * Messages about malformed lines are stricter still: they show a line only token by token, and
 * only tokens known to be xfrm vocabulary, addresses or small numbers.
 */
import { createHash } from 'node:crypto';
import { hexGivenBack, KEYWORDS, VALUE_WORDS } from '../xfrm-tokens.js';
import { REDACTED } from './marker.js';

/** First 16 hex chars of SHA-256 over the key bytes. */
export function keyDigest(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

const KEY_IN_TEXT = /(aead|enc|auth-trunc|auth)(\s+\S+\s+)0x([0-9a-f]+)/gi;
// Anything hex that is long enough to be a key, even where the algorithm word was mangled.
const LONG_HEX = /0x([0-9a-f]{24,})/gi;
const PLACEHOLDER = /<redacted(?: sha256:[0-9a-f]{16})?>/g;

function redactedHex(hex: string): string {
  return hex.length % 2 === 0 ? `<redacted sha256:${keyDigest(Buffer.from(hex, 'hex'))}>` : REDACTED;
}

/** A hex run followed by a glued keyword (`0x…0fencap`) keeps the keyword's letters out of the key. */
function splitGluedHex(hex: string, text: string, end: number): { key: string; back: string } {
  const n = hexGivenBack(hex, text.slice(end, end + 16));
  return n > 0 ? { key: hex.slice(0, -n), back: hex.slice(-n) } : { key: hex, back: '' };
}

export function redactXfrmStateText(text: string): string {
  const once = text.replace(
    KEY_IN_TEXT,
    (m: string, kind: string, mid: string, hex: string, at: number, all: string) => {
      const { key, back } = splitGluedHex(hex, all, at + m.length);
      return `${kind}${mid}${redactedHex(key)}${back}`;
    },
  );
  const twice = once.replace(LONG_HEX, (m: string, hex: string, at: number, all: string) => {
    const { key, back } = splitGluedHex(hex, all, at + m.length);
    return `${redactedHex(key)}${back}`;
  });
  return outsidePlaceholders(twice, removeKeyMaterial);
}

/** Applies `f` to the text between placeholders, so a digest is never taken for key material. */
function outsidePlaceholders(text: string, f: (s: string) => string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    out += f(text.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + f(text.slice(last));
}

/**
 * Hex runs of 16 digits or more (64 bits: the shortest key xfrm takes) with a `0x` or a letter in
 * them, and base64 runs of 20 or more mixing cases and digits. SPIs, reqids, marks and bitmaps are
 * at most 8 hex digits; counters and dates are decimal; IPv6 groups are 4 digits.
 */
function removeKeyMaterial(s: string): string {
  return s
    .replace(/(?<![0-9A-Za-z])0x[0-9a-fA-F]{9,}/g, REDACTED)
    .replace(/(?<![0-9a-fA-F])[0-9a-fA-F]{16,}(?![0-9a-fA-F])/g, (m) => (/[a-fA-F]/.test(m) ? REDACTED : m))
    .replace(/[A-Za-z0-9+/]{20,}={0,2}/g, (m) =>
      /[0-9]/.test(m) && /[a-z]/.test(m) && /[A-Z]/.test(m) ? REDACTED : m,
    );
}

const WORDS = new Set([...KEYWORDS, ...VALUE_WORDS]);
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/;
const IPV6 = /^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}(\/\d{1,3})?$/i;
/** The names iproute2 prints for algorithms: rfc4106(gcm(aes)), hmac(sha256), cbc(aes), ecb(cipher_null). */
const ALGORITHM = /^[a-z][a-z0-9_-]{0,15}(\([a-z0-9_(),-]{1,40}\))?$/;

/** Is this one token safe to show in a message? */
export function isSafeXfrmToken(tok: string): boolean {
  if (tok.length > 64) return false;
  if (WORDS.has(tok) || IPV4.test(tok) || IPV6.test(tok)) return true;
  if (/^\d{1,20}(\(0x[0-9a-f]{1,8}\))?[,:]?$/i.test(tok)) return true;
  if (/^0x[0-9a-f]{1,8}(\(\d{1,20}\)|\/0x[0-9a-f]{1,8})?[,:]?$/i.test(tok)) return true;
  if (/^<redacted$|^sha256:[0-9a-f]{16}>$|^<redacted>$/.test(tok)) return true;
  // Too short to be key material (the shortest xfrm key is 64 bits, 16 hex digits): `0xzz`, `foo`.
  if (/^[\w.-]{1,8}$/.test(tok)) return true;
  // A word: letters with at least one outside a-f (so no all-hex run), or short.
  if (ALGORITHM.test(tok) && (/[g-z]/.test(tok) || tok.length < 8)) return true;
  return false;
}

/** One token for a message: itself when safe, else a marker. */
export function shownToken(tok: string | undefined): string {
  if (tok === undefined) return '';
  return isSafeXfrmToken(tok) ? tok : REDACTED;
}

/** A line for a message: each token shown only when safe (redacted text first, so digests survive). */
export function shownXfrmLine(line: string): string {
  return redactXfrmStateText(line)
    .split(/\s+/)
    .filter((t) => t !== '')
    .map((t) => (isSafeXfrmToken(t) ? t : REDACTED))
    .join(' ');
}
