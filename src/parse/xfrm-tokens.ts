/**
 * Tokenizer shared by the `ip xfrm state` and `ip xfrm policy` parsers.
 *
 * Output scraped from web pages or terminals loses its newlines and tabs, so words run together:
 * `dst 172.18.0.2proto esp`, `mode tunnelreplay-window 0`, `flag af-unspecaead rfc4106(...)`,
 * `... 128anti-replay context:`. We split a token where a keyword follows something that is a
 * complete value on its own (an address, a number, a mode or flag word), and never inside a key.
 */
import { isIP } from 'node:net';

export interface Token {
  readonly text: string;
  /** 1-based line number in the input. */
  readonly line: number;
  /** True for the first token of its input line. */
  readonly lineStart: boolean;
}

export const KEYWORDS = [
  'src',
  'dst',
  'proto',
  'spi',
  'reqid',
  'mode',
  'replay-window',
  'flag',
  'aead',
  'enc',
  'auth-trunc',
  'auth',
  'comp',
  'encap',
  'anti-replay',
  'lifetime',
  'sel',
  'dir',
  'priority',
  'ptype',
  'tmpl',
  'level',
  'action',
  'index',
  'output-mark',
  'mark',
  'if_id',
  'socket',
  'stats:',
  'share',
  'uid',
  'extra-flag',
  'crypto',
];
// Longest first so `auth-trunc` wins over `auth`.
const KEYWORDS_BY_LENGTH = [...KEYWORDS].sort((a, b) => b.length - a.length);

/**
 * How many trailing hex digits of `hex` belong to a keyword glued after it (`…0fencap` -> 1),
 * given the text that follows the hex run. 0 when nothing was glued.
 */
export function hexGivenBack(hex: string, following: string): number {
  if (!/^[g-z]/i.test(following)) return 0;
  for (let back = 1; back <= 2 && back < hex.length - 2; back++) {
    const tail = hex.slice(-back) + following;
    if (KEYWORDS_BY_LENGTH.some((k) => tail.startsWith(k))) return back;
  }
  return 0;
}

export const VALUE_WORDS = new Set([
  // modes
  'tunnel',
  'transport',
  'beet',
  'ro',
  'in_trigger',
  // state flags iproute2 prints after `flag`
  'noecn',
  'decap-dscp',
  'nopmtudisc',
  'wildrecv',
  'icmp',
  'af-unspec',
  'align4',
  'esn',
  // protocols, policy words
  'esp',
  'ah',
  'comp',
  'route2',
  'hao',
  'main',
  'sub',
  'allow',
  'block',
  'required',
  'use',
  'in',
  'out',
  'fwd',
  'any',
  'unique',
  'context:',
]);

/**
 * The algorithm names `ip xfrm state` can print: the kernel copies its own canonical name from
 * net/xfrm/xfrm_algo.c into the SA whatever name the SA was added with (`aes` becomes `cbc(aes)`),
 * so this list is the whole vocabulary, not a guess at it.
 */
export const XFRM_ALGORITHMS = new Set([
  // aead
  'rfc4106(gcm(aes))',
  'rfc4309(ccm(aes))',
  'rfc4543(gcm(aes))',
  'rfc7539esp(chacha20,poly1305)',
  // auth
  'digest_null',
  'hmac(md5)',
  'hmac(sha1)',
  'hmac(sha256)',
  'hmac(sha384)',
  'hmac(sha512)',
  'hmac(rmd160)',
  'hmac(sm3)',
  'xcbc(aes)',
  'cmac(aes)',
  // enc
  'ecb(cipher_null)',
  'cbc(des)',
  'cbc(des3_ede)',
  'cbc(cast5)',
  'cbc(blowfish)',
  'cbc(aes)',
  'cbc(serpent)',
  'cbc(camellia)',
  'cbc(twofish)',
  'cbc(sm4)',
  'rfc3686(ctr(aes))',
  // comp
  'deflate',
  'lzs',
  'lzjh',
]);

/** The keywords followed by an algorithm name and then its key. */
export const KEY_KEYWORDS = new Set(['aead', 'enc', 'auth', 'auth-trunc']);

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/;
const IPV6 = /^[0-9a-f]*:[0-9a-f:.]*(\/\d{1,3})?$/i;
const NUMBER = /^\d+(\(\S*\))?,?$/;

function isCompleteValue(s: string): boolean {
  return VALUE_WORDS.has(s) || IPV4.test(s) || IPV6.test(s) || NUMBER.test(s);
}

export function splitGlued(tok: string): string[] {
  // The digest placeholder left by redactXfrmStateText, with the next word glued on in collapsed text.
  const redacted = /^(sha256:[0-9a-f]{16}>)(.+)$/.exec(tok);
  if (redacted) return [redacted[1]!, ...splitKeywordHead(redacted[2]!)];
  // A hex literal (key, SPI, bitmap) runs to its first non-hex character; anything after it was glued on.
  const hex = /^(0x[0-9a-f]+)(.*)$/i.exec(tok);
  if (hex) {
    const [, lit = '', rest = ''] = hex;
    if (rest === '') return [lit];
    // `enc cbc(aes) 0x…` has no trailing number, so a keyword starting with a hex letter (`encap`,
    // `anti-replay`, `dir`) can be glued to the key: give those letters back to the keyword.
    const back = hexGivenBack(lit, rest);
    if (back > 0) return [lit.slice(0, -back), ...splitKeywordHead(lit.slice(-back) + rest)];
    return [lit, ...splitGlued(rest)];
  }
  for (let i = 1; i < tok.length; i++) {
    const head = tok.slice(0, i);
    const tail = tok.slice(i);
    if (!isCompleteValue(head)) continue;
    if (KEYWORDS_BY_LENGTH.some((k) => tail.startsWith(k))) return [head, ...splitKeywordHead(tail)];
  }
  return [tok];
}

/** `replay-window32`-style glue is not printed by iproute2; but a keyword may carry glued text after it. */
function splitKeywordHead(tok: string): string[] {
  for (const k of KEYWORDS_BY_LENGTH) {
    if (tok === k) return [tok];
    if (tok.startsWith(k)) {
      const rest = tok.slice(k.length);
      // Only split when the remainder is itself a value or keyword, e.g. `tunnelsrc` -> no; `sel` -> no.
      if (/^[-_a-z]/i.test(rest)) return [tok];
      return [k, ...splitGlued(rest)];
    }
  }
  return splitGlued(tok);
}

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    let first = true;
    for (const word of raw.split(/[\s\\]+/)) {
      if (word === '') continue;
      for (const piece of splitGlued(word)) {
        out.push({ text: piece, line: idx + 1, lineStart: first });
        first = false;
      }
    }
  });
  return out;
}

/** A record starts at `src` unless that `src` belongs to a `sel` (state) or `tmpl` (policy). */
export function splitRecords(tokens: readonly Token[]): { leading: Token[]; records: Token[][] } {
  const leading: Token[] = [];
  const records: Token[][] = [];
  let current: Token[] | null = null;
  tokens.forEach((t, i) => {
    const prev = tokens[i - 1]?.text;
    if (t.text === 'src' && prev !== 'sel' && prev !== 'tmpl') {
      current = [t];
      records.push(current);
    } else if (current) {
      current.push(t);
    } else {
      leading.push(t);
    }
  });
  return { leading, records };
}

/** iproute2 prints `reqid 11(0x0000000b)` and `spi 0xc1a2b3c4(3248665540)` with -s; take the first form. */
export function parseNumber(s: string | undefined): number | null {
  if (s === undefined) return null;
  const bare = s.replace(/\(.*\)$/, '').replace(/,$/, '');
  if (/^0x[0-9a-f]+$/i.test(bare)) return Number.parseInt(bare.slice(2), 16);
  if (/^\d+$/.test(bare)) return Number.parseInt(bare, 10);
  return null;
}

export function isAddress(s: string | undefined): s is string {
  if (s === undefined || !(IPV4.test(s) || (IPV6.test(s) && s.includes(':')))) return false;
  // The shapes above let through `82224e0e234cfd00:56::12` or `300.1.1.1`; the address must be one.
  const [addr = '', len, ...rest] = s.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  return len === undefined || (/^\d{1,3}$/.test(len) && Number(len) <= (family === 4 ? 32 : 128));
}
