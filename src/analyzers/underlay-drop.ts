/**
 * A loss between two nodes that no table on either node explains: the wire, a switch, a security group. Both sources
 * of packet evidence name it the same way (doctor --probe's counts, a bundle's tcpdump samples), so the walk's
 * underlay hop and the two checks report it alike, and the lab and the simulator run the same printed allow.
 */

/** Packets one node sent another that the second never saw on its uplink. */
export interface UnderlayDrop {
  readonly from: string;
  readonly to: string;
  /** "the underlay drops … from A to B: …" */
  readonly message: string;
  readonly evidence: readonly string[];
  readonly fix: string;
}

/** The pair's two nodes and the addresses its packets travel between (null: the lease names none). */
export interface UnderlayEnds {
  readonly from: string;
  readonly to: string;
  readonly fromIP: string | null;
  readonly toIP: string | null;
}

/**
 * What the network between two nodes must let through, named the way a firewall rule names it: the backend's UDP
 * port between the node addresses, or for routed pod packets (host-gw, DirectRouting's on-link peers) the two
 * podCIDRs they travel between. No command on a node changes the network between them, so the fix says what to
 * allow, not how.
 */
export function allowFix(
  what: string,
  ends: UnderlayEnds,
  fromCIDR: string | null | undefined,
  toCIDR: string | null | undefined,
): string {
  const end = (node: string, ip: string | null) => (ip ? `${node} (${ip})` : node);
  const between = `from ${end(ends.from, ends.fromIP)} to ${end(ends.to, ends.toIP)}`;
  const where =
    'in the network between them (a security group, a host firewall between hypervisors, an NSX distributed firewall, a switch ACL), then re-run kubectl flannel doctor --probe';
  const port = /^UDP (\d+) \(([^)]*)\)$/.exec(what);
  if (port) return `Allow UDP port ${port[1]} (${port[2]}) ${between} ${where}.`;
  const routed = /^routed pod packets \(([^)]*)\)$/.exec(what);
  if (routed && fromCIDR && toCIDR)
    return `Allow IP from ${fromCIDR} to ${toCIDR} (pod packets routed by ${routed[1]}) on the way ${between} ${where}.`;
  return `Allow ${what} ${between} ${where}.`;
}
