/**
 * Allowlist redaction for JSON, and for text that was meant to be JSON but is not (single
 * quotes, bare words, a missing comma, a cut-off file): the form in which net-conf.json breaks
 * exactly when someone runs doctor.
 *
 * The text is cut into tokens (double- or single-quoted strings with their escapes, bare words,
 * punctuation) and only tokens the policy vouches for are kept: key names it knows, and values
 * of a shape it expects for their key. Every other string or word becomes a length placeholder,
 * so a secret survives no typo. Whitespace and punctuation are kept, so the text still reads
 * like the original and a parse error's position still points near the same place.
 */
import { isRedactedMarker, redactedLength } from './marker.js';

export interface JsonLikePolicy {
  /** May this key name be shown? (`key` is as written, unquoted.) */
  safeKey(key: string): boolean;
  /** Is this a key name of the format? Only those may stay where a token is neither key nor value. */
  knownKey(word: string): boolean;
  /** May this scalar be shown as the value of `key` (the nearest enclosing key, null at top level)? */
  safeValue(key: string | null, value: string): boolean;
}

type Tok =
  | { readonly kind: 'space'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: string }
  | { readonly kind: 'string' | 'word'; readonly text: string; readonly value: string };

const PUNCT = new Set(['{', '}', '[', ']', ':', ',', '=']);

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      out.push({ kind: 'space', text: text.slice(i, j) });
      i = j;
    } else if (PUNCT.has(c)) {
      out.push({ kind: 'punct', text: c });
      i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      const end = Math.min(j + 1, text.length);
      const raw = text.slice(i, end);
      out.push({ kind: 'string', text: raw, value: unquote(raw) });
      i = end;
    } else {
      let j = i + 1;
      while (j < text.length && !/\s/.test(text[j]!) && !PUNCT.has(text[j]!) && text[j] !== '"' && text[j] !== "'") j++;
      const raw = text.slice(i, j);
      out.push({ kind: 'word', text: raw, value: raw });
      i = j;
    }
  }
  return out;
}

/** The string's value: JSON-decoded where it is a valid JSON string, else the text between the quotes. */
function unquote(raw: string): string {
  if (raw.startsWith('"')) {
    try {
      return JSON.parse(raw) as string;
    } catch {
      // not a complete JSON string
    }
  }
  const inner = raw.slice(1, raw.length > 1 && raw.endsWith(raw[0]!) ? -1 : undefined);
  return inner.replace(/\\(.)/g, '$1');
}

export interface JsonLikeResult {
  readonly text: string;
  /** The values that were removed, for scrubbing them from messages derived from the same text. */
  readonly removed: readonly string[];
}

export function redactJsonLike(text: string, policy: JsonLikePolicy): JsonLikeResult {
  const toks = tokenize(text);
  const removed: string[] = [];
  // Each open container remembers the key it is the value of; arrays pass it on to their items.
  const stack: { kind: 'obj' | 'arr'; key: string | null }[] = [];
  let memberKey: string | null = null;
  let prev: Tok | null = null;
  let out = '';
  const nextSignificant = (i: number): Tok | undefined => {
    for (let j = i + 1; j < toks.length; j++) if (toks[j]!.kind !== 'space') return toks[j];
    return undefined;
  };
  toks.forEach((t, i) => {
    if (t.kind === 'space') {
      out += t.text;
      return;
    }
    if (t.kind === 'punct') {
      const top = stack[stack.length - 1];
      if (t.text === '{' || t.text === '[') {
        const afterColon = prev?.kind === 'punct' && (prev.text === ':' || prev.text === '=');
        const owner = afterColon ? memberKey : top?.kind === 'arr' ? top.key : null;
        stack.push({ kind: t.text === '{' ? 'obj' : 'arr', key: owner });
      } else if (t.text === '}' || t.text === ']') stack.pop();
      out += t.text;
      prev = t;
      return;
    }
    const next = nextSignificant(i);
    const top = stack[stack.length - 1];
    const isKey = next?.kind === 'punct' && (next.text === ':' || next.text === '=') && top?.kind !== 'arr';
    let keep: boolean;
    if (isRedactedMarker(t.value) || /^(true|false|null)$/.test(t.value)) keep = true;
    else if (isKey) {
      keep = policy.safeKey(t.value);
      memberKey = t.value;
    } else if (prev?.kind === 'punct' && (prev.text === ':' || prev.text === '=')) {
      keep = policy.safeValue(memberKey, t.value);
    } else if (top?.kind === 'arr') {
      keep = policy.safeValue(top.key, t.value);
    } else {
      // Neither key nor value (a missing colon, stray text): only a known key name may stay.
      keep = policy.knownKey(t.value);
    }
    if (keep) out += t.text;
    else {
      removed.push(t.value);
      out += JSON.stringify(redactedLength(t.value.length));
    }
    prev = t;
  });
  return { text: out, removed };
}

/** Removes every removed value (of 4 characters or more) from a message built from the same input. */
export function scrub(message: string, removed: readonly string[]): string {
  let out = message;
  for (const v of [...removed].sort((a, b) => b.length - a.length)) {
    if (v.length < 4) continue;
    for (const form of [v, JSON.stringify(v), JSON.stringify(v).slice(1, -1)]) out = out.split(form).join('<redacted>');
  }
  return out;
}
