/**
 * Streaming pcap writer: little-endian, µs or ns magic to keep the input's timestamp resolution,
 * one write per batch, and it waits for 'drain' so a slow consumer (a pipe into tshark) bounds memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { UserError } from '../errors.js';
import type { PacketBatch } from './packet.js';

export interface PcapWriterOptions {
  readonly nanosecond: boolean;
  readonly snaplen: number;
}

export class PcapWriter {
  packetsWritten = 0;
  private linkType: number | null = null;

  constructor(
    private readonly out: Writable,
    private readonly opts: PcapWriterOptions,
    private readonly name: string,
  ) {}

  private header(linkType: number): Buffer {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(this.opts.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(this.opts.snaplen || 262144, 16);
    h.writeUInt32LE(linkType, 20);
    return h;
  }

  async write(batch: PacketBatch): Promise<void> {
    if (batch.length === 0) return;
    let size = 0;
    for (const p of batch) size += 16 + p.data.length;
    const first = this.linkType === null;
    if (first) this.linkType = batch[0]!.linkType;
    const buf = Buffer.allocUnsafe(size + (first ? 24 : 0));
    let off = 0;
    if (first) off = this.header(this.linkType!).copy(buf, 0);
    const ns = this.opts.nanosecond;
    for (const p of batch) {
      if (p.linkType !== this.linkType) {
        throw new UserError(
          `${this.name}: packets with different link types (${this.linkType} and ${p.linkType}) cannot share one pcap file`,
        );
      }
      buf.writeUInt32LE(p.tsSec >>> 0, off);
      buf.writeUInt32LE(ns ? p.tsNsec : Math.floor(p.tsNsec / 1000), off + 4);
      buf.writeUInt32LE(p.data.length, off + 8);
      buf.writeUInt32LE(Math.max(p.origLen, p.data.length), off + 12);
      off += 16;
      off += p.data.copy(buf, off);
    }
    this.packetsWritten += batch.length;
    if (!this.out.write(buf)) await once(this.out, 'drain');
  }

  /** Writes the file header even when no packet was written, so the output is always a valid pcap. */
  async finish(defaultLinkType: number): Promise<void> {
    if (this.linkType === null) {
      this.linkType = defaultLinkType;
      if (!this.out.write(this.header(defaultLinkType))) await once(this.out, 'drain');
    }
  }
}
