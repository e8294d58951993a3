/**
 * Streaming reader for pcap (both byte orders, µs and ns magic) and pcapng (SHB/IDB/EPB/SPB).
 *
 * Memory stays constant: each input chunk is cut into packets that reference the chunk, and only
 * the unfinished tail of a chunk is carried over. Sizes are checked before anything is buffered,
 * so a corrupt length field gives an error instead of reading the rest of the file into memory.
 * Why not pcap-parser: see docs/capture.md (no ns magic, no pcapng, unbounded buffering on a
 * corrupt length, silent truncation, a deprecation warning on every run).
 */
import { UserError } from '../errors.js';
import type { CapturedPacket, CaptureFormat, PacketBatch } from './packet.js';

const PCAP_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
/** libpcap refuses records larger than max(snaplen, 262144); so do we. */
export const MAX_SNAPLEN = 262144;
/** Whatever snaplen a header claims, no record or block is buffered beyond this: memory stays bounded. */
export const MAX_RECORD = 16 * 1024 * 1024;
const MAX_PCAPNG_BLOCK = MAX_RECORD;
/** Interface Description Block: header (8), link type (2), reserved (2), snaplen (4), trailing length (4). */
const MIN_IDB = 20;
/** Simple Packet Block: header (8), original length (4), trailing length (4). */
const MIN_SPB = 16;
/** How much of a new chunk is joined to the previous chunk's unfinished record before the whole chunk is. */
const JOIN = 64 * 1024;

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

/** A classic pcap file header (24 bytes), or null when `buf` does not start with one of pcap's magics. */
export function pcapHeader(buf: Buffer): {
  bigEndian: boolean;
  nanosecond: boolean;
  major: number;
  minor: number;
  snaplen: number;
  linkType: number;
} | null {
  if (buf.length < PCAP_HEADER) return null;
  const le = buf.readUInt32LE(0);
  const be = buf.readUInt32BE(0);
  if (le !== MAGIC_US && le !== MAGIC_NS && be !== MAGIC_US && be !== MAGIC_NS) return null;
  const bigEndian = be === MAGIC_US || be === MAGIC_NS;
  const u16 = (o: number): number => (bigEndian ? buf.readUInt16BE(o) : buf.readUInt16LE(o));
  const u32 = (o: number): number => (bigEndian ? buf.readUInt32BE(o) : buf.readUInt32LE(o));
  return {
    bigEndian,
    nanosecond: (bigEndian ? be : le) === MAGIC_NS,
    major: u16(4),
    minor: u16(6),
    snaplen: u32(16),
    // The link type sits in the low 16 bits; the upper bits carry FCS flags (pcap-ng draft, libpcap >= 1.5).
    linkType: u32(20) & 0xffff,
  };
}

interface Interface {
  readonly linkType: number;
  readonly snaplen: number;
  /** Timestamp units per second. */
  readonly unitsPerSec: bigint;
}

export class CaptureReader implements AsyncIterable<PacketBatch> {
  /** Known once the first batch (or the end of input) has been reached. */
  format: CaptureFormat | null = null;
  /** Set when the input ends inside a record. */
  truncatedTail: { readonly packetIndex: number; readonly have: number; readonly need: number } | null = null;
  packetsRead = 0;

  private bigEndian = false;
  private interfaces: Interface[] = [];
  private consumed = 0;

  constructor(
    private readonly input: AsyncIterable<Buffer | string>,
    /** How the input is named in errors, e.g. the file path. */
    private readonly name: string,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<PacketBatch> {
    let buf: Buffer = Buffer.alloc(0);
    let parse: ((b: Buffer) => { batch: CapturedPacket[]; used: number }) | null = null;
    for await (const raw of this.input) {
      let chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      let head: CapturedPacket[] = [];
      if (parse !== null && buf.length > 0) {
        // The record the previous chunk cut: joined with the start of this chunk only. Copying the whole
        // chunk after it cost a memcpy of the entire input (bench/esp/stage.ts); a record longer than
        // JOIN still gets the whole chunk, below.
        const joined = Buffer.concat([buf, chunk.subarray(0, JOIN)]);
        const r = parse(joined);
        if (r.used > buf.length) {
          head = r.batch;
          this.consumed += r.used;
          chunk = chunk.subarray(r.used - buf.length);
          buf = Buffer.alloc(0);
        }
      }
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (parse === null) {
        if (buf.length < PCAP_HEADER) continue;
        parse = this.start(buf);
        if (this.format?.container === 'pcap') {
          buf = buf.subarray(PCAP_HEADER);
          this.consumed = PCAP_HEADER;
        }
      }
      const { batch, used } = parse(buf);
      buf = buf.subarray(used);
      this.consumed += used;
      const all = head.length > 0 ? head.concat(batch) : batch;
      if (all.length > 0) yield all;
    }
    if (parse === null) {
      if (buf.length === 0) throw new UserError(`${this.name}: empty input, expected a pcap or pcapng file`);
      throw new UserError(`${this.name}: only ${buf.length} bytes, too short for a pcap or pcapng header`);
    }
    if (buf.length > 0) this.noteTruncatedTail(buf);
  }

  private start(buf: Buffer): (b: Buffer) => { batch: CapturedPacket[]; used: number } {
    const h = pcapHeader(buf);
    if (h) {
      if (h.major !== 2)
        throw new UserError(`${this.name}: pcap version ${h.major}.${h.minor} is not supported (expected 2.4)`);
      this.bigEndian = h.bigEndian;
      const { linkType, snaplen, nanosecond } = h;
      this.format = { container: 'pcap', nanosecond, snaplen, bigEndian: this.bigEndian };
      return (b) => this.parsePcap(b, linkType, Math.min(Math.max(snaplen, MAX_SNAPLEN), MAX_RECORD), nanosecond);
    }
    const le = buf.readUInt32LE(0);
    if (le === PCAPNG_SHB) {
      return (b) => this.parsePcapng(b);
    }
    throw new UserError(
      `${this.name}: not a pcap or pcapng file (starts with 0x${buf.subarray(0, 4).toString('hex')}); ` +
        'write captures with `tcpdump -w FILE`',
    );
  }

  private parsePcap(
    b: Buffer,
    linkType: number,
    maxCaplen: number,
    nanosecond: boolean,
  ): { batch: CapturedPacket[]; used: number } {
    const batch: CapturedPacket[] = [];
    const be = this.bigEndian;
    let off = 0;
    while (b.length - off >= PCAP_RECORD_HEADER) {
      const tsSec = be ? b.readUInt32BE(off) : b.readUInt32LE(off);
      const frac = be ? b.readUInt32BE(off + 4) : b.readUInt32LE(off + 4);
      const caplen = be ? b.readUInt32BE(off + 8) : b.readUInt32LE(off + 8);
      const origLen = be ? b.readUInt32BE(off + 12) : b.readUInt32LE(off + 12);
      if (caplen > maxCaplen) {
        throw new UserError(
          `${this.name}: packet ${this.packetsRead + 1} (byte offset ${this.consumed + off}) claims ${caplen} captured bytes, ` +
            `more than the maximum ${maxCaplen}; the file is corrupt`,
        );
      }
      if (b.length - off - PCAP_RECORD_HEADER < caplen) break;
      const start = off + PCAP_RECORD_HEADER;
      batch.push({
        tsSec,
        tsNsec: nanosecond ? frac : frac * 1000,
        origLen,
        linkType,
        data: b.subarray(start, start + caplen),
      });
      this.packetsRead++;
      off = start + caplen;
    }
    return { batch, used: off };
  }

  private parsePcapng(b: Buffer): { batch: CapturedPacket[]; used: number } {
    const batch: CapturedPacket[] = [];
    let off = 0;
    while (b.length - off >= 12) {
      const type = this.bigEndian ? b.readUInt32BE(off) : b.readUInt32LE(off);
      if (type === PCAPNG_SHB || b.readUInt32LE(off) === PCAPNG_SHB) {
        // A new section may switch byte order; the byte-order magic follows the block length.
        const bom = b.readUInt32LE(off + 8);
        if (bom === PCAPNG_BOM) this.bigEndian = false;
        else if (b.readUInt32BE(off + 8) === PCAPNG_BOM) this.bigEndian = true;
        else
          throw new UserError(
            `${this.name}: pcapng section header at byte ${this.consumed + off} has no byte-order magic; the file is corrupt`,
          );
        this.interfaces = [];
        this.format ??= { container: 'pcapng', nanosecond: false, snaplen: 0, bigEndian: this.bigEndian };
      }
      const len = this.bigEndian ? b.readUInt32BE(off + 4) : b.readUInt32LE(off + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_PCAPNG_BLOCK) {
        throw new UserError(
          `${this.name}: pcapng block at byte ${this.consumed + off} has invalid length ${len}; the file is corrupt`,
        );
      }
      if (b.length - off < len) break;
      const block = b.subarray(off, off + len);
      const blockType = this.bigEndian ? block.readUInt32BE(0) : block.readUInt32LE(0);
      if (blockType === 1) {
        if (len < MIN_IDB)
          throw new UserError(
            `${this.name}: pcapng interface description block at byte ${this.consumed + off} is ${len} bytes, too short for one; the file is corrupt`,
          );
        this.addInterface(block);
      } else if (blockType === 6 || blockType === 3)
        batch.push(this.packetFromBlock(block, blockType, this.consumed + off));
      off += len;
    }
    return { batch, used: off };
  }

  private addInterface(block: Buffer): void {
    const u16 = (o: number): number => (this.bigEndian ? block.readUInt16BE(o) : block.readUInt16LE(o));
    const u32 = (o: number): number => (this.bigEndian ? block.readUInt32BE(o) : block.readUInt32LE(o));
    const linkType = u16(8);
    const snaplen = u32(12);
    let unitsPerSec = 1_000_000n;
    // Options: code(2) len(2) value padded to 4, until opt_endofopt or the trailing length.
    let o = 16;
    while (o + 4 <= block.length - 4) {
      const code = u16(o);
      const olen = u16(o + 2);
      if (code === 0) break;
      if (code === 9 && olen >= 1) {
        const v = block[o + 4]!;
        unitsPerSec = v & 0x80 ? 1n << BigInt(v & 0x7f) : 10n ** BigInt(v & 0x7f);
      }
      o += 4 + Math.ceil(olen / 4) * 4;
    }
    this.interfaces.push({ linkType, snaplen, unitsPerSec });
    const prev = this.format!;
    this.format = {
      ...prev,
      snaplen: Math.max(prev.snaplen, snaplen),
      nanosecond: prev.nanosecond || unitsPerSec > 1_000_000n,
    };
  }

  private packetFromBlock(block: Buffer, blockType: number, at: number): CapturedPacket {
    const u32 = (o: number): number => (this.bigEndian ? block.readUInt32BE(o) : block.readUInt32LE(o));
    const bad = (what: string): UserError =>
      new UserError(`${this.name}: pcapng packet block at byte ${at} ${what}; the file is corrupt`);
    this.packetsRead++;
    if (blockType === 3) {
      if (block.length < MIN_SPB) throw bad('is too short');
      // Simple Packet Block: interface 0, no timestamp.
      const iface = this.interfaces[0];
      if (!iface) throw bad('comes before any interface description');
      const origLen = u32(8);
      const caplen = Math.min(origLen, iface.snaplen || origLen, block.length - 16);
      return { tsSec: 0, tsNsec: 0, origLen, linkType: iface.linkType, data: block.subarray(12, 12 + caplen) };
    }
    if (block.length < 32) throw bad('is too short');
    const iface = this.interfaces[u32(8)];
    if (!iface) throw bad(`names interface ${u32(8)}, which was not described`);
    const caplen = u32(20);
    if (28 + caplen > block.length - 4) throw bad(`claims ${caplen} captured bytes, more than the block holds`);
    const ticks = (BigInt(u32(12)) << 32n) | BigInt(u32(16));
    const sec = ticks / iface.unitsPerSec;
    const rem = ticks % iface.unitsPerSec;
    return {
      tsSec: Number(sec),
      tsNsec: Number((rem * 1_000_000_000n) / iface.unitsPerSec),
      origLen: u32(24),
      linkType: iface.linkType,
      data: block.subarray(28, 28 + caplen),
    };
  }

  private noteTruncatedTail(rest: Buffer): void {
    const fmt = this.format;
    if (fmt?.container === 'pcap' && rest.length >= PCAP_RECORD_HEADER) {
      const caplen = this.bigEndian ? rest.readUInt32BE(8) : rest.readUInt32LE(8);
      this.truncatedTail = { packetIndex: this.packetsRead + 1, have: rest.length, need: PCAP_RECORD_HEADER + caplen };
    } else {
      this.truncatedTail = {
        packetIndex: this.packetsRead + 1,
        have: rest.length,
        need: fmt?.container === 'pcap' ? PCAP_RECORD_HEADER : 12,
      };
    }
  }
}
