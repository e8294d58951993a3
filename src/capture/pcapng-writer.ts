/**
 * Streaming pcapng writer (little-endian, one section): one Interface Description Block per capture
 * source, Enhanced Packet Blocks in the order given, Interface Statistics Blocks at the end. pcapng
 * instead of pcap because a live capture merges sources of different link types (Ethernet on the
 * uplink, raw IP on flannel0) and the interface name (`node/interface`) travels with every packet.
 * Like PcapWriter, it waits for 'drain' so a slow consumer bounds memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { CapturedPacket } from './packet.js';

export interface PcapngInterface {
  /** if_name, e.g. `kfl-node1/flannel.1`. */
  readonly name: string;
  readonly linkType: number;
  readonly snaplen: number;
  /** Timestamps are written in ns (if_tsresol 9) when true, in µs otherwise. */
  readonly nanosecond: boolean;
  /** if_description: how the source was captured. */
  readonly description?: string | undefined;
  /** if_filter: the BPF filter expression used. */
  readonly filter?: string | undefined;
}

export interface InterfaceStatistics {
  /** isb_ifrecv: packets the kernel saw (tcpdump's "received by filter"). */
  readonly received: number | null;
  /** isb_ifdrop: packets the kernel dropped (tcpdump's "dropped by kernel"). */
  readonly dropped: number | null;
  /** isb_usrdeliv: packets delivered to the file. */
  readonly delivered: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly comment?: string | undefined;
}

const APP = 'kubectl-flannel capture';

/** Block builder: options are code(2) length(2) value padded to 4. */
class Block {
  private readonly parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly type: number) {}
  raw(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  u16(...v: number[]): this {
    const b = Buffer.alloc(2 * v.length);
    v.forEach((x, i) => b.writeUInt16LE(x, 2 * i));
    return this.raw(b);
  }
  u32(...v: number[]): this {
    const b = Buffer.alloc(4 * v.length);
    v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
    return this.raw(b);
  }
  option(code: number, value: Buffer): this {
    const pad = (4 - (value.length % 4)) % 4;
    this.u16(code, value.length).raw(value);
    if (pad) this.raw(Buffer.alloc(pad));
    return this;
  }
  text(code: number, s: string | undefined): this {
    return s ? this.option(code, Buffer.from(s, 'utf8')) : this;
  }
  u64(code: number, n: number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(Math.max(0, Math.trunc(n))));
    return this.option(code, b);
  }
  /** A timestamp option (in the interface's if_tsresol units), as high and low 32-bit words. */
  ts(code: number, ticks: bigint): this {
    return this.option(code, tsWords(ticks));
  }
  end(): Buffer {
    const total = this.size + 12 + 4; // type, length, …, opt_endofopt, length
    const head = Buffer.alloc(8);
    head.writeUInt32LE(this.type, 0);
    head.writeUInt32LE(total, 4);
    const tail = Buffer.alloc(8);
    tail.writeUInt32LE(total, 4); // opt_endofopt (4 zero bytes), then the length again
    return Buffer.concat([head, ...this.parts, tail], total);
  }
}

function tsWords(ticks: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(Number(ticks >> 32n), 0);
  b.writeUInt32LE(Number(ticks & 0xffffffffn), 4);
  return b;
}

export class PcapngWriter {
  packetsWritten = 0;
  private readonly interfaces: PcapngInterface[] = [];
  private started = false;

  constructor(private readonly out: Writable) {}

  private async put(b: Buffer): Promise<void> {
    if (!this.out.write(b)) await once(this.out, 'drain');
  }

  private async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const shb = new Block(0x0a0d0d0a)
      .u32(0x1a2b3c4d)
      .u16(1, 0)
      .u32(0xffffffff, 0xffffffff) // section length unknown: the file is streamed
      .text(4, APP)
      .end();
    await this.put(shb);
  }

  /** Writes the section header (once) so even an empty capture is a valid pcapng. */
  async begin(): Promise<void> {
    await this.start();
  }

  /** Describes one source; returns its interface id for `write`. */
  async addInterface(i: PcapngInterface): Promise<number> {
    await this.start();
    const b = new Block(1)
      .u16(i.linkType, 0)
      .u32(i.snaplen || 262144)
      .text(2, i.name);
    b.text(3, i.description);
    if (i.nanosecond) b.option(9, Buffer.from([9]));
    // if_filter: first byte 0 = a libpcap filter string.
    if (i.filter) b.option(11, Buffer.concat([Buffer.from([0]), Buffer.from(i.filter, 'utf8')]));
    await this.put(b.end());
    this.interfaces.push(i);
    return this.interfaces.length - 1;
  }

  /** Enhanced Packet Blocks for `packets`, each on the interface given beside it, in one write. */
  async write(packets: readonly { readonly iface: number; readonly packet: CapturedPacket }[]): Promise<void> {
    if (packets.length === 0) return;
    let size = 0;
    for (const { packet } of packets) size += 32 + ((packet.data.length + 3) & ~3);
    const buf = Buffer.alloc(size);
    let off = 0;
    for (const { iface, packet: p } of packets) {
      const desc = this.interfaces[iface];
      if (!desc) throw new Error(`pcapng: interface ${iface} was not described`);
      const len = 32 + ((p.data.length + 3) & ~3);
      buf.writeUInt32LE(6, off);
      buf.writeUInt32LE(len, off + 4);
      buf.writeUInt32LE(iface, off + 8);
      if (desc.nanosecond) {
        const ticks = BigInt(p.tsSec) * 1_000_000_000n + BigInt(p.tsNsec);
        buf.writeUInt32LE(Number(ticks >> 32n), off + 12);
        buf.writeUInt32LE(Number(ticks & 0xffffffffn), off + 16);
      } else {
        // µs since the epoch stays below 2^53, so plain numbers are exact here.
        const ticks = p.tsSec * 1_000_000 + Math.floor(p.tsNsec / 1000);
        buf.writeUInt32LE(Math.floor(ticks / 0x100000000), off + 12);
        buf.writeUInt32LE(ticks % 0x100000000, off + 16);
      }
      buf.writeUInt32LE(p.data.length, off + 20);
      buf.writeUInt32LE(Math.max(p.origLen, p.data.length), off + 24);
      p.data.copy(buf, off + 28);
      buf.writeUInt32LE(len, off + len - 4);
      off += len;
    }
    this.packetsWritten += packets.length;
    await this.put(buf);
  }

  /** An Interface Statistics Block: the kernel's counts for one source, written when it ended. */
  async writeStatistics(iface: number, s: InterfaceStatistics): Promise<void> {
    const b = new Block(5).u32(iface).raw(tsWords(this.ticks(iface, s.endMs)));
    b.text(1, s.comment);
    b.ts(2, this.ticks(iface, s.startMs)).ts(3, this.ticks(iface, s.endMs));
    if (s.received !== null) b.u64(4, s.received);
    if (s.dropped !== null) b.u64(5, s.dropped);
    b.u64(8, s.delivered);
    await this.put(b.end());
  }

  private ticks(iface: number, ms: number): bigint {
    return this.interfaces[iface]?.nanosecond ? BigInt(Math.round(ms)) * 1_000_000n : BigInt(Math.round(ms * 1000));
  }
}
