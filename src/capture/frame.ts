/**
 * Finds the IP header inside a captured frame and, for ESP, the ESP bytes, for the link types
 * tcpdump writes on Linux. Knows nothing about keys.
 */
import { LinkType } from './packet.js';

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);
const IPV6_EXT = new Set([0, 43, 60, 51]);

export interface IpLocation {
  readonly ipOff: number;
  /** Where the link layer names the network protocol (ethertype), or null when the link type implies it. */
  readonly protoFieldOff: number | null;
}

export function locateIp(linkType: number, d: Buffer): IpLocation | null {
  switch (linkType) {
    case LinkType.ethernet: {
      if (d.length < 14) return null;
      let off = 12;
      let et = d.readUInt16BE(off);
      while (VLAN_TPIDS.has(et) && d.length >= off + 8) {
        off += 4;
        et = d.readUInt16BE(off);
      }
      return et === ETH_IPV4 || et === ETH_IPV6 ? { ipOff: off + 2, protoFieldOff: off } : null;
    }
    case LinkType.linuxSll: {
      if (d.length < 16) return null;
      const et = d.readUInt16BE(14);
      return et === ETH_IPV4 || et === ETH_IPV6 ? { ipOff: 16, protoFieldOff: 14 } : null;
    }
    case LinkType.linuxSll2: {
      if (d.length < 20) return null;
      const et = d.readUInt16BE(0);
      return et === ETH_IPV4 || et === ETH_IPV6 ? { ipOff: 20, protoFieldOff: 0 } : null;
    }
    case LinkType.raw:
    case LinkType.ipv4:
    case LinkType.ipv6:
      return { ipOff: 0, protoFieldOff: null };
    default:
      return null;
  }
}

export function etherTypeFor(ipVersion: number): number {
  return ipVersion === 6 ? ETH_IPV6 : ETH_IPV4;
}

export type EspLocation =
  | { readonly kind: 'not-esp' }
  | { readonly kind: 'fragment' }
  | { readonly kind: 'truncated' }
  | {
      readonly kind: 'esp';
      readonly version: 4 | 6;
      /** Start of what ESP (or its UDP encapsulation) replaced in transport mode. */
      readonly transportOff: number;
      /** The byte naming the protocol after the IP headers (IPv4 protocol, IPv6 last next-header). */
      readonly nextHeaderFieldOff: number;
      readonly espOff: number;
      /** End of the IP packet; link-layer padding after it is not ESP. */
      readonly ipEnd: number;
      readonly dstOff: number;
    };

/**
 * `natTPorts`: UDP ports that carry ESP-in-UDP (RFC 3948). A UDP payload starting with four zero
 * bytes is IKE (non-ESP marker) and a single 0xff byte is a NAT keepalive; neither is ESP.
 */
export function locateEsp(d: Buffer, ipOff: number, natTPorts: ReadonlySet<number>): EspLocation {
  if (d.length < ipOff + 1) return { kind: 'not-esp' };
  const version = d[ipOff]! >> 4;
  let proto: number;
  let nhField: number;
  let off: number;
  let ipEnd: number;
  let dstOff: number;
  let fragmented = false;
  let laterFragment = false;
  if (version === 4) {
    if (d.length < ipOff + 20) return { kind: 'not-esp' };
    const ihl = (d[ipOff]! & 0x0f) * 4;
    const total = d.readUInt16BE(ipOff + 2);
    if (ihl < 20 || total < ihl) return { kind: 'not-esp' };
    const frag = d.readUInt16BE(ipOff + 6);
    fragmented = (frag & 0x3fff) !== 0;
    laterFragment = (frag & 0x1fff) !== 0;
    proto = d[ipOff + 9]!;
    nhField = ipOff + 9;
    off = ipOff + ihl;
    ipEnd = ipOff + total;
    dstOff = ipOff + 16;
  } else if (version === 6) {
    if (d.length < ipOff + 40) return { kind: 'not-esp' };
    const payloadLen = d.readUInt16BE(ipOff + 4);
    if (payloadLen === 0) return { kind: 'not-esp' }; // jumbogram
    proto = d[ipOff + 6]!;
    nhField = ipOff + 6;
    off = ipOff + 40;
    ipEnd = off + payloadLen;
    dstOff = ipOff + 24;
    while (IPV6_EXT.has(proto) || proto === 44) {
      if (d.length < off + 8) return { kind: 'not-esp' };
      const next = d[off]!;
      let len: number;
      if (proto === 44) {
        const fo = d.readUInt16BE(off + 2);
        fragmented = true;
        laterFragment = (fo & 0xfff8) !== 0;
        len = 8;
      } else if (proto === 51) {
        len = (d[off + 1]! + 2) * 4;
      } else {
        len = (d[off + 1]! + 1) * 8;
      }
      nhField = off;
      proto = next;
      off += len;
    }
  } else {
    return { kind: 'not-esp' };
  }

  let espOff: number;
  if (proto === 50) {
    espOff = off;
  } else if (proto === 17 && !laterFragment) {
    if (d.length < off + 8) return { kind: 'not-esp' };
    const sport = d.readUInt16BE(off);
    const dport = d.readUInt16BE(off + 2);
    if (!natTPorts.has(sport) && !natTPorts.has(dport)) return { kind: 'not-esp' };
    espOff = off + 8;
    const payload = ipEnd - espOff;
    if (payload === 1 && d[espOff] === 0xff) return { kind: 'not-esp' };
    if (d.length < espOff + 4) return payload >= 4 ? { kind: 'truncated' } : { kind: 'not-esp' };
    if (d.readUInt32BE(espOff) === 0) return { kind: 'not-esp' };
  } else {
    return { kind: 'not-esp' };
  }
  if (fragmented) return { kind: 'fragment' };
  if (d.length < ipEnd) return { kind: 'truncated' };
  return { kind: 'esp', version, transportOff: off, nextHeaderFieldOff: nhField, espOff, ipEnd, dstOff };
}

/** RFC 791 header checksum. */
export function ipv4Checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) if (i !== 10) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
