/**
 * Worker thread body for ParallelEspDecryptor: a chunk of whole pcap records in (its ArrayBuffer
 * transferred), the chunk's decrypted pcap records out in the same buffer (transferred back), and
 * the chunk's counts. Parsing, decryption and the output records all happen here, none on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { XfrmState } from '../../snapshot/types.js';
import { type PcapLayout, parsePcapRecords, pcapRecordsSize, writePcapRecords } from '../pcap-records.js';
import { EspDecryptor } from './decryptor.js';
import { SaTable } from './sa-table.js';
import { statsToWire } from './stats-wire.js';

const { states, layout } = workerData as { states: readonly XfrmState[]; layout: PcapLayout };
// One decryptor for the worker's life: a fresh one per chunk cost a new 256 KiB frame slab each time, whose
// external memory made V8 collect garbage more often (bench/esp profile). Counts are taken per chunk.
const d = new EspDecryptor(new SaTable(states));
parentPort!.on('message', (m: { id: number; buffer: ArrayBuffer; start: number; end: number }) => {
  // Besides the counts (taken per chunk, merged by the main thread in input order) the decryptor keeps no
  // state between packets (no replay window: a capture is decrypted, not defended), so chunks are independent.
  const buf = Buffer.from(m.buffer);
  const out = d.processBatch(parsePcapRecords(buf, m.start, m.end, layout));
  // The output records go where the input records were: each is at most as long as its input (decryption only
  // removes headers, ICV and padding), so record k is written over input records <= k, which are all parsed and
  // decrypted by now; a record kept as captured moves down over its own bytes (Buffer.copy handles the overlap).
  const size = pcapRecordsSize(out);
  if (size <= m.end - m.start) {
    writePcapRecords(out, layout.nanosecond, buf, m.start);
    reply(m.id, m.buffer, m.start, size, out.length);
  } else {
    // Never expected; kept so that a longer output could not overwrite input not yet copied.
    const own = Buffer.allocUnsafeSlow(size);
    writePcapRecords(out, layout.nanosecond, own, 0);
    reply(m.id, own.buffer as ArrayBuffer, 0, size, out.length);
  }
});

function reply(id: number, buffer: ArrayBufferLike, start: number, size: number, count: number): void {
  parentPort!.postMessage({ id, buffer, start, size, count, stats: statsToWire(d.takeStats()) }, [
    buffer as ArrayBuffer,
  ]);
}
