/** Match primitives shared by the iptables and nft compilers: addresses, interface names, ports, protocols. */
import { type Addr, inPrefix, parseAddrPrefix } from '../fib/addr.js';
import type { NfFamily, NfPacket } from './types.js';

/** A prefix matcher; null when the text is no address of the family (the rule then cannot match it). */
export function prefixMatcher(text: string, family: NfFamily): ((ip: string) => boolean) | null {
  const p = parseAddrPrefix(text.includes('/') ? text : text, family);
  if (!p) return null;
  return (ip) => {
    const a: Addr | null = parseAddrPrefix(ip, family);
    return a !== null && inPrefix(p, a);
  };
}

/** iptables' interface match: a trailing `+` matches every name with that prefix. An absent device matches nothing. */
export function ifaceMatches(pattern: string, dev: string | null | undefined): boolean {
  if (!dev) return false;
  return pattern.endsWith('+') ? dev.startsWith(pattern.slice(0, -1)) : dev === pattern;
}

/** nft's interface name match: a trailing unescaped `*` is a wildcard. */
export function nftIfaceMatches(pattern: string, dev: string | null | undefined): boolean {
  if (!dev) return false;
  if (pattern.endsWith('\\*')) return dev === `${pattern.slice(0, -2)}*`;
  return pattern.endsWith('*') ? dev.startsWith(pattern.slice(0, -1)) : dev === pattern;
}

/**
 * Numbers (and aliases) to the names iptables-save and nft print, which are /etc/protocols': protocol 4 (IP in
 * IP, what flannel's ipip backend sends) is `ipencap`; `ipip` is protocol 94.
 */
const PROTO_NUMBERS: Readonly<Record<string, string>> = {
  '1': 'icmp',
  '6': 'tcp',
  '17': 'udp',
  '58': 'ipv6-icmp',
  '132': 'sctp',
  '136': 'udplite',
  '4': 'ipencap',
  'ip-encap': 'ipencap',
  '94': 'ipip',
  '50': 'esp',
  '47': 'gre',
};

/** Canonical protocol name (`icmpv6` and 58 become ipv6-icmp, numbers become names). */
export function protoName(text: string): string {
  const t = text.toLowerCase();
  if (t === 'icmpv6') return 'ipv6-icmp';
  return PROTO_NUMBERS[t] ?? t;
}

export const PORT_PROTOS: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp', 'udplite', 'dccp']);

export function portIn(ranges: readonly (readonly [number, number])[], port: number | null): boolean {
  return port !== null && ranges.some(([lo, hi]) => port >= lo && port <= hi);
}

/** `a`, `a:b`, `a-b`, `:b`, `a:` port ranges, comma separated. */
export function parsePortRanges(text: string): [number, number][] | null {
  const out: [number, number][] = [];
  for (const part of text.split(',')) {
    const m = /^(\d*)[:-]?(\d*)$/.exec(part);
    if (!m) return null;
    const single = !part.includes(':') && !part.includes('-');
    const lo = m[1] === '' ? 0 : Number(m[1]);
    const hi = single ? lo : m[2] === '' ? 65535 : Number(m[2]);
    out.push([lo, hi]);
  }
  return out;
}

/** A mark matcher: `value[/mask]` as iptables prints it. */
export function markMatcher(text: string): ((p: NfPacket) => boolean) | null {
  const [v, m] = text.split('/');
  const value = Number(v);
  const mask = m === undefined ? 0xffffffff : Number(m);
  if (!Number.isFinite(value) || !Number.isFinite(mask)) return null;
  return (p) => (p.mark & mask) >>> 0 === value >>> 0;
}
