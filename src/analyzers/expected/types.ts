/** What flanneld must have configured on one node, per flannel-internals.md §7. */
import type { Family } from '../../net/cidr.js';

export interface ExpectedDevice {
  readonly name: string;
  /** `ip -d link` kind; null when any kind is acceptable. */
  readonly kind: 'vxlan' | 'ipip' | 'tun' | 'wireguard';
  readonly family: Family;
  /** The podCIDR's network address as a host prefix, e.g. 10.244.1.0/32. */
  readonly address: string;
  readonly vxlan: {
    readonly vni: number;
    readonly port: number;
    readonly learning: boolean;
    readonly gbp: boolean;
    readonly mac: string | null;
  } | null;
}

/** A route flanneld installs. `gateway` null means a device route (wireguard, udp). */
export interface ExpectedRoute {
  readonly family: Family;
  /** The node this route leads to, or null for the whole-Network route. */
  readonly peer: string | null;
  readonly dst: string;
  readonly gateway: string | null;
  /** null: any device is right (DirectRouting routes let the kernel pick). */
  readonly dev: string | null;
  readonly onlink: boolean;
  /** Other forms that are equally right, e.g. DirectRouting when on-link-ness is unknown. */
  readonly alternatives: readonly ExpectedRoute[];
}

export interface ExpectedNeighbour {
  readonly peer: string;
  readonly dev: string;
  readonly dst: string;
  readonly lladdr: string;
}

export interface ExpectedFdb {
  readonly peer: string;
  readonly dev: string;
  readonly mac: string;
  readonly dst: string;
}

export interface ExpectedXfrmPolicy {
  readonly peer: string;
  readonly dir: 'in' | 'out' | 'fwd';
  readonly src: string;
  readonly dst: string;
  readonly tmplSrc: string;
  readonly tmplDst: string;
}

export interface ExpectedWireguardPeer {
  readonly peer: string;
  readonly device: string;
  readonly publicKey: string;
  readonly endpoint: string;
  readonly allowedIPs: readonly string[];
}

export interface ExpectedNode {
  readonly devices: readonly ExpectedDevice[];
  readonly routes: readonly ExpectedRoute[];
  readonly neighbours: readonly ExpectedNeighbour[];
  readonly fdb: readonly ExpectedFdb[];
  readonly xfrmPolicies: readonly ExpectedXfrmPolicy[];
  /** Peers toward which a pair of SAs (one per direction) must exist: [local public-ip, peer public-ip]. */
  readonly saPairs: readonly { readonly peer: string; readonly local: string; readonly remote: string }[];
  readonly wireguardPeers: readonly ExpectedWireguardPeer[];
}

export const EMPTY_EXPECTED: ExpectedNode = {
  devices: [],
  routes: [],
  neighbours: [],
  fdb: [],
  xfrmPolicies: [],
  saPairs: [],
  wireguardPeers: [],
};
