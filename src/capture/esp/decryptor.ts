/**
 * The decryption stage: each ESP packet becomes its decrypted inner packet in the same link-layer
 * frame; every other packet, and every ESP packet that cannot be decrypted, passes unchanged.
 */
import { etherTypeFor, ipv4Checksum, locateEsp, locateIp } from '../frame.js';
import { type CapturedPacket, LinkType, type PacketBatch } from '../packet.js';
import { cbcBatchable, type DecryptFailure, decryptCbcBatch, decryptEsp } from './esp-crypto.js';
import { batchable, GCM_BATCH_MIN, GCM_OVERHEAD, openGcmBatchInPlace } from './gcm-batch.js';
import type { EspSA, SaTable } from './sa-table.js';

export type FailureReason =
  | DecryptFailure
  | 'unknown SPI'
  | 'truncated (cut by snaplen or end of file)'
  | 'IP fragment (not reassembled)'
  | 'inner packet does not fit the link type';

export class DecryptStats {
  packets = 0;
  espPackets = 0;
  readonly decryptedBySa = new Map<string, number>();
  readonly failures = new Map<FailureReason, number>();
  readonly unknownSpis = new Map<number, number>();
  /** Decrypted dummy packets (next header 59, RFC 4303 traffic flow confidentiality): nothing to show. */
  dummies = 0;

  get decrypted(): number {
    let n = 0;
    for (const v of this.decryptedBySa.values()) n += v;
    return n;
  }

  fail(reason: FailureReason): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }
}

/** An ESP packet found and its SAs looked up: what decryption needs. */
interface Located {
  readonly p: CapturedPacket;
  readonly ipOff: number;
  readonly protoFieldOff: number | null;
  readonly loc: Extract<ReturnType<typeof locateEsp>, { kind: 'esp' }>;
  readonly esp: Buffer;
  readonly candidates: readonly EspSA[];
}

/** IKE's NAT-T port (RFC 3948); flannel's UDPEncap uses it both ways. */
export const NAT_T_PORT = 4500;

const SLAB = 256 * 1024;

export class EspDecryptor {
  /** Replaced, not reset, by takeStats. */
  stats = new DecryptStats();
  private slab = Buffer.alloc(0);
  private slabAt = 0;
  private natTPorts: ReadonlySet<number> = new Set();

  constructor(private table: SaTable) {
    this.replaceTable(table);
  }

  /** Replaces the SAs (a live capture re-reads them after a rekey); the counts carry on. */
  replaceTable(table: SaTable): void {
    const ports = new Set<number>([NAT_T_PORT]);
    for (const sa of table.sas) {
      if (sa.state.encap) {
        ports.add(sa.state.encap.sport);
        ports.add(sa.state.encap.dport);
      }
    }
    this.table = table;
    this.natTPorts = ports;
  }

  /**
   * Packets of one GCM SA (16-byte ICV) are opened together (gcm-batch.ts), those of one CBC + HMAC SA
   * deciphered together after each one's ICV (decryptCbcBatch); every other packet, and a GCM group whose
   * batch check fails, goes one by one. Order and counts are those of `process`.
   */
  processBatch(batch: PacketBatch): PacketBatch {
    const out = new Array<CapturedPacket>(batch.length);
    const groups = new Map<EspSA, { at: number[]; jobs: Located[] }>();
    const cbcGroups = new Map<EspSA, { at: number[]; jobs: Located[] }>();
    for (let i = 0; i < batch.length; i++) {
      const r = this.locate(batch[i]!);
      if (!('esp' in r)) {
        out[i] = r;
        continue;
      }
      const sa = r.candidates[0]!;
      if (r.candidates.length === 1 && r.esp.length >= GCM_BATCH_MIN && batchable(sa)) {
        let g = groups.get(sa);
        if (!g) groups.set(sa, (g = { at: [], jobs: [] }));
        g.at.push(i);
        g.jobs.push(r);
      } else if (r.candidates.length === 1 && cbcBatchable(sa)) {
        let g = cbcGroups.get(sa);
        if (!g) cbcGroups.set(sa, (g = { at: [], jobs: [] }));
        g.at.push(i);
        g.jobs.push(r);
      } else out[i] = this.decrypt(r);
    }
    for (const [sa, g] of cbcGroups) {
      const results = decryptCbcBatch(
        sa,
        g.jobs.map((j) => j.esp),
      );
      results.forEach((r, k) => {
        const j = g.jobs[k]!;
        out[g.at[k]!] = r.ok
          ? this.rebuild(j, sa, r.payload, 0, r.payload.length, r.nextHeader)
          : this.failed(j.p, r.reason);
      });
    }
    for (const [sa, g] of groups) {
      const opened = openGcmBatchInPlace(
        sa,
        g.jobs.map((j) => j.esp),
      );
      for (let k = 0; k < g.jobs.length; k++) {
        const j = g.jobs[k]!;
        if (!opened) {
          out[g.at[k]!] = this.decrypt(j);
          continue;
        }
        // The ESP trailer read in place (RFC 4303 §2.4-2.6: padding, pad length, next header), as trailer() does.
        const { mem } = opened;
        const start = opened.ctOff[k]!;
        const end = start + j.esp.length - GCM_OVERHEAD;
        const payloadEnd = end - 2 - mem[end - 2]!;
        if (end - start < 2) out[g.at[k]!] = this.failed(j.p, 'malformed ESP');
        else if (payloadEnd < start) out[g.at[k]!] = this.failed(j.p, 'invalid padding');
        else out[g.at[k]!] = this.rebuild(j, sa, mem, start, payloadEnd, mem[end - 1]!);
      }
    }
    return out;
  }

  /** The counts so far, which start again from zero (a worker reports each chunk's own). */
  takeStats(): DecryptStats {
    const s = this.stats;
    this.stats = new DecryptStats();
    return s;
  }

  process(p: CapturedPacket): CapturedPacket {
    const r = this.locate(p);
    return 'esp' in r ? this.decrypt(r) : r;
  }

  /** Finds the ESP payload and its SA candidates; a packet that cannot be decrypted comes back as it was. */
  private locate(p: CapturedPacket): Located | CapturedPacket {
    this.stats.packets++;
    const ip = locateIp(p.linkType, p.data);
    if (!ip) return p;
    const d = p.data;
    const loc = locateEsp(d, ip.ipOff, this.natTPorts);
    if (loc.kind === 'not-esp') return p;
    this.stats.espPackets++;
    if (loc.kind === 'fragment') return this.failed(p, 'IP fragment (not reassembled)');
    if (loc.kind === 'truncated') return this.failed(p, 'truncated (cut by snaplen or end of file)');

    const esp = d.subarray(loc.espOff, loc.ipEnd);
    if (esp.length < 8) return this.failed(p, 'malformed ESP');
    const spi = esp.readUInt32BE(0);
    const candidates = this.table.candidates(spi, () =>
      d.subarray(loc.dstOff, loc.dstOff + (loc.version === 4 ? 4 : 16)),
    );
    if (candidates.length === 0) {
      this.stats.unknownSpis.set(spi, (this.stats.unknownSpis.get(spi) ?? 0) + 1);
      return this.failed(p, 'unknown SPI');
    }
    return { p, ipOff: ip.ipOff, protoFieldOff: ip.protoFieldOff, loc, esp, candidates };
  }

  private decrypt(j: Located): CapturedPacket {
    let reason: DecryptFailure | null = null;
    for (const sa of j.candidates) {
      const r = decryptEsp(sa, j.esp);
      if (!r.ok) {
        reason ??= r.reason;
        continue;
      }
      return this.rebuild(j, sa, r.payload, 0, r.payload.length, r.nextHeader);
    }
    return this.failed(j.p, reason ?? 'integrity check failed');
  }

  private failed(p: CapturedPacket, reason: FailureReason): CapturedPacket {
    this.stats.fail(reason);
    return p;
  }

  /** The decrypted frame: `src` from `start` to `end` is the payload ESP carried (the inner packet in tunnel mode). */
  private rebuild(j: Located, sa: EspSA, src: Buffer, start: number, end: number, nextHeader: number): CapturedPacket {
    const { p, ipOff, protoFieldOff, loc } = j;
    const payloadLength = end - start;
    const d = p.data;
    let frame: Buffer;
    if (nextHeader === 59) {
      this.stats.dummies++;
      this.count(sa);
      return p;
    }
    if (nextHeader === 4 || nextHeader === 41) {
      // Tunnel mode: the inner packet replaces the outer IP header, ESP and any link-layer padding.
      const innerVersion = nextHeader === 4 ? 4 : 6;
      if (
        (p.linkType === LinkType.ipv4 && innerVersion !== 4) ||
        (p.linkType === LinkType.ipv6 && innerVersion !== 6)
      ) {
        return this.failed(p, 'inner packet does not fit the link type');
      }
      frame = this.frame(ipOff + payloadLength);
      d.copy(frame, 0, 0, ipOff);
      src.copy(frame, ipOff, start, end);
      if (protoFieldOff !== null) frame.writeUInt16BE(etherTypeFor(innerVersion), protoFieldOff);
    } else {
      // Transport mode: keep the IP header(s), drop ESP (and the UDP encapsulation), name the payload's protocol.
      const hdrLen = loc.transportOff - ipOff;
      frame = this.frame(loc.transportOff + payloadLength);
      d.copy(frame, 0, 0, loc.transportOff);
      src.copy(frame, loc.transportOff, start, end);
      frame[loc.nextHeaderFieldOff] = nextHeader;
      if (loc.version === 4) {
        frame.writeUInt16BE(hdrLen + payloadLength, ipOff + 2);
        frame.writeUInt16BE(ipv4Checksum(frame.subarray(ipOff, loc.transportOff)), ipOff + 10);
      } else {
        frame.writeUInt16BE(hdrLen - 40 + payloadLength, ipOff + 4);
      }
    }
    this.count(sa);
    return { tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: frame.length, linkType: p.linkType, data: frame };
  }

  /**
   * Room for one decrypted frame, cut from a slab: one allocation per 256 KiB of output instead of
   * one per packet (garbage collection was a tenth of the process). Every byte of it is written.
   */
  private frame(len: number): Buffer {
    if (this.slabAt + len > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(len, SLAB));
      this.slabAt = 0;
    }
    const f = this.slab.subarray(this.slabAt, this.slabAt + len);
    this.slabAt += len;
    return f;
  }

  private count(sa: EspSA): void {
    this.stats.decryptedBySa.set(sa.label, (this.stats.decryptedBySa.get(sa.label) ?? 0) + 1);
  }
}
