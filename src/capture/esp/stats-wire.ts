/** DecryptStats across a worker boundary (Maps as entry lists). */
import type { DecryptStats, FailureReason } from './decryptor.js';

export interface StatsWire {
  packets: number;
  espPackets: number;
  dummies: number;
  decryptedBySa: [string, number][];
  failures: [FailureReason, number][];
  unknownSpis: [number, number][];
}

export function statsToWire(s: DecryptStats): StatsWire {
  return {
    packets: s.packets,
    espPackets: s.espPackets,
    dummies: s.dummies,
    decryptedBySa: [...s.decryptedBySa],
    failures: [...s.failures],
    unknownSpis: [...s.unknownSpis],
  };
}

export function mergeStats(into: DecryptStats, w: StatsWire): void {
  into.packets += w.packets;
  into.espPackets += w.espPackets;
  into.dummies += w.dummies;
  const add = <K>(m: Map<K, number>, entries: [K, number][]): void => {
    for (const [k, n] of entries) m.set(k, (m.get(k) ?? 0) + n);
  };
  add(into.decryptedBySa, w.decryptedBySa);
  add(into.failures, w.failures);
  add(into.unknownSpis, w.unknownSpis);
}
