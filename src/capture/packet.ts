/**
 * What flows between the capture stages (reader -> decryptor -> writer). Live capture will produce
 * the same batches, so every stage works on `PacketBatch`, never on files.
 */

/** LINKTYPE_* values from the tcpdump.org registry that the stages understand. */
export const LinkType = {
  ethernet: 1,
  raw: 101,
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
} as const;

export interface CapturedPacket {
  /** Capture time, seconds since the epoch. */
  readonly tsSec: number;
  /** Nanoseconds within that second (microsecond files carry multiples of 1000). */
  readonly tsNsec: number;
  /** Length of the packet on the wire; `data.length` is what was captured. */
  readonly origLen: number;
  readonly linkType: number;
  readonly data: Buffer;
}

/** Packets travel in batches: one promise per batch instead of per packet keeps the pipeline fast. */
export type PacketBatch = readonly CapturedPacket[];

export interface CaptureFormat {
  readonly container: 'pcap' | 'pcapng';
  /** True when timestamps have nanosecond resolution (pcap magic a1b23c4d, or pcapng if_tsresol finer than 1 µs). */
  readonly nanosecond: boolean;
  readonly snaplen: number;
  readonly bigEndian: boolean;
}

export function linkTypeName(lt: number): string {
  switch (lt) {
    case LinkType.ethernet:
      return 'Ethernet';
    case LinkType.raw:
      return 'raw IP';
    case LinkType.linuxSll:
      return 'Linux cooked (SLL)';
    case LinkType.linuxSll2:
      return 'Linux cooked v2 (SLL2)';
    case LinkType.ipv4:
      return 'raw IPv4';
    case LinkType.ipv6:
      return 'raw IPv6';
    default:
      return `link type ${lt}`;
  }
}
