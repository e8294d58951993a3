/**
 * Parsers for `ip xfrm state` and `ip xfrm policy` as iproute2 prints them (plain, -s, -d), including
 * output whose newlines were lost (records run together on one line, as in scraped blog posts).
 *
 * Keys never leave this module unless the caller asks (`keepKeys`): every key becomes a digest. A
 * state parse issue never quotes a value from the line it is about (it names the line and gives its
 * outline in xfrm vocabulary); policy issues, which hold no keys, quote the line.
 */
import type { XfrmKey, XfrmPolicy, XfrmState } from '../snapshot/types.js';
import {
  isAlgorithmShaped,
  isSafeXfrmToken,
  keyDigest,
  outlineXfrmLine,
  shownAlgorithm,
  shownToken,
} from './redact/xfrm.js';
import { isAddress, parseNumber, splitRecords, type Token, tokenize } from './xfrm-tokens.js';

export type ParseIssue = { line: number; text: string; message: string };

type KeyKind = 'aead' | 'enc' | 'auth' | 'auth-trunc';

/**
 * A number no larger than its field can hold. A field that holds more took a piece of something
 * else, a key cut by a newline most likely (its tail may be all decimal digits), and must not be
 * stored as if it were the field.
 */
function bounded(s: string | undefined, max: number): number | null {
  const n = parseNumber(s);
  return n !== null && n <= max ? n : null;
}
const U32 = 0xffffffff;
/** The kernel takes ICV and truncation lengths up to 512 bits (MAX_AH_AUTH_LEN, 64 bytes). */
const MAX_ICV_BITS = 512;

function lineTexts(text: string): string[] {
  return text.split(/\r?\n/);
}

function issueAt(lines: readonly string[], line: number, message: string, redact: boolean): ParseIssue {
  const raw = (lines[line - 1] ?? '').trim();
  // State lines may hold keys, cut or mangled where the parser failed: only their outline is shown.
  const shown = redact ? outlineXfrmLine(raw) : raw;
  return { line, text: shown.length > 200 ? `${shown.slice(0, 200)}…` : shown, message };
}

/** Reports text outside any record once per line (e.g. a shell prompt pasted with the output). */
function strayLines(leading: readonly Token[], lines: readonly string[], redact: boolean): ParseIssue[] {
  const seen = new Set<number>();
  const out: ParseIssue[] = [];
  for (const t of leading) {
    if (seen.has(t.line)) continue;
    seen.add(t.line);
    out.push(issueAt(lines, t.line, 'text outside any xfrm record (a record starts with "src")', redact));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ip xfrm state

class RecordError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

function parseKey(kind: KeyKind, toks: readonly Token[], i: number, keepKeys: boolean): { key: XfrmKey; next: number } {
  const nameTok = toks[i + 1];
  const at = toks[i]!.line;
  // A key where the name should be (`enc 0x…`) must not end up as the name, shown in messages.
  if (!nameTok || !isAlgorithmShaped(nameTok.text)) throw new RecordError(`"${kind}" without an algorithm name`, at);
  const keyTok = toks[i + 2];
  let next = i + 2;
  let bytes: Buffer = Buffer.alloc(0);
  let present = false;
  if (keyTok && /^0x[0-9a-f]*$/i.test(keyTok.text)) {
    present = true;
    const hex = keyTok.text.slice(2);
    if (hex.length % 2 !== 0)
      throw new RecordError(
        `${kind} ${shownAlgorithm(nameTok.text)}: key has an odd number of hex digits`,
        keyTok.line,
      );
    bytes = Buffer.from(hex, 'hex');
    next = i + 3;
  }
  // Text that went through redactXfrmStateText: the digest survives, the key length does not.
  const redacted = keyTok?.text === '<redacted' ? /^sha256:([0-9a-f]{16})>$/.exec(toks[i + 3]?.text ?? '') : null;
  if (redacted) next = i + 4;
  let icvBits: number | null = null;
  if (kind === 'aead' || kind === 'auth-trunc') {
    const n = bounded(toks[next]?.text, MAX_ICV_BITS);
    if (n === null) {
      throw new RecordError(
        `${kind} ${shownAlgorithm(nameTok.text)}: no ${kind === 'aead' ? 'ICV' : 'truncation'} length in bits (up to ${MAX_ICV_BITS}) after the key`,
        at,
      );
    }
    icvBits = n;
    next += 1;
  }
  const key: XfrmKey = {
    name: nameTok.text,
    keyBits: bytes.length * 8,
    icvBits,
    digest: redacted?.[1] ?? keyDigest(bytes),
    ...(keepKeys && present ? { hex: `0x${bytes.toString('hex')}` } : {}),
  };
  return { key, next };
}

function parseStateRecord(toks: readonly Token[], keepKeys: boolean): XfrmState {
  const src = toks[1]?.text;
  const at = toks[0]!.line;
  if (!isAddress(src)) throw new RecordError(`"src" is not followed by an address`, at);
  if (toks[2]?.text !== 'dst' || !isAddress(toks[3]?.text))
    throw new RecordError(`expected "dst <address>" after "src ${src}"`, at);
  const dst = toks[3]!.text;
  let proto: string | null = null;
  let spi: number | null = null;
  let reqid = 0;
  let mode: string | null = null;
  let aead: XfrmKey | null = null;
  let enc: XfrmKey | null = null;
  let auth: XfrmKey | null = null;
  let encap: XfrmState['encap'] = null;
  let selector: XfrmState['selector'] = null;

  let i = 4;
  while (i < toks.length) {
    const t = toks[i]!;
    switch (t.text) {
      case 'proto':
        // The first `proto` is the SA's; a later one belongs to `sel` (e.g. `sel ... proto tcp`).
        if (proto === null) proto = shownToken(toks[i + 1]?.text);
        i += 2;
        continue;
      case 'spi': {
        if (spi === null) {
          spi = bounded(toks[i + 1]?.text, U32);
          // The value is not quoted: a token that failed to parse may be anything, a key included.
          if (spi === null) throw new RecordError('"spi" is not followed by a 32-bit number', t.line);
        }
        i += 2;
        continue;
      }
      case 'reqid': {
        const n = bounded(toks[i + 1]?.text, U32);
        if (n === null) throw new RecordError('"reqid" is not followed by a 32-bit number', t.line);
        reqid = n;
        i += 2;
        continue;
      }
      case 'mode':
        // `crypto offload parameters: ... mode packet` comes later; the SA mode is the first one.
        if (mode === null) mode = shownToken(toks[i + 1]?.text);
        i += 2;
        continue;
      case 'aead':
      case 'enc':
      case 'auth':
      case 'auth-trunc': {
        const { key, next } = parseKey(t.text as KeyKind, toks, i, keepKeys);
        if (t.text === 'aead') aead = key;
        else if (t.text === 'enc') enc = key;
        else auth = key;
        i = next;
        continue;
      }
      case 'encap': {
        // encap type espinudp sport 4500 dport 4500 addr 0.0.0.0
        const type = toks[i + 1]?.text === 'type' ? toks[i + 2]?.text : undefined;
        if (type !== undefined && !isSafeXfrmToken(type)) throw new RecordError('"encap" type is not a word', t.line);
        const sport = toks[i + 3]?.text === 'sport' ? bounded(toks[i + 4]?.text, 0xffff) : null;
        const dport = toks[i + 5]?.text === 'dport' ? bounded(toks[i + 6]?.text, 0xffff) : null;
        if (type === undefined || sport === null || dport === null) {
          throw new RecordError('"encap" is not "type <type> sport <port> dport <port>"', t.line);
        }
        encap = { type, sport, dport };
        i += 7;
        continue;
      }
      case 'sel': {
        const s = toks[i + 2]?.text;
        const d = toks[i + 4]?.text;
        if (toks[i + 1]?.text !== 'src' || toks[i + 3]?.text !== 'dst' || !isAddress(s) || !isAddress(d)) {
          throw new RecordError('"sel" is not "sel src <prefix> dst <prefix>"', t.line);
        }
        selector = { src: s, dst: d };
        i += 5;
        continue;
      }
      default:
        // replay-window, flag, anti-replay context, lifetime, stats, marks: not modelled.
        i += 1;
    }
  }
  if (proto === null) throw new RecordError(`SA ${src} -> ${dst} has no "proto"`, at);
  if (spi === null) throw new RecordError(`SA ${src} -> ${dst} has no "spi"`, at);
  if (mode === null) throw new RecordError(`SA ${src} -> ${dst} spi 0x${spi.toString(16)} has no "mode"`, at);
  return { src, dst, proto, spi, reqid, mode, aead, enc, auth, encap, selector };
}

export function parseXfrmState(
  text: string,
  opts: { keepKeys: boolean },
): { states: XfrmState[]; errors: ParseIssue[] } {
  const lines = lineTexts(text);
  const { leading, records } = splitRecords(tokenize(text));
  const errors = strayLines(leading, lines, true);
  const states: XfrmState[] = [];
  for (const rec of records) {
    try {
      states.push(parseStateRecord(rec, opts.keepKeys));
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      errors.push(issueAt(lines, e.line, e.message, true));
    }
  }
  return { states, errors };
}

// ---------------------------------------------------------------------------------------------
// ip xfrm policy

type Template = XfrmPolicy['templates'][number];

function parseTemplate(toks: readonly Token[], start: number): { tmpl: Template; next: number } {
  const t0 = toks[start]!;
  const s = toks[start + 2]?.text;
  const d = toks[start + 4]?.text;
  if (toks[start + 1]?.text !== 'src' || toks[start + 3]?.text !== 'dst' || !isAddress(s) || !isAddress(d)) {
    throw new RecordError('"tmpl" is not "tmpl src <address> dst <address>"', t0.line);
  }
  let proto = '';
  let reqid = 0;
  let mode = '';
  let i = start + 5;
  while (i < toks.length && toks[i]!.text !== 'tmpl') {
    const t = toks[i]!;
    if (t.text === 'proto') proto = toks[i + 1]?.text ?? '';
    else if (t.text === 'mode') mode = toks[i + 1]?.text ?? '';
    else if (t.text === 'reqid') {
      const n = parseNumber(toks[i + 1]?.text);
      if (n === null) throw new RecordError(`reqid "${shownToken(toks[i + 1]?.text)}" is not a number`, t.line);
      reqid = n;
    } else {
      i += 1;
      continue;
    }
    i += 2;
  }
  if (proto === '' || mode === '') throw new RecordError(`template ${s} -> ${d} lacks "proto" or "mode"`, t0.line);
  return { tmpl: { src: s, dst: d, proto, reqid, mode }, next: i };
}

/** Returns null for socket policies (`socket in|out`), which have no place in XfrmPolicy. */
function parsePolicyRecord(toks: readonly Token[]): XfrmPolicy | null {
  const at = toks[0]!.line;
  const src = toks[1]?.text;
  if (!isAddress(src)) throw new RecordError('"src" is not followed by an address or prefix', at);
  if (toks[2]?.text !== 'dst' || !isAddress(toks[3]?.text))
    throw new RecordError(`expected "dst <prefix>" after "src ${src}"`, at);
  const dst = toks[3]!.text;
  let dir: XfrmPolicy['dir'] | null = null;
  let priority = 0;
  let action = 'allow';
  const templates: Template[] = [];
  let i = 4;
  while (i < toks.length) {
    const t = toks[i]!;
    if (t.text === 'socket') return null;
    if (t.text === 'dir') {
      const d = toks[i + 1]?.text;
      if (d !== 'in' && d !== 'out' && d !== 'fwd')
        throw new RecordError(`dir "${shownToken(d)}" is not in, out or fwd`, t.line);
      dir = d;
      i += 2;
    } else if (t.text === 'priority') {
      const n = parseNumber(toks[i + 1]?.text);
      if (n === null) throw new RecordError(`priority "${shownToken(toks[i + 1]?.text)}" is not a number`, t.line);
      priority = n;
      i += 2;
    } else if (t.text === 'action') {
      action = toks[i + 1]?.text ?? action;
      i += 2;
    } else if (t.text === 'tmpl') {
      const { tmpl, next } = parseTemplate(toks, i);
      templates.push(tmpl);
      i = next;
    } else {
      i += 1;
    }
  }
  if (dir === null) throw new RecordError(`policy ${src} -> ${dst} has no "dir"`, at);
  return { src, dst, dir, priority, action, templates };
}

export function parseXfrmPolicy(text: string): { policies: XfrmPolicy[]; errors: ParseIssue[] } {
  const lines = lineTexts(text);
  const { leading, records } = splitRecords(tokenize(text));
  const errors = strayLines(leading, lines, false);
  const policies: XfrmPolicy[] = [];
  for (const rec of records) {
    try {
      const p = parsePolicyRecord(rec);
      if (p) policies.push(p);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      errors.push(issueAt(lines, e.line, e.message, false));
    }
  }
  return { policies, errors };
}
