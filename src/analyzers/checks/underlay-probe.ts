import { firstHost } from '../../net/cidr.js';
import type { UnderlayProbe } from '../../snapshot/types.js';
import { defineCheck } from '../check.js';
import type { ClusterScope } from '../context.js';
import { ingressVerdict } from '../netfilter/ingress.js';
import { allowFix, type UnderlayDrop } from '../underlay-drop.js';

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
    fix: 'Allow the overlay between the two nodes in the network that carries it: for vxlan UDP <port> (default 8472) between the node addresses, for the udp backend UDP 8285, for host-gw the pod network routed between the nodes (security group, host firewall between hypervisors, NSX distributed firewall, switch ACLs). The finding names the port or podCIDRs and the two addresses. A drop on arrival at the receiver is on that node: when its nftables ingress hook on the uplink drops the probe, the finding prints the nft delete for that rule; otherwise look at tc ingress filters, XDP and checksum offload there. Re-run kubectl flannel doctor --probe to confirm.',
  },
  scope: 'cluster',
  run(scope, report) {
    const { model, underlayProbe: probe } = scope;
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
          fix:
            arrivalFix(scope, p, what) ??
            `On ${p.to}: look below the tables doctor reads for what drops the overlay from ${p.fromIP} on arrival: nft list ruleset (netdev ingress hooks), tc filter show dev <uplink> ingress, XDP programs (ip link show <uplink>), and checksum offload (ethtool -k <uplink>; try ethtool -K flannel.1 tx-checksum-ip-generic off).`,
        });
    }
    for (const d of probeDrops(probe.data, (n) => model.byName.get(n)?.podCIDR?.text))
      report({ node: d.from, peer: d.to, message: d.message, evidence: d.evidence, fix: d.fix });
  },
});

/**
 * The receiver's nftables ingress rule on its uplink that drops the probe, when the collected ruleset has one: the
 * probe saw the packet arrive (taps run before the ingress hook) and never reach the stack. The probe's own packet
 * is evaluated: the outer UDP datagram between the node addresses, or the routed echo between the cni0 gateways.
 */
function arrivalFix(
  { model, summaryOf }: ClusterScope,
  p: { readonly from: string; readonly to: string; readonly fromIP: string; readonly toIP: string },
  what: string,
): string | null {
  const to = summaryOf.get(p.to);
  if (!to?.uplink || to.uplinkIngress.length === 0) return null;
  const port = /^UDP (\d+)/.exec(what);
  const fromCIDR = model.byName.get(p.from)?.podCIDR;
  const toCIDR = model.byName.get(p.to)?.podCIDR;
  const [src, dst] = port ? [p.fromIP, p.toIP] : [fromCIDR && firstHost(fromCIDR), toCIDR && firstHost(toCIDR)];
  if (!src || !dst) return null;
  const v = ingressVerdict(to.uplinkIngress, to.uplink.name, {
    family: 'inet',
    src,
    dst,
    proto: port ? 'udp' : 'icmp',
    sport: null,
    dport: port ? Number(port[1]) : null,
    iif: to.uplink.name,
    oif: null,
    mark: 0,
  });
  if (typeof v !== 'object') return null;
  const where = `${v.family} ${v.table} ${v.chain}`;
  const probe = port ? `the overlay's UDP ${port[1]} from ${src}` : `the pod packets routed from ${src} to ${dst}`;
  return v.handle === null
    ? `On ${p.to}: nft 'chain ${where} { policy accept; }' (its policy on ${to.uplink.name} ingress drops ${probe})`
    : `On ${p.to}: nft delete rule ${where} handle ${v.handle} (on ${to.uplink.name} ingress it drops ${probe}: ${v.text.replace(/[()]/g, '')})`;
}

/**
 * The probed pairs whose probes left the sender and none arrived (doctor --probe's counts), each with what the
 * network between them must allow (`podCIDROf` names a node's podCIDR, for routed pod packets).
 */
export function probeDrops(data: UnderlayProbe, podCIDROf: (node: string) => string | undefined): UnderlayDrop[] {
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
      fix: allowFix(p.what ?? data.what, p, podCIDROf(p.from), podCIDROf(p.to)),
    }));
}
