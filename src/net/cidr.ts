/**
 * IPv4/IPv6 prefixes as flannel uses them: podCIDRs, Network, the /32 on flannel.1, the .1
 * gateway on cni0. Parsing and formatting come from ipaddr.js; the arithmetic (network
 * address, first host, containment) is done on byte arrays here because ipaddr.js has none
 * for IPv6.
 */
import ipaddr from 'ipaddr.js';

export type Family = 'inet' | 'inet6';

export interface Prefix {
  readonly family: Family;
  /** Network address of the prefix, canonical text (host bits cleared). */
  readonly network: string;
  readonly length: number;
  /** `network/length`, canonical. */
  readonly text: string;
  readonly bytes: readonly number[];
}

// Snapshots repeat the same few thousand addresses and prefixes across every node's tables;
// parsing each once keeps a 1,000-node analysis from re-parsing millions of strings.
const ipCache = new Map<string, string | null>();
const prefixCache = new Map<string, Prefix | null>();

/** Canonical text for an address, or null when it is not an IP address. */
export function normalizeIP(text: string): string | null {
  let v = ipCache.get(text);
  if (v === undefined) {
    v = normalizeIPUncached(text);
    ipCache.set(text, v);
  }
  return v;
}

/**
 * Strict, like Go's net.ParseIP: ipaddr.js alone also accepts classful shorthand ("10.244.1"
 * is 10.244.0.1) and octal or hex parts, which no kernel or flanneld ever prints.
 */
function isIP(text: string): boolean {
  return text.includes(':') ? ipaddr.IPv6.isValid(text) : ipaddr.IPv4.isValidFourPartDecimal(text);
}

function normalizeIPUncached(text: string): string | null {
  if (!isIP(text)) return null;
  const a = ipaddr.parse(text);
  // An IPv4-mapped IPv6 address is the same host as its IPv4 form.
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress())
    return (a as ipaddr.IPv6).toIPv4Address().toString();
  return a.toString();
}

export function familyOf(ip: string): Family | null {
  if (!isIP(ip)) return null;
  return ipaddr.parse(ip).kind() === 'ipv4' ? 'inet' : 'inet6';
}

/** Parses `a.b.c.d/n` or `x::/n`; a bare address is a host prefix. Null when malformed. */
export function parsePrefix(text: string): Prefix | null {
  let v = prefixCache.get(text);
  if (v === undefined) {
    v = parsePrefixUncached(text);
    prefixCache.set(text, v);
  }
  return v;
}

function parsePrefixUncached(text: string): Prefix | null {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  if (!isIP(addrText)) return null;
  const addr = ipaddr.parse(addrText);
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  const lengthText = trimmed.slice(slash + 1);
  const length = slash < 0 ? max : /^\d{1,3}$/.test(lengthText) ? Number(lengthText) : NaN;
  if (!Number.isInteger(length) || length < 0 || length > max) return null;
  const bytes = maskBytes(addr.toByteArray(), length);
  const network = ipaddr.fromByteArray(bytes).toString();
  return { family: max === 32 ? 'inet' : 'inet6', network, length, text: `${network}/${length}`, bytes };
}

function maskBytes(bytes: readonly number[], length: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

export function contains(prefix: Prefix, ip: string): boolean {
  const p = parsePrefix(ip);
  return p !== null && p.family === prefix.family && sameLeadingBits(p.bytes, prefix.bytes, prefix.length);
}

/** True when `inner` lies entirely inside `outer`. */
export function covers(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family &&
    inner.length >= outer.length &&
    sameLeadingBits(inner.bytes, outer.bytes, outer.length)
  );
}

/**
 * True when the two addresses' first `length` bits agree. Without allocating: a 1,000-node analysis asks
 * this millions of times (every route against the Network, every pair of podCIDRs).
 */
function sameLeadingBits(a: readonly number[], b: readonly number[], length: number): boolean {
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = length & 7;
  return rest === 0 || ((a[whole]! ^ b[whole]!) & ((0xff << (8 - rest)) & 0xff)) === 0;
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return covers(a, b) || covers(b, a);
}

/** The first host address (network + 1): what flannel writes as FLANNEL_SUBNET and the bridge plugin puts on cni0. */
export function firstHost(prefix: Prefix): string {
  const bytes = [...prefix.bytes];
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i]! + 1) & 0xff;
    if (bytes[i] !== 0) break;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

export function hostPrefixLength(family: Family): number {
  return family === 'inet' ? 32 : 128;
}

/** Same address, compared canonically (so `fd00::1` equals `fd00:0::1`). */
export function sameIP(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  if (a === b) return true;
  const na = normalizeIP(a);
  return na !== null && na === normalizeIP(b);
}

/** Same prefix, compared canonically. */
export function samePrefix(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  if (a === b) return true;
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  return pa !== null && pb !== null && pa.text === pb.text;
}

// The same podCIDRs' ends and pod addresses are asked for by every node's analysis, once per peer.
const hostCache = new WeakMap<Prefix, Map<number, string | null>>();

/** The address `offset` after the network address (negative: before the end of the prefix); null outside it. */
export function hostAt(prefix: Prefix, offset: number): string | null {
  let byOffset = hostCache.get(prefix);
  if (!byOffset) hostCache.set(prefix, (byOffset = new Map()));
  let v = byOffset.get(offset);
  if (v === undefined) {
    v = hostAtUncached(prefix, offset);
    byOffset.set(offset, v);
  }
  return v;
}

function hostAtUncached(prefix: Prefix, offset: number): string | null {
  const bits = prefix.family === 'inet' ? 32 : 128;
  const size = 1n << BigInt(bits - prefix.length);
  const o = BigInt(offset < 0 ? -offset : offset);
  if (o >= size) return null;
  let v = 0n;
  for (const b of prefix.bytes) v = (v << 8n) | BigInt(b);
  v = offset < 0 ? v + size - o : v + o;
  return addressText(v, bits);
}

/** The address whose `bits`-bit value is `v`, written as iproute2 writes it. */
export function addressText(v: bigint, bits: 32 | 128): string {
  const bytes: number[] = [];
  for (let i = bits / 8 - 1; i >= 0; i--) bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** The first and last address a pod can get (host-local: network+1 … broadcast−1); empty for /31 and smaller. */
export function usableEnds(prefix: Prefix): string[] {
  const bits = prefix.family === 'inet' ? 32 : 128;
  if (bits - prefix.length < 2) return [];
  return [hostAt(prefix, 1), hostAt(prefix, -2)].filter((a): a is string => a !== null);
}
