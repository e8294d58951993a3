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

function masked(v: bigint, bits: number, length: number): bigint {
  if (length === 0) return 0n;
  const shift = BigInt(bits - length);
  return (v >> shift) << shift;
}

/** True when address `a` lies in prefix `p`. */
export function inPrefix(p: Addr, a: Addr): boolean {
  return p.bits === a.bits && masked(a.value, a.bits, p.length) === p.value;
}
