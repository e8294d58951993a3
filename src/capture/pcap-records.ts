/**
 * Classic pcap records (16-byte header, then the captured bytes) in and out of one buffer, with no state:
 * what the pcap reader, the pcap writer and the decryption workers (esp/parallel.ts) share, so that a
 * record parsed or written on a worker thread is byte for byte the one the main thread would make.
 */
import type { CapturedPacket, PacketBatch } from './packet.js';

export const PCAP_HEADER = 24;
export const PCAP_RECORD_HEADER = 16;

/** How a pcap file's records are laid out, from its file header. */
export interface PcapLayout {
  readonly bigEndian: boolean;
  readonly nanosecond: boolean;
  readonly linkType: number;
}

/**
 * The records of `b` from `off` to `end`, which must hold whole records only (the caller has checked their
 * lengths): each packet's data is a view into `b`, nothing is copied.
 */
export function parsePcapRecords(b: Buffer, off: number, end: number, l: PcapLayout): CapturedPacket[] {
  const batch: CapturedPacket[] = [];
  const { bigEndian: be, nanosecond, linkType } = l;
  while (off < end) {
    const tsSec = be ? b.readUInt32BE(off) : b.readUInt32LE(off);
    const frac = be ? b.readUInt32BE(off + 4) : b.readUInt32LE(off + 4);
    const caplen = be ? b.readUInt32BE(off + 8) : b.readUInt32LE(off + 8);
    const origLen = be ? b.readUInt32BE(off + 12) : b.readUInt32LE(off + 12);
    const start = off + PCAP_RECORD_HEADER;
    batch.push({
      tsSec,
      tsNsec: nanosecond ? frac : frac * 1000,
      origLen,
      linkType,
      data: b.subarray(start, start + caplen),
    });
    off = start + caplen;
  }
  return batch;
}

/** Bytes the records of `batch` take in a pcap file. */
export function pcapRecordsSize(batch: PacketBatch): number {
  let size = 0;
  for (const p of batch) size += PCAP_RECORD_HEADER + p.data.length;
  return size;
}

/**
 * Writes `batch` as little-endian pcap records into `buf` from `off`; returns the offset after them.
 * The caller has checked that every packet has the file's link type.
 */
export function writePcapRecords(batch: PacketBatch, nanosecond: boolean, buf: Buffer, off: number): number {
  for (const p of batch) {
    buf.writeUInt32LE(p.tsSec >>> 0, off);
    buf.writeUInt32LE(nanosecond ? p.tsNsec : Math.floor(p.tsNsec / 1000), off + 4);
    buf.writeUInt32LE(p.data.length, off + 8);
    buf.writeUInt32LE(Math.max(p.origLen, p.data.length), off + 12);
    off += PCAP_RECORD_HEADER;
    off += p.data.copy(buf, off);
  }
  return off;
}
