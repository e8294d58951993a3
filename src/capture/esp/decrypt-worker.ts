/** Worker thread body for ParallelEspDecryptor: one EspDecryptor, batches in, batches out. */
import { parentPort, workerData } from 'node:worker_threads';
import type { XfrmState } from '../../snapshot/types.js';
import { decodeBatch, encodeBatch } from '../batch-codec.js';
import { EspDecryptor } from './decryptor.js';
import { SaTable } from './sa-table.js';
import { statsToWire } from './stats-wire.js';

const table = new SaTable(workerData as readonly XfrmState[]);
parentPort!.on('message', (msg: { id: number; batch: ArrayBuffer }) => {
  // A fresh decryptor per batch: its stats are this batch's, merged by the main thread.
  const d = new EspDecryptor(table);
  const out = encodeBatch(d.processBatch(decodeBatch(msg.batch)));
  parentPort!.postMessage({ id: msg.id, batch: out, stats: statsToWire(d.stats) }, [out]);
});
