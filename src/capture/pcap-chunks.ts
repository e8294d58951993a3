/**
 * Classic pcap cut into chunks of whole records for the decryption workers (esp/parallel.ts): the main
 * thread only walks the 16-byte record headers (it never builds a packet) and hands each chunk over as an
 * ArrayBuffer of its own, transferred, not copied, which comes back with the chunk's output in it and is
 * reused. A file is read straight into the chunks; a stream's pieces are copied in once (a memcpy). Only a
 * record cut by a chunk's end is copied again, to the next chunk's start.
 * Checks and counts are CaptureReader's: the same limits, the same errors, the same truncated tail.
 */
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../errors.js';
import type { CaptureFormat } from './packet.js';
import { MAX_RECORD, MAX_SNAPLEN, pcapHeader } from './pcap-reader.js';
import { PCAP_HEADER, PCAP_RECORD_HEADER, type PcapLayout } from './pcap-records.js';

/** Records of one chunk: bytes `start` to `end` of `buffer`, `count` packets, the first of them number `first` (0-based). */
export interface PcapChunk {
  readonly buffer: ArrayBuffer;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly first: number;
}

/** Where the chunker's bytes come from: fills `into` from `off` with at most `len` bytes; 0 at the end. */
export interface ByteSource {
  read(into: Buffer, off: number, len: number): Promise<number>;
}

/** A file, read sequentially from its start. */
export function fileSource(fh: FileHandle): ByteSource {
  return { read: async (into, off, len) => (await fh.read(into, off, len, null)).bytesRead };
}

/** A stream (stdin) whose first pieces, `head`, were already taken from it. */
export function streamSource(head: Buffer, rest: AsyncIterable<Buffer | string>): ByteSource {
  const it = rest[Symbol.asyncIterator]();
  let piece = head;
  return {
    async read(into, off, len) {
      while (piece.length === 0) {
        const r = await it.next();
        if (r.done) return 0;
        piece = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      }
      const n = piece.copy(into, off, 0, Math.min(len, piece.length));
      piece = piece.subarray(n);
      return n;
    },
  };
}

/** Enough records to keep a worker busy for a few milliseconds, few enough that both start at once. */
export const CHUNK = 1 << 20;

export class PcapChunker implements AsyncIterable<PcapChunk> {
  readonly format: CaptureFormat;
  readonly layout: PcapLayout;
  packetsRead = 0;
  truncatedTail: { readonly packetIndex: number; readonly have: number; readonly need: number } | null = null;
  private readonly maxCaplen: number;
  /** Chunk buffers back from the workers and the output stream, reused: no allocation (and no GC of it) per chunk. */
  private readonly free: ArrayBuffer[] = [];

  /**
   * `header` is the input's first 24 bytes, recognised by pcapHeader; `source` gives the input from its first byte.
   * `chunkSize` is for tests, which cut small inputs into many chunks.
   */
  constructor(
    header: Buffer,
    private readonly source: ByteSource,
    private readonly name: string,
    private readonly chunkSize = CHUNK,
  ) {
    const h = pcapHeader(header)!;
    this.format = { container: 'pcap', nanosecond: h.nanosecond, snaplen: h.snaplen, bigEndian: h.bigEndian };
    this.layout = { bigEndian: h.bigEndian, nanosecond: h.nanosecond, linkType: h.linkType };
    this.maxCaplen = Math.min(Math.max(h.snaplen, MAX_SNAPLEN), MAX_RECORD);
  }

  /** A chunk's buffer once nothing refers to it any more (its records are written). */
  recycle(buffer: ArrayBufferLike): void {
    if (buffer instanceof ArrayBuffer && buffer.byteLength === this.chunkSize && this.free.length < 64)
      this.free.push(buffer);
  }

  private buffer(min: number): Buffer {
    const n = this.chunkSize;
    return Buffer.from(min <= n ? (this.free.pop() ?? new ArrayBuffer(n)) : new ArrayBuffer(min));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PcapChunk> {
    const be = this.layout.bigEndian;
    let buf = this.buffer(0);
    let fill = 0;
    let start = PCAP_HEADER;
    let scan = PCAP_HEADER;
    let count = 0;
    // Byte offset in the input of buf[0], for errors.
    let base = 0;
    for (;;) {
      const n = await this.source.read(buf, fill, buf.length - fill);
      if (n === 0) break;
      fill += n;
      let need = 0;
      while (fill - scan >= PCAP_RECORD_HEADER) {
        const caplen = be ? buf.readUInt32BE(scan + 8) : buf.readUInt32LE(scan + 8);
        if (caplen > this.maxCaplen) {
          throw new UserError(
            `${this.name}: packet ${this.packetsRead + 1} (byte offset ${base + scan}) claims ${caplen} captured bytes, ` +
              `more than the maximum ${this.maxCaplen}; the file is corrupt`,
          );
        }
        if (fill - scan - PCAP_RECORD_HEADER < caplen) {
          need = PCAP_RECORD_HEADER + caplen;
          break;
        }
        scan += PCAP_RECORD_HEADER + caplen;
        count++;
        this.packetsRead++;
      }
      if (fill < buf.length) continue;
      // Full: hand over the whole records, carry the cut one into a chunk big enough for it. The carry is
      // copied before the chunk is yielded: the consumer transfers (detaches) its buffer.
      const next = this.buffer(need);
      buf.copy(next, 0, scan, fill);
      const full = { buffer: buf.buffer as ArrayBuffer, start, end: scan, count, first: this.packetsRead - count };
      base += scan;
      fill -= scan;
      buf = next;
      start = scan = count = 0;
      if (full.count > 0) yield full;
    }
    // The cut tail is measured before the last chunk is yielded, which detaches its buffer.
    const left = fill - scan;
    if (left > 0) {
      const need =
        left >= PCAP_RECORD_HEADER
          ? PCAP_RECORD_HEADER + (be ? buf.readUInt32BE(scan + 8) : buf.readUInt32LE(scan + 8))
          : PCAP_RECORD_HEADER;
      this.truncatedTail = { packetIndex: this.packetsRead + 1, have: left, need };
    }
    if (count > 0)
      yield { buffer: buf.buffer as ArrayBuffer, start, end: scan, count, first: this.packetsRead - count };
  }
}
