/**
 * Which captured packets are trace --probe's, at any hop: the pod-level IPv4 header is found through the backend's
 * encapsulation (VXLAN's inner Ethernet frame, the udp backend's bare IP in UDP), so the same probe is recognised in
 * the source pod, on cni0, on the flannel device and, wrapped, on the uplink. An ICMP error quoting the probe is
 * told apart from the probe itself: the quoted header sits inside the ICMP message, never at the pod level.
 */
import { locateIp } from '../capture/frame.js';

/** How the overlay wraps pod packets on the uplink. */
export interface Tunnel {
  /** VXLAN's UDP port (the frame inside carries an Ethernet header). */
  readonly vxlanPort: number | null;
  /** The udp backend's port (the datagram carries the bare IP packet). */
  readonly udpPort: number | null;
}

/** The offset of the pod-level IPv4 header: the packet's own, or the one its overlay encapsulation carries. */
export function podHeaderOffset(linkType: number, d: Buffer, tunnel: Tunnel): number | null {
  const loc = locateIp(linkType, d);
  if (!loc || d.length < loc.ipOff + 20 || d[loc.ipOff]! >> 4 !== 4) return null;
  const off = loc.ipOff;
  const ihl = (d[off]! & 15) * 4;
  if (d[off + 9] !== 17 || d.length < off + ihl + 8) return off;
  const dport = d.readUInt16BE(off + ihl + 2);
  const payload = off + ihl + 8;
  // VXLAN: 8-byte header, then the inner Ethernet frame (14 bytes, IPv4 ethertype).
  if (dport === tunnel.vxlanPort && d.length >= payload + 8 + 14 + 20 && d.readUInt16BE(payload + 8 + 12) === 0x0800)
    return payload + 8 + 14;
  if (dport === tunnel.udpPort && d.length >= payload + 20 && d[payload]! >> 4 === 4) return payload;
  return off;
}

export type ProbePacket =
  /** The UDP probe; `df` false or `fragment` true means it is not the probe as sent (the kernel fragmented it). */
  | { readonly kind: 'udp'; readonly df: boolean; readonly fragment: boolean }
  | { readonly kind: 'echo-request' }
  | { readonly kind: 'echo-reply' }
  /** An ICMP "fragmentation needed" about the UDP probe: a router on the way could not forward it. */
  | { readonly kind: 'frag-needed'; readonly mtu: number; readonly from: string };

export interface ProbeIds {
  /** SRC's then DST's address, as an IPv4 header holds them. */
  readonly fwd: Buffer;
  readonly back: Buffer;
  /** The ICMP echo payload pattern. */
  readonly icmpPattern: Buffer;
  /** The UDP probe's destination port and the token its payload starts with. */
  readonly udpPort: number;
  readonly udpToken: Buffer;
}

const dotted = (b: Buffer) => [...b].join('.');

export function classifyProbe(linkType: number, d: Buffer, tunnel: Tunnel, ids: ProbeIds): ProbePacket | null {
  const h = podHeaderOffset(linkType, d, tunnel);
  if (h === null || d.length < h + 28) return null;
  const ihl = (d[h]! & 15) * 4;
  const proto = d[h + 9];
  const addrs = d.subarray(h + 12, h + 20);
  const l4 = h + ihl;
  if (proto === 17 && addrs.equals(ids.fwd)) {
    if (d.readUInt16BE(l4 + 2) !== ids.udpPort) return null;
    const frag = d.readUInt16BE(h + 6);
    const fragment = (frag & 0x3fff) !== 0;
    // A later fragment has no UDP header: only a first fragment or a whole datagram can carry the token.
    if (!fragment && d.indexOf(ids.udpToken, l4 + 8) !== l4 + 8) return null;
    return { kind: 'udp', df: (frag & 0x4000) !== 0, fragment };
  }
  if (proto !== 1) return null;
  const type = d[l4];
  if ((type === 8 || type === 0) && d.indexOf(ids.icmpPattern, l4 + 8) >= 0) {
    if (type === 8 && addrs.equals(ids.fwd)) return { kind: 'echo-request' };
    if (type === 0 && addrs.equals(ids.back)) return { kind: 'echo-reply' };
    return null;
  }
  // Destination unreachable, fragmentation needed: the quoted header is the UDP probe's.
  if (type === 3 && d[l4 + 1] === 4 && d.length >= l4 + 8 + 28) {
    const q = l4 + 8;
    const qihl = (d[q]! & 15) * 4;
    if (
      d[q + 9] === 17 &&
      d.subarray(q + 12, q + 20).equals(ids.fwd) &&
      d.length >= q + qihl + 4 &&
      d.readUInt16BE(q + qihl + 2) === ids.udpPort
    )
      return { kind: 'frag-needed', mtu: d.readUInt16BE(l4 + 6), from: dotted(d.subarray(h + 12, h + 16)) };
  }
  return null;
}
