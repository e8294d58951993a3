/** The stderr report of a capture run: what was read, what was decrypted per SA, what failed and why. */
import type { DecryptStats } from './esp/decryptor.js';
import { type CaptureFormat, linkTypeName } from './packet.js';

export interface SummaryInput {
  readonly source: string;
  readonly format: CaptureFormat | null;
  readonly linkTypes: ReadonlySet<number>;
  readonly packetsRead: number;
  readonly truncatedTail: { readonly packetIndex: number; readonly have: number; readonly need: number } | null;
  readonly stats: DecryptStats | null;
  readonly written: { readonly target: string; readonly packets: number } | null;
}

/**
 * Most first; equal counts by name. Not by first appearance: the decryptor counts a batch's packets SA by SA, so
 * which of two SAs is counted first depends on where batches (and the workers' chunks) were cut.
 */
const byCount = (a: [string, number], b: [string, number]): number =>
  b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

export function formatSummary(s: SummaryInput): string {
  const out: string[] = [];
  const fmt = s.format
    ? `${s.format.container}, ${[...s.linkTypes].map(linkTypeName).join(' + ') || 'no packets'}, ${s.format.nanosecond ? 'ns' : 'µs'} timestamps`
    : 'unknown format';
  out.push(`read ${s.packetsRead} packets from ${s.source} (${fmt})`);
  if (s.truncatedTail) {
    const t = s.truncatedTail;
    out.push(
      `  warning: the input ends inside packet ${t.packetIndex} (${t.have} of ${t.need} bytes); that packet is dropped`,
    );
  }
  const st = s.stats;
  if (st) {
    out.push(`  ESP packets: ${st.espPackets}`);
    out.push(`  decrypted: ${st.decrypted}`);
    for (const [label, n] of [...st.decryptedBySa].sort(byCount)) out.push(`    ${label}: ${n}`);
    if (st.dummies > 0) out.push(`    (${st.dummies} of them dummy packets, next header 59, kept as captured)`);
    const failed = [...st.failures.values()].reduce((a, b) => a + b, 0);
    out.push(`  not decrypted, kept as captured: ${failed}`);
    for (const [reason, n] of [...st.failures].sort(byCount)) {
      let extra = '';
      if (reason === 'unknown SPI') {
        const spis = [...st.unknownSpis.keys()].slice(0, 5).map(hex32);
        extra = ` (${spis.join(', ')}${st.unknownSpis.size > 5 ? ', …' : ''}; not in --xfrm-state)`;
      }
      out.push(`    ${reason}: ${n}${extra}`);
    }
  }
  if (s.written) out.push(`wrote ${s.written.packets} packets to ${s.written.target}`);
  return `${out.join('\n')}\n`;
}
