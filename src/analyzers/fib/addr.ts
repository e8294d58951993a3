/**
 * Addresses as integers for the FIB model: a lookup compares thousands of prefixes, and a
 * masked integer compare is what the kernel's trie does too.
 */
import ipaddr from 'ipaddr.js';

export interface Addr {
  readonly bits: 32 | 128;
  readonly value: bigint;
  /** Prefix length; 32 or 128 for an address. */
  readonly length: number;
}

/** `a.b.c.d[/n]`, `x::[/n]` or `default`; null when malformed or of the other family. */
export function parseAddrPrefix(text: string, family?: 'inet' | 'inet6'): Addr | null {
  return parseUncached(text, family);
}

function parseUncached(text: string, family: 'inet' | 'inet6' | undefined): Addr | null {
  if (text === 'default') {
    if (!family) return null;
    return { bits: family === 'inet' ? 32 : 128, value: 0n, length: 0 };
  }
  const slash = text.indexOf('/');
  const a = slash < 0 ? text : text.slice(0, slash);
  const quad = family !== 'inet6' ? dottedQuad(a) : null;
  if (quad !== null) {
    const length = slash < 0 ? 32 : Number(text.slice(slash + 1));
    if (!Number.isInteger(length) || length < 0 || length > 32) return null;
    // Masked as a number, then one BigInt: every route of every node is parsed here.
    return { bits: 32, value: BigInt(length === 0 ? 0 : quad - (quad % 2 ** (32 - length))), length };
  }
  if (!ipaddr.isValid(a)) return null;
  const parsed = ipaddr.parse(a);
  const bits = parsed.kind() === 'ipv4' ? 32 : 128;
  if (family && (family === 'inet') !== (bits === 32)) return null;
  const length = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (!Number.isInteger(length) || length < 0 || length > bits) return null;
  let value = 0n;
  for (const b of parsed.toByteArray()) value = (value << 8n) | BigInt(b);
  return { bits, value: masked(value, bits, length), length };
}

/**
 * The common case without ipaddr.js: plain dotted decimal, as iproute2 and iptables print it (the path walk parses
 * one per peer and node). Anything else (leading zeros, which ipaddr.js reads as octal, hex, short forms) is null and
 * goes the general way.
 */
export function dottedQuad(a: string): number | null {
  // By character, without split: it runs for every route of every node and every lookup's addresses.
  let v = 0;
  let n = 0;
  let digits = 0;
  let parts = 0;
  let lead = false;
  for (let i = 0; i <= a.length; i++) {
    const c = i < a.length ? a.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || ++parts > 4) return null;
      v = v * 256 + n;
      n = 0;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || digits === 3 || (digits === 1 && lead)) return null;
    if (digits === 0) lead = d === 0;
    n = n * 10 + d;
    digits++;
    if (n > 255) return null;
  }
  return parts === 4 ? v : null;
}

function masked(v: bigint, bits: number, length: number): bigint {
  if (length === 0) return 0n;
  const shift = BigInt(bits - length);
  return (v >> shift) << shift;
}

/** True when address `a` lies in prefix `p`. */
export function inPrefix(p: Addr, a: Addr): boolean {
  return p.bits === a.bits && masked(a.value, a.bits, p.length) === p.value;
}
