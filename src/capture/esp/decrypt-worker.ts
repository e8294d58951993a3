/**
 * Worker thread body for ParallelEspDecryptor: a chunk of whole pcap records in (its ArrayBuffer
 * transferred), the chunk's decrypted pcap records out in the same buffer (transferred back), and
 * the chunk's counts. Parsing, decryption and the output records all happen here, none on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { XfrmState } from '../../snapshot/types.js';
import type { PcapLayout } from '../pcap-records.js';
import { decryptChunk } from './decrypt-chunk.js';
import { EspDecryptor } from './decryptor.js';
import { SaTable } from './sa-table.js';
import { statsToWire } from './stats-wire.js';

const { states, layout } = workerData as { states: readonly XfrmState[]; layout: PcapLayout };
// One decryptor for the worker's life: a fresh one per chunk cost a new 256 KiB frame slab each time, whose
// external memory made V8 collect garbage more often (bench/esp profile). Counts are taken per chunk.
const d = new EspDecryptor(new SaTable(states));
parentPort!.on('message', (m: { id: number; buffer: ArrayBuffer; start: number; end: number }) => {
  const r = decryptChunk(d, layout, m.buffer, m.start, m.end);
  parentPort!.postMessage({ id: m.id, ...r, stats: statsToWire(d.takeStats()) }, [r.buffer]);
});
