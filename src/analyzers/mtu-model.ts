/**
 * The MTU facts both the mtu checks and trace judge packet sizes by: what each backend adds around a pod packet on
 * the underlay, which encapsulations the kernel fragments when the outer packet exceeds the sender's uplink, and
 * flannel's own 20-byte clamp of flannel-v6.1.
 */

import type { Backend } from '../snapshot/types.js';
import { vxlanDeviceName } from './expected/index.js';
import { encapOverhead } from './uplink.js';

/**
 * Bytes on the underlay for an inner packet of `inner` bytes: flannel's per-backend overhead (an IPv4 outer header),
 * plus the 20 bytes an IPv6 outer header adds for VXLAN (flannel subtracts 50 where IPv6 VXLAN needs 70).
 */
export function outerSize(backend: Backend | null, inner: number, outerV6: boolean): number {
  if (!backend) return inner;
  return inner + encapOverhead(backend) + (backend.type === 'vxlan' && outerV6 ? 20 : 0);
}

/**
 * Whether the kernel fragments an outer packet larger than the sender's uplink rather than dropping it: VXLAN,
 * WireGuard and flanneld's udp send their UDP without DF (proven for VXLAN in test/analyzers/trace-mtu-kernel.test.ts:
 * a 1500-byte outer packet leaves a 1400-byte uplink in fragments and arrives). The receiver's uplink still drops
 * any frame larger than its own MTU. For ipip and ipsec the outer DF follows the inner packet: not fragmented.
 */
export function fragmentsOuter(backend: Backend | null): boolean {
  return backend?.type === 'vxlan' || backend?.type === 'wireguard' || backend?.type === 'udp';
}

/**
 * Every healthy dual-stack or IPv6 VXLAN cluster: flannel subtracts 50 where IPv6 VXLAN needs 70, so the kernel
 * clamps flannel-v6.1 up to 20 bytes below FLANNEL_MTU. That is flannel's design (ICMPv6 Packet Too Big covers it),
 * not a fault; a device lower still is.
 */
export function isFlannelV6Clamp(backend: Backend | null, dev: string, mtu: number, flannelMTU: number): boolean {
  return (
    backend?.type === 'vxlan' &&
    dev === vxlanDeviceName(backend.vni, 'inet6') &&
    mtu < flannelMTU &&
    mtu >= flannelMTU - 20
  );
}
