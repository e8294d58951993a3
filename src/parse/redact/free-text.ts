/**
 * Secret removal for text whose format is not known line by line: flanneld's log lines, stderr,
 * and the output of commands that have no format-specific redactor.
 *
 * Free text cannot be allowlisted word by word without losing what makes it useful, so this
 * removes the value after every secret-ish key, in every spelling seen in Go, shell, JSON, YAML
 * and strongSwan text: `PSK: v`, `"psk":"v"`, `\"PSK\":\"v\"` (JSON inside a JSON string),
 * `--psk v`, `--psk=v`, `PSK 'v'`, `token v`, `etcdPassword:v`, `secret => v`, `Bearer v`.
 * A quoted value is removed up to its real closing quote, whatever escaping it carries.
 */
import { REDACTED } from './marker.js';

// A key containing one of these stems names a secret: IPSEC_PSK, PresharedKey, etcdPassword,
// AccessKeySecret, k8s_auth_token, private-key, ... `keyfile` too: a key path is not a secret,
// but flanneld's etcdKeyfile has always been blanked and people expect it.
const STEM =
  'psk|pre[-_ ]?shared[-_ ]?keys?|secrets?|passw(?:or)?d|passphrase|pwd|token|private[-_ ]?key|priv[-_]?key|api[-_]?key|access[-_]?key|auth[-_]?key|credentials?|keyfile|bearer|authorization';
const KEY_CHARS = '[A-Za-z0-9_.-]';
// The key, any quoting around it (`"`, `'`, backslash-escaped quotes), then a separator.
const ASSIGNMENT = new RegExp(
  `(?<![A-Za-z0-9])(-{0,2}${KEY_CHARS}*?(?:${STEM})${KEY_CHARS}*)((?:\\\\*["'\`])?)(\\s*(?::=|=>|->|:|=)[ \\t]*|[ \\t]+)`,
  'gi',
);

/** Small words that follow a key in prose ("password is too short", "token for ..."): not values. */
const PROSE = new Set(
  (
    'a an and are as at be been by can cannot could did does empty expired for from has have in invalid is it ' +
    'length missing must no not of on or required set should the to too was were will with without'
  ).split(' '),
);

export interface FreeTextOptions {
  /** Also treat `key value` (a space, no `:` or `=`) as an assignment: log lines and command lines. */
  readonly spaceSeparated: boolean;
}

export function redactFreeText(text: string, opts: FreeTextOptions = { spaceSeparated: true }): string {
  return text
    .split('\n')
    .map((line) => redactLine(line, opts))
    .join('\n');
}

function redactLine(line: string, opts: FreeTextOptions): string {
  let out = '';
  let last = 0;
  ASSIGNMENT.lastIndex = 0;
  for (let m = ASSIGNMENT.exec(line); m !== null; m = ASSIGNMENT.exec(line)) {
    const sep = m[3] ?? '';
    const valueStart = m.index + m[0].length;
    const spaceOnly = !/[:=>]/.test(sep);
    if (spaceOnly && !opts.spaceSeparated && !isQuoteAt(line, valueStart)) continue;
    let start = valueStart;
    let end = valueEnd(line, start);
    if (end === start) continue;
    // `Authorization: Bearer <token>`: the scheme stays, the credential after it goes.
    const scheme = /^(?:bearer|basic|token)[ \t]+/i.exec(line.slice(start, start + 16));
    if (scheme && end - start === scheme[0].trimEnd().length) {
      start += scheme[0].length;
      end = valueEnd(line, start);
      if (end === start) continue;
    }
    const value = line.slice(start, end);
    if (isPlaceholder(value)) {
      ASSIGNMENT.lastIndex = end;
      continue;
    }
    // `etcdPassword: version:false` is an empty value followed by the next field.
    if (!isQuoteAt(line, start) && /^[A-Za-z][A-Za-z_]*[:=]/.test(value) && !spaceOnly && /\s$/.test(sep)) continue;
    if (spaceOnly && !isQuoteAt(line, start) && PROSE.has(value.toLowerCase())) continue;
    out += line.slice(last, start) + replacement(line, start, end);
    last = end;
    ASSIGNMENT.lastIndex = end;
  }
  return out + line.slice(last);
}

function isPlaceholder(v: string): boolean {
  return /^\\*["'`]?(?:<redacted[^>]*>|\(redacted\))\\*["'`]?$/.test(v);
}

/** Backslashes then a quote: the value is a quoted string at that escaping depth. */
function quoteAt(line: string, at: number): { slashes: number; quote: string } | null {
  const m = /^(\\*)(["'`])/.exec(line.slice(at, at + 16));
  if (!m) return null;
  const slashes = m[1]!.length;
  // 0, 1, 3, 7 backslashes: a quote at nesting depth 0, 1, 2, 3.
  if (((slashes + 1) & slashes) !== 0) return null;
  return { slashes, quote: m[2]! };
}

function isQuoteAt(line: string, at: number): boolean {
  return quoteAt(line, at) !== null;
}

/**
 * Where the value starting at `at` ends. A quoted value at depth d (2^d - 1 backslashes before its
 * quote) closes at the first same quote preceded by r backslashes with r ≡ 2^d - 1 (mod 2^(d+1));
 * any other count is an escaped quote inside it. Unterminated: the rest of the line.
 */
function valueEnd(line: string, at: number): number {
  const q = quoteAt(line, at);
  if (q) {
    const mod = (q.slashes + 1) * 2;
    let i = at + q.slashes + 1;
    while (i < line.length) {
      if (line[i] === q.quote) {
        let r = 0;
        while (line[i - 1 - r] === '\\') r++;
        if (r % mod === q.slashes) return i + 1;
      }
      i++;
    }
    return line.length;
  }
  const m = /^[^\s,;}\])"'`]+/.exec(line.slice(at));
  return at + (m ? m[0].length : 0);
}

function replacement(line: string, start: number, end: number): string {
  const q = quoteAt(line, start);
  if (!q) return REDACTED;
  const open = line.slice(start, start + q.slashes + 1);
  const closed = end - start >= 2 * open.length && line.slice(end - open.length, end) === open;
  return `${open}${REDACTED}${closed ? open : ''}`;
}

const SECRET_NAME = new RegExp(`^-{0,2}${KEY_CHARS}*?(?:${STEM})${KEY_CHARS}*$`, 'i');

/** Does this key or flag name (`--etcd-password`, `IPSEC_PSK`) name a secret? */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A command line (flanneld's DaemonSet args): `--flag=value` and `--flag value` for secret flags. */
export function redactArgv(argv: readonly string[]): string[] {
  return argv.map((a, i) => {
    const prev = argv[i - 1];
    if (prev !== undefined && /^-/.test(prev) && !prev.includes('=') && isSecretName(prev)) return REDACTED;
    return redactFreeText(a, { spaceSeparated: true });
  });
}
