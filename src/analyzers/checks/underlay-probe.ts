import type { UnderlayProbe } from '../../snapshot/types.js';
import { defineCheck } from '../check.js';

export default defineCheck({
  id: 'underlay-probe',
  severity: 'error',
  title: "The underlay carries the backend's packets between every probed node pair (doctor --probe)",
  failureModes: [21],
  docs: {
    meaning:
      "With doctor --probe, every node pinged the cni0 gateway of each peer's podCIDR, so the kernel sent the backend's own packet (a VXLAN frame on the configured port, the udp backend's datagram, host-gw's routed packet; with DirectRouting, per pair what the sender's kernel does: routed to on-link peers, VXLAN to the others), while every node captured on its uplink. A pair is reported when none of the probe packets from the first node arrived on the second node's uplink: every route, neighbour and fdb entry can be right while the network between the two nodes drops the traffic (a cloud security group, a firewall or NSX between the hosts, a switch ACL). A pair is also reported, on the receiving node, when the packets arrive on its uplink but never reach its flannel device: something below the routing tables drops or corrupts them on arrival (an ingress filter, XDP, a checksum offload bug). Without --probe this check has nothing to judge and stays silent.",
    impact:
      'Pods on the first node cannot reach pods on the second (and replies from the second node never come back), while both nodes look healthy.',
    fix: 'Allow the overlay between the two nodes in the network that carries it: for vxlan UDP <port> (default 8472) between the node addresses, for the udp backend UDP 8285, for host-gw the pod network routed between the nodes (security group, host firewall between hypervisors, NSX distributed firewall, switch ACLs). Re-run kubectl flannel doctor --probe to confirm.',
  },
  scope: 'cluster',
  run({ underlayProbe: probe }, report) {
    if (probe?.status !== 'ok') return;
    const pairs = probe.data.pairs;
    for (const p of pairs) {
      // None seen at all is the loss between the two nodes (probeDrops, below).
      if (p.error !== null || p.sent === 0 || p.seen === 0) continue;
      const what = p.what ?? probe.data.what;
      // With replies as the proof (host-gw), a lost reply only means something when the way back works.
      const back = pairs.find((q) => q.from === p.to && q.to === p.from);
      const wayBack = p.deliveredOn !== 'an echo reply' || (back !== undefined && back.seen > 0);
      if (p.delivered === 0 && wayBack)
        report({
          node: p.to,
          peer: p.from,
          message:
            p.deliveredOn === 'an echo reply'
              ? `${what} from ${p.from} arrives on ${p.to}'s uplink but ${p.to} never answers, though the way back works: ${p.to} drops it on arrival, below its routing tables`
              : `${what} from ${p.from} arrives on ${p.to}'s uplink but never reaches ${p.deliveredOn}: ${p.to} drops it on arrival, below its routing tables`,
          evidence: [
            `sent ${p.sent} from ${p.from} (${p.fromIP}), seen ${p.seen} on ${p.to}'s uplink (${p.toIP}), ${p.delivered} on ${p.deliveredOn}`,
          ],
          fix: `On ${p.to}: look below the tables doctor reads for what drops the overlay from ${p.fromIP} on arrival: nft list ruleset (netdev ingress hooks), tc filter show dev <uplink> ingress, XDP programs (ip link show <uplink>), and checksum offload (ethtool -k <uplink>; try ethtool -K flannel.1 tx-checksum-ip-generic off).`,
        });
    }
    for (const d of probeDrops(probe.data))
      report({ node: d.from, peer: d.to, message: d.message, evidence: d.evidence });
  },
});

/** Packets one node sent another that the second never saw on its uplink: lost between the two. */
export interface UnderlayDrop {
  readonly from: string;
  readonly to: string;
  /** "the underlay drops … from A to B: …" */
  readonly message: string;
  readonly evidence: readonly string[];
  readonly fix?: string;
}

/** The probed pairs whose probes left the sender and none arrived (doctor --probe's counts). */
export function probeDrops(data: UnderlayProbe): UnderlayDrop[] {
  return data.pairs
    .filter((p) => p.error === null && p.sent > 0 && p.seen === 0)
    .map((p) => ({
      from: p.from,
      to: p.to,
      message: `the underlay drops ${p.what ?? data.what} from ${p.from} to ${p.to}: ${p.seen} of ${p.sent} probe packets arrived`,
      evidence: [
        `sent ${p.sent} from ${p.from} (${p.fromIP}), seen ${p.seen} on ${p.to}'s uplink (${p.toIP})`,
        ...(data.sampled ? ['(a sample of the node pairs was probed)'] : []),
      ],
    }));
}
