/**
 * A packet batch as one transferable ArrayBuffer, so decryption can run in worker threads without
 * copying packets one by one through structured clone.
 * Layout: u32 count, then per packet u32 tsSec, tsNsec, origLen, linkType, length; then the data.
 */
import type { CapturedPacket, PacketBatch } from './packet.js';

const FIELDS = 5;

export function encodeBatch(batch: PacketBatch): ArrayBuffer {
  let size = 4 + batch.length * FIELDS * 4;
  for (const p of batch) size += p.data.length;
  const ab = new ArrayBuffer(size);
  const meta = new Uint32Array(ab, 0, 1 + batch.length * FIELDS);
  const bytes = new Uint8Array(ab);
  meta[0] = batch.length;
  let off = 4 + batch.length * FIELDS * 4;
  batch.forEach((p, i) => {
    const m = 1 + i * FIELDS;
    meta[m] = p.tsSec;
    meta[m + 1] = p.tsNsec;
    meta[m + 2] = p.origLen;
    meta[m + 3] = p.linkType;
    meta[m + 4] = p.data.length;
    bytes.set(p.data, off);
    off += p.data.length;
  });
  return ab;
}

export function decodeBatch(ab: ArrayBuffer): CapturedPacket[] {
  const count = new Uint32Array(ab, 0, 1)[0]!;
  const meta = new Uint32Array(ab, 0, 1 + count * FIELDS);
  const out = new Array<CapturedPacket>(count);
  let off = 4 + count * FIELDS * 4;
  for (let i = 0; i < count; i++) {
    const m = 1 + i * FIELDS;
    const len = meta[m + 4]!;
    out[i] = {
      tsSec: meta[m]!,
      tsNsec: meta[m + 1]!,
      origLen: meta[m + 2]!,
      linkType: meta[m + 3]!,
      data: Buffer.from(ab, off, len),
    };
    off += len;
  }
  return out;
}
