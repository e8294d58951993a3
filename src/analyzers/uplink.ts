/** The node's external interface: the one flanneld chose, found from what it published. */

import { sameIP } from '../net/cidr.js';
import type { Backend, Link } from '../snapshot/types.js';
import { vxlanDeviceName } from './expected/index.js';
import { type FlannelNode, linkByName, ok } from './model.js';

export function uplinkOf(node: FlannelNode, backend: Backend | null): Link | null {
  const links = ok(node.host?.links);
  if (!node.host || !links) return null;
  // The VXLAN device names its lower device: the most direct evidence of flanneld's choice.
  if (backend?.type === 'vxlan') {
    const dev = linkByName(node.host, vxlanDeviceName(backend.vni, 'inet'))?.vxlan?.dev;
    const lower = dev ? linkByName(node.host, dev) : undefined;
    if (lower) return lower;
  }
  for (const ip of [node.publicIP, ...node.kube.internalIPs]) {
    const l = ip ? links.find((x) => x.addresses.some((a) => sameIP(a.local, ip))) : undefined;
    if (l) return l;
  }
  return null;
}

/** The FLANNEL_MTU flanneld writes at start on an uplink of `uplinkMTU`: Backend.MTU when set (vxlan, WireGuard), else the uplink minus the overhead (§5.1). */
export function computedFlannelMTU(backend: Backend, uplinkMTU: number): number {
  return 'mtu' in backend && backend.mtu !== null ? backend.mtu : uplinkMTU - encapOverhead(backend);
}

/** Bytes each backend adds around a pod packet (flannel's own constants, §5.1). */
export function encapOverhead(backend: Backend): number {
  switch (backend.type) {
    case 'vxlan':
      return 50;
    case 'wireguard':
      return 80;
    case 'ipip':
      return 20;
    case 'udp':
      return 28;
    case 'ipsec':
      return backend.udpEncap ? 85 : 77;
    default:
      return 0;
  }
}
