/**
 * Checksums of a captured packet as it arrived: the IPv4 header's, and the UDP or TCP checksum when the whole
 * segment was captured. Used on the receiving side only: a sender's capture shows what the NIC has yet to fill in.
 *
 * An offloaded checksum is not an error. When the kernel leaves the checksum to a device (CHECKSUM_PARTIAL), the
 * field holds only the folded pseudo-header sum, and a virtual link (veth, a bridge) passes the packet on like
 * that: tcpdump on the receiving side reads "bad udp cksum" on every healthy VXLAN packet of the lab. Such a field
 * is recognised and not judged.
 */
import { ipv4Checksum } from './frame.js';

export type ChecksumVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly header: string; readonly found: number; readonly expected: number };

const OK: ChecksumVerdict = { ok: true };

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function sum16(b: Buffer, from: number, to: number, skip: number): number {
  let s = 0;
  for (let i = from; i + 1 < to; i += 2) if (i !== skip) s += b.readUInt16BE(i);
  if ((to - from) % 2 === 1) s += b[to - 1]! << 8;
  return s;
}

/** Checks the IPv4 (or IPv6) packet at `off` and, when complete in `d`, its UDP or TCP segment. */
export function verifyChecksums(d: Buffer, off: number, what: string): ChecksumVerdict {
  const version = d[off]! >> 4;
  let proto: number;
  let l4: number;
  let l4len: number;
  let pseudo: number;
  if (version === 4) {
    const ihl = (d[off]! & 15) * 4;
    if (ihl < 20 || d.length < off + ihl) return OK;
    const found = d.readUInt16BE(off + 10);
    const expected = ipv4Checksum(d.subarray(off, off + ihl));
    if (found !== expected) return { ok: false, header: `${what} IPv4 header`, found, expected };
    // A fragment's L4 checksum covers the whole datagram; not judged.
    if ((d.readUInt16BE(off + 6) & 0x3fff) !== 0) return OK;
    proto = d[off + 9]!;
    l4 = off + ihl;
    l4len = d.readUInt16BE(off + 2) - ihl;
    pseudo = sum16(d, off + 12, off + 20, -1) + proto + l4len;
  } else if (version === 6) {
    if (d.length < off + 40) return OK;
    proto = d[off + 6]!;
    l4 = off + 40;
    l4len = d.readUInt16BE(off + 4);
    pseudo = sum16(d, off + 8, off + 40, -1) + proto + (l4len >>> 16) + (l4len & 0xffff);
  } else return OK;
  const field = proto === 17 ? 6 : proto === 6 ? 16 : -1;
  // Only a segment captured whole can be summed.
  if (field < 0 || l4len < field + 2 || d.length < l4 + l4len) return OK;
  const found = d.readUInt16BE(l4 + field);
  if (proto === 17 && found === 0 && version === 4) return OK; // IPv4 UDP without a checksum
  if (found === fold(pseudo)) return OK; // left to the device (CHECKSUM_PARTIAL)
  let expected = ~fold(pseudo + sum16(d, l4, l4 + l4len, l4 + field)) & 0xffff;
  if (proto === 17 && expected === 0) expected = 0xffff;
  if (found === expected) return OK;
  return { ok: false, header: `${what} ${proto === 17 ? 'UDP' : 'TCP'}`, found, expected };
}
