/**
 * `ip xfrm state` text as it may be stored and shown.
 *
 * Well-formed keys (`aead|enc|auth|auth-trunc NAME 0xHEX`) become `<redacted sha256:…>`, the first
 * 16 hex digits of the key's SHA-256, so two nodes' keys can still be compared and the text still
 * parses. Key material anywhere else (a mangled algorithm word, a key without `0x`, a line cut in
 * two) goes too: every long hex or base64 run that is not a placeholder is removed.
 * Messages about malformed lines are stricter still: they never quote a value from the line, only
 * its outline in xfrm vocabulary (see outlineXfrmLine).
 */
import { createHash } from 'node:crypto';
import { hexGivenBack, KEY_KEYWORDS, KEYWORDS, tokenize, VALUE_WORDS, XFRM_ALGORITHMS } from '../xfrm-tokens.js';
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
 * Hex runs of 16 digits or more (64 bits: the shortest key xfrm takes), decimal digits only or not
 * (a key cut by a newline may leave a tail of decimal digits), and base64 runs of 20 or more mixing
 * cases and digits. SPIs, reqids, marks and bitmaps are at most 8 hex digits; IPv6 groups are 4;
 * a byte counter reaches 16 decimal digits only past 10^15 bytes through one SA, and iproute2 prints
 * the unlimited lifetime (2^64-1) as `(INF)`.
 */
function removeKeyMaterial(s: string): string {
  return s
    .replace(/(?<![0-9A-Za-z])0x[0-9a-fA-F]{9,}/g, REDACTED)
    .replace(/(?<![0-9a-fA-F])[0-9a-fA-F]{16,}(?![0-9a-fA-F])/g, REDACTED)
    .replace(/[A-Za-z0-9+/]{20,}={0,2}/g, (m) =>
      /[0-9]/.test(m) && /[a-z]/.test(m) && /[A-Z]/.test(m) ? REDACTED : m,
    );
}

const WORDS = new Set([...KEYWORDS, ...VALUE_WORDS]);
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/;
const IPV6 = /^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}(\/\d{1,3})?$/i;
/** The shape of the algorithm names iproute2 prints: rfc4106(gcm(aes)), hmac(sha256), cbc(aes), ecb(cipher_null). */
const ALGORITHM = /^[a-z][a-z0-9_-]{0,15}(\([a-z0-9_(),-]{1,40}\))?$/;

/**
 * Is this one token safe to keep as a field value (proto, mode, encap type)? Vocabulary, addresses,
 * u32 numbers (10 digits: a longer run of digits may be a piece of a key cut by a newline), short words.
 */
export function isSafeXfrmToken(tok: string): boolean {
  if (tok.length > 64) return false;
  if (WORDS.has(tok) || IPV4.test(tok) || IPV6.test(tok)) return true;
  if (/^\d{1,10}(\(0x[0-9a-f]{1,8}\))?[,:]?$/i.test(tok)) return true;
  if (/^0x[0-9a-f]{1,8}(\(\d{1,10}\)|\/0x[0-9a-f]{1,8})?[,:]?$/i.test(tok)) return true;
  if (/^<redacted$|^sha256:[0-9a-f]{16}>$|^<redacted>$/.test(tok)) return true;
  // Too short to be key material (the shortest xfrm key is 64 bits, 16 hex digits): `0xzz`, `foo`.
  if (/^[\w.-]{1,8}$/.test(tok)) return true;
  return isAlgorithmShaped(tok);
}

/** Could this be an algorithm name? Its shape, and a letter past `f` (so never a run of hex). */
export function isAlgorithmShaped(tok: string): boolean {
  return ALGORITHM.test(tok) && /[g-z]/.test(tok);
}

/** One token for a message: itself when safe, else a marker. */
export function shownToken(tok: string | undefined): string {
  if (tok === undefined) return '';
  return isSafeXfrmToken(tok) ? tok : REDACTED;
}

/** An algorithm name for a message: only a name the kernel prints; anything else may be a mangled key. */
export function shownAlgorithm(name: string): string {
  return XFRM_ALGORITHMS.has(name) ? name : '(unlisted algorithm)';
}

/** What stands for the values left out of an outline. */
export const ELIDED = '…';

/**
 * A line a message is about, by allowlist: its keywords, value words (esp, tunnel, af-unspec) and
 * kernel algorithm names, each value (address, number, hex, anything unknown) one `…`, and nothing
 * after an algorithm name (the key follows it). The message names the line; the user has the file.
 * Such a line is one the parser could not place, so no token of it can be trusted to be what its
 * shape suggests: a key cut by a newline leaves a run of decimal digits that looks like a counter.
 */
export function outlineXfrmLine(line: string): string {
  const out: string[] = [];
  const put = (s: string): void => {
    if (s !== ELIDED || out.at(-1) !== ELIDED) out.push(s);
  };
  const toks = tokenize(line);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!.text;
    if (!WORDS.has(t) && !XFRM_ALGORITHMS.has(t)) {
      put(ELIDED);
      continue;
    }
    put(t);
    if (!KEY_KEYWORDS.has(t)) continue;
    const name = toks[i + 1]?.text;
    const named = name !== undefined && XFRM_ALGORITHMS.has(name);
    if (named) put(name);
    if (i + (named ? 2 : 1) < toks.length) put(ELIDED);
    break;
  }
  return out.join(' ');
}
