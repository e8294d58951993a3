/**
 * Which interfaces a live capture listens on by default, per flannel backend: the uplink with only
 * the overlay's traffic (the encapsulated form), the flannel device (pod traffic before
 * encapsulation), and cni0 (pod traffic on the bridge).
 */
import type { Backend } from '../snapshot/types.js';

export interface InterfaceChoice {
  /** A device name, or 'uplink' for the interface that holds the node's public-ip. */
  readonly iface: string;
  readonly filter: string;
  /** Bytes kept of each packet on this interface, when it differs from the capture's snaplen. */
  readonly snaplen?: number;
}

export const UPLINK = 'uplink';

/** The uplink filter that keeps only the overlay's traffic. */
export function overlayFilter(backend: Backend | null, network: string | null): string {
  const routed = network ? `net ${network}` : 'ip';
  switch (backend?.type) {
    case 'vxlan':
      return backend.directRouting ? `udp port ${backend.port} or ${routed}` : `udp port ${backend.port}`;
    case 'udp':
      return `udp port ${backend.port}`;
    case 'host-gw':
      return routed;
    case 'ipip':
      return backend.directRouting ? `ip proto 4 or ${routed}` : 'ip proto 4';
    case 'wireguard':
      return `udp port ${backend.listenPort}`;
    case 'ipsec':
      return 'esp or udp port 4500 or udp port 500';
    default:
      return '';
  }
}

/** The device flanneld creates for the backend, or null (host-gw and ipsec route over the uplink). */
export function flannelDevice(backend: Backend | null): string | null {
  switch (backend?.type) {
    case 'vxlan':
      return `flannel.${backend.vni}`;
    case 'udp':
      return 'flannel0';
    case 'ipip':
      return 'flannel.ipip';
    case 'wireguard':
      return 'flannel-wg';
    default:
      return null;
  }
}

export function defaultInterfaces(backend: Backend | null, network: string | null): InterfaceChoice[] {
  const dev = flannelDevice(backend);
  return [
    { iface: UPLINK, filter: overlayFilter(backend, network) },
    ...(dev ? [{ iface: dev, filter: '' }] : []),
    { iface: 'cni0', filter: '' },
  ];
}

/**
 * The interface of `ip -o -4 addr show` (or -6) that holds `address`; null when none does.
 * Lines look like `2: eth0    inet 10.250.0.11/24 brd 10.250.0.255 scope global eth0\ …`.
 */
export function interfaceHolding(ipAddrOutput: string, address: string): string | null {
  for (const line of ipAddrOutput.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet6?\s+([^/\s]+)\//.exec(line);
    if (m && m[2] === address) return m[1]!.replace(/@.*$/, '');
  }
  return null;
}
