/**
 * Streaming pcap writer: little-endian, µs or ns magic to keep the input's timestamp resolution,
 * one write per batch, and it waits for 'drain' so a slow consumer (a pipe into tshark) bounds memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { UserError } from '../errors.js';
import type { PacketBatch } from './packet.js';
import { PCAP_HEADER, pcapRecordsSize, writePcapRecords } from './pcap-records.js';

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
    const first = this.linkType === null;
    if (first) this.linkType = batch[0]!.linkType;
    for (const p of batch) {
      if (p.linkType !== this.linkType) {
        throw new UserError(
          `${this.name}: packets with different link types (${this.linkType} and ${p.linkType}) cannot share one pcap file`,
        );
      }
    }
    const buf = Buffer.allocUnsafe(pcapRecordsSize(batch) + (first ? PCAP_HEADER : 0));
    const off = first ? this.header(this.linkType!).copy(buf, 0) : 0;
    writePcapRecords(batch, this.opts.nanosecond, buf, off);
    this.packetsWritten += batch.length;
    if (!this.out.write(buf)) await once(this.out, 'drain');
  }

  /**
   * `count` records already laid out by writePcapRecords (a decryption worker's chunk), all of `linkType`:
   * written as they are, after the file header if they are the first. `written` is called once the stream is done
   * with `records`.
   */
  async writeRecords(records: Buffer, count: number, linkType: number, written: () => void): Promise<void> {
    if (count === 0) return written();
    if (this.linkType === null) {
      this.linkType = linkType;
      this.out.write(this.header(linkType));
    }
    this.packetsWritten += count;
    if (!this.out.write(records, () => written())) await once(this.out, 'drain');
  }

  /** Writes the file header even when no packet was written, so the output is always a valid pcap. */
  async finish(defaultLinkType: number): Promise<void> {
    if (this.linkType === null) {
      this.linkType = defaultLinkType;
      if (!this.out.write(this.header(defaultLinkType))) await once(this.out, 'drain');
    }
  }
}
