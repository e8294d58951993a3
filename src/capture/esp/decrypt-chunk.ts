/**
 * One chunk of pcap records decrypted: what a decryption worker does with each chunk (decrypt-worker.ts), and
 * the main thread with an input of a single chunk (parallel.ts), so both give the same bytes.
 */
import { type PcapLayout, parsePcapRecords, pcapRecordsSize, writePcapRecords } from '../pcap-records.js';
import type { EspDecryptor } from './decryptor.js';

/** The chunk's output records: bytes `start` to `start + size` of `buffer` (the chunk's own, as a rule). */
export interface DecryptedChunk {
  readonly buffer: ArrayBuffer;
  readonly start: number;
  readonly size: number;
  readonly count: number;
}

export function decryptChunk(
  d: EspDecryptor,
  layout: PcapLayout,
  buffer: ArrayBuffer,
  start: number,
  end: number,
): DecryptedChunk {
  // Besides its counts (taken per chunk, merged in input order) the decryptor keeps no state between packets
  // (no replay window: a capture is decrypted, not defended), so chunks are independent.
  const buf = Buffer.from(buffer);
  const out = d.processBatch(parsePcapRecords(buf, start, end, layout));
  // The output records go where the input records were: each is at most as long as its input (decryption only
  // removes headers, ICV and padding), so record k is written over input records <= k, which are all parsed and
  // decrypted by now; a record kept as captured moves down over its own bytes (Buffer.copy handles the overlap).
  const size = pcapRecordsSize(out);
  if (size <= end - start) {
    writePcapRecords(out, layout.nanosecond, buf, start);
    return { buffer, start, size, count: out.length };
  }
  // Never expected; kept so that a longer output could not overwrite input not yet copied.
  const own = Buffer.allocUnsafeSlow(size);
  writePcapRecords(out, layout.nanosecond, own, 0);
  return { buffer: own.buffer as ArrayBuffer, start: 0, size, count: out.length };
}
