/**
 * Which peers a DirectRouting node reaches without its tunnel: flanneld routes an on-link peer's podCIDR via the
 * peer's public IP out of the uplink, so those pod packets carry no encapsulation and its overhead must not be
 * charged to the pair. The kernel's own route says which way the packet leaves (the walk's arrival() reads it so).
 */
import type { Backend } from '../snapshot/types.js';
import { vxlanDeviceName } from './expected/index.js';
import type { HostTables } from './host-index.js';
import type { Lease } from './model.js';
import type { NfFamily } from './netfilter/types.js';

const IPIP_DEVICES: ReadonlySet<string> = new Set(['flannel.ipip', 'tunl0']);

/** The peers (by name) whose `family` pod route leaves by a device other than the tunnel, via a gateway. */
export function directPeers(
  backend: Backend | null,
  tables: HostTables | null,
  peers: readonly Lease[],
  family: NfFamily,
): readonly string[] {
  if (!backend || !tables || !('directRouting' in backend) || !backend.directRouting) return [];
  const tunnel = (dev: string) =>
    backend.type === 'vxlan' ? dev === vxlanDeviceName(backend.vni, family) : IPIP_DEVICES.has(dev);
  return peers
    .filter((p) => {
      const cidr = family === 'inet' ? p.podCIDR : p.podCIDRv6;
      return cidr !== null && tables.routesTo(cidr.text).some((r) => r.gateway !== null && !tunnel(r.dev ?? ''));
    })
    .map((p) => p.name);
}
