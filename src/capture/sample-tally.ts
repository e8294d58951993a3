/**
 * Counts the bundle's tcpdump samples by node pair: which node sent each overlay packet and which node it was
 * addressed to, told by the node addresses (encapsulated) or the podCIDRs (routed pod packets, and the inner
 * packets on the flannel device); on the receiving node's uplink, whether its checksums are right.
 *
 * The counts are what the `underlay-samples` check judges; the packets themselves go to the bundle's pcapng.
 */
import { contains, normalizeIP, type Prefix, parsePrefix } from '../net/cidr.js';
import type { SampleFlow } from '../snapshot/types.js';
import { verifyChecksums } from './checksum.js';
import { locateIp } from './frame.js';
import { formatAddress } from './ip-address.js';
import type { CapturedPacket } from './packet.js';

export interface SampleNode {
  readonly name: string;
  /** The addresses the overlay uses for the node (flannel's public-ip, else its InternalIPs). */
  readonly ips: readonly string[];
  readonly podCIDRs: readonly string[];
}

/** What the uplink's encapsulated packets carry inside, to check the inner packet's checksums too. */
export type Encapsulation = { readonly kind: 'vxlan' | 'udp'; readonly port: number } | { readonly kind: 'other' };

export type SampleRole = 'uplink' | 'device';

interface Flow {
  readonly from: string;
  readonly to: string;
  readonly kind: SampleFlow['kind'];
  readonly family: 4 | 6;
  readonly times: number[];
  badChecksums: number;
  badChecksumExample: string | null;
}

const VXLAN_HEADER = 8;
const ETHERNET_HEADER = 14;

export class SampleTally {
  private readonly byIP = new Map<string, string>();
  private readonly cidrs: { readonly node: string; readonly prefix: Prefix }[] = [];
  private readonly flows = new Map<string, Flow>();

  constructor(
    nodes: readonly SampleNode[],
    private readonly encapsulation: Encapsulation,
  ) {
    for (const n of nodes) {
      for (const ip of n.ips) {
        const k = normalizeIP(ip);
        if (k) this.byIP.set(k, n.name);
      }
      for (const c of n.podCIDRs) {
        const prefix = parsePrefix(c);
        if (prefix) this.cidrs.push({ node: n.name, prefix });
      }
    }
  }

  /** A packet captured on `node`'s interface `iface`, its uplink or a flannel device. */
  add(node: string, iface: string, role: SampleRole, p: CapturedPacket): void {
    const loc = locateIp(p.linkType, p.data);
    if (!loc) return;
    const d = p.data;
    const off = loc.ipOff;
    const v = d.length > off ? d[off]! >> 4 : 0;
    const len = v === 4 ? 4 : v === 6 ? 16 : 0;
    const at = v === 4 ? 12 : 8;
    if (!len || d.length < off + at + 2 * len) return;
    const src = formatAddress(d.subarray(off + at, off + at + len));
    const dst = formatAddress(d.subarray(off + at + len, off + at + 2 * len));
    const cls = this.classify(role, src, dst);
    if (!cls || cls.from === cls.to) return;
    const family = v === 4 ? 4 : 6;
    const key = `${node}\0${iface}\0${cls.from}\0${cls.to}\0${cls.kind}\0${family}`;
    let f = this.flows.get(key);
    if (!f) {
      f = { ...cls, family, times: [], badChecksums: 0, badChecksumExample: null };
      this.flows.set(key, f);
    }
    const ms = p.tsSec * 1000 + p.tsNsec / 1e6;
    f.times.push(ms);
    // Only on arrival: on the sender the device may still have to fill the checksums in.
    if (role === 'uplink' && cls.to === node) {
      const bad = this.badChecksum(d, off, cls.kind === 'encapsulated');
      if (bad) {
        f.badChecksums++;
        f.badChecksumExample ??= `${bad} (packet at ${new Date(ms).toISOString()})`;
      }
    }
  }

  /** The flows seen on one source, their times moved to the plugin's clock by `offsetMs`. */
  flowsOf(node: string, iface: string, offsetMs: number): SampleFlow[] {
    const out: SampleFlow[] = [];
    const prefix = `${node}\0${iface}\0`;
    for (const [k, f] of this.flows)
      if (k.startsWith(prefix))
        out.push({
          from: f.from,
          to: f.to,
          kind: f.kind,
          family: f.family,
          times: f.times.map((t) => Math.round(t + offsetMs)),
          badChecksums: f.badChecksums,
          badChecksumExample: f.badChecksumExample,
        });
    return out;
  }

  private nodeOfPod(ip: string): string | undefined {
    for (const c of this.cidrs) if (contains(c.prefix, ip)) return c.node;
    return undefined;
  }

  private classify(
    role: SampleRole,
    src: string,
    dst: string,
  ): Omit<Flow, 'family' | 'times' | 'badChecksums' | 'badChecksumExample'> | null {
    if (role === 'uplink') {
      const a = this.byIP.get(src);
      const b = this.byIP.get(dst);
      if (a && b) return { from: a, to: b, kind: 'encapsulated' };
      const to = this.nodeOfPod(dst);
      const from = a ?? this.nodeOfPod(src);
      return from && to ? { from, to, kind: 'routed' } : null;
    }
    const from = this.nodeOfPod(src) ?? this.byIP.get(src);
    const to = this.nodeOfPod(dst);
    return from && to ? { from, to, kind: 'inner' } : null;
  }

  private badChecksum(d: Buffer, off: number, encapsulated: boolean): string | null {
    const describe = (v: ReturnType<typeof verifyChecksums>) =>
      v.ok ? null : `${v.header} checksum 0x${hex(v.found)}, should be 0x${hex(v.expected)}`;
    const outer = verifyChecksums(d, off, encapsulated ? 'outer' : 'the');
    if (!outer.ok || !encapsulated) return describe(outer);
    const inner = this.innerOffset(d, off);
    return inner === null ? null : describe(verifyChecksums(d, inner, 'inner'));
  }

  /** Where the inner IP header of a VXLAN or udp-backend packet starts, or null. */
  private innerOffset(d: Buffer, off: number): number | null {
    const e = this.encapsulation;
    if (e.kind === 'other' || d[off]! >> 4 !== 4 || d[off + 9] !== 17) return null;
    const udp = off + (d[off]! & 15) * 4;
    if (d.length < udp + 8 || d.readUInt16BE(udp + 2) !== e.port) return null;
    const inner = e.kind === 'vxlan' ? udp + 8 + VXLAN_HEADER + ETHERNET_HEADER : udp + 8;
    if (e.kind === 'vxlan' && (d.length < inner || d.readUInt16BE(inner - 2) !== 0x0800)) return null;
    return d.length > inner ? inner : null;
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(4, '0');
}
