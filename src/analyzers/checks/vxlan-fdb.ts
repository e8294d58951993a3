import { normalizeIP, sameIP } from '../../net/cidr.js';
import type { FdbEntry } from '../../snapshot/types.js';
import { defineCheck, PEER_PODCIDR_WRONG } from '../check.js';
import { FLANNEL_DEVICE_PATTERN } from '../expected/index.js';
import { formatFdb, formatNeighbour } from '../format.js';
import { annotationBackendType, ok } from '../model.js';

export default defineCheck({
  id: 'vxlan-fdb',
  severity: 'error',
  title: "Each peer's VtepMAC is forwarded to its public-ip in the VXLAN fdb",
  failureModes: [23, 19, 24],
  docs: {
    meaning:
      "flanneld adds one fdb entry per peer on flannel.<VNI>: the peer's VtepMAC -> dst <peer public-ip> self permanent. It tells the kernel which node to send the encapsulated UDP packet to. Entries whose MAC belongs to no node are left from departed or re-created peers.",
    impact:
      'Missing: frames for that peer have no destination and are dropped. Wrong dst: the outer packet goes to an old or NAT address and is lost.',
    fix: 'Restart the flannel pod on <node>, or by hand: bridge fdb replace <VtepMAC> dev flannel.<VNI> dst <peer public-ip> self permanent. When two leases publish the same VtepMAC (vtep-mac reports the duplicate), only the command fixes the entry: a restart replays both leases and the last one wins.',
  },
  scope: 'node',
  runNode(ctx, report) {
    const { model, node: n } = ctx;
    if (model.backend?.type !== 'vxlan') return;
    const fdb = ok(n.host?.fdb);
    if (!fdb) return;
    const macs = ctx.cluster.vtepMACs;
    const expected = ctx.expected.fdb;
    const expectedMacs = new Set(expected.map((w) => w.mac));
    // A peer's correct entry is fine even where it is not demanded (DirectRouting with on-link-ness unknown).
    let peerEntries: Set<string> | undefined;
    const peerEntriesOf = () =>
      (peerEntries ??= new Set(
        ctx.peers
          .flatMap((p) => [
            p.vxlan && p.publicIP ? `${p.vxlan.vtepMAC}|${normalizeIP(p.publicIP)}` : null,
            p.vxlanV6 && p.publicIPv6 ? `${p.vxlanV6.vtepMAC}|${normalizeIP(p.publicIPv6)}` : null,
          ])
          .filter((x): x is string => x !== null),
      ));
    for (const want of expected) {
      const found = ctx.tables!.fdbOf(want.dev, want.mac);
      if (sendsTo(found, want.dst)) continue;
      // The entry still sends to the peer's own InternalIP while its public-ip annotation names another address
      // (edited by hand, or a lease update flanneld ignored): the entry reaches the peer, re-pointing it at the
      // annotation could cut working traffic; public-ip-not-local reports the annotation on the peer.
      const peerIPs = (want.peer ? model.byName.get(want.peer)?.kube.internalIPs : undefined) ?? [];
      if (found.length && found.every((f) => peerIPs.some((ip) => sameIP(ip, f.dst)))) continue;
      // Another lease publishes the same VtepMAC: restarting flanneld here replays both leases and whichever comes
      // last wins the entry, so only the command is a fix (vtep-mac reports the duplicate on the node whose device
      // has another MAC).
      const sharers = ctx.cluster.duplicateVtepMACs.has(want.mac)
        ? model.nodes
            .filter((x) => x.name !== want.peer && (x.vxlan?.vtepMAC === want.mac || x.vxlanV6?.vtepMAC === want.mac))
            .map((x) => x.name)
        : [];
      const byHand = `bridge fdb replace ${want.mac} dev ${want.dev} dst ${want.dst} self permanent`;
      report({
        node: n.name,
        peer: want.peer,
        message:
          (found.length
            ? `fdb entry for ${want.peer}'s VtepMAC ${want.mac} sends to ${found.map((f) => f.dst ?? '(no dst)').join(', ')} instead of ${want.dst}`
            : `no fdb entry for ${want.peer}'s VtepMAC ${want.mac} on ${want.dev}`) +
          (sharers.length ? ` (${sharers.join(', ')} publishes the same VtepMAC: a duplicate)` : ''),
        evidence: [
          `expected: ${want.mac} dev ${want.dev} dst ${want.dst} self permanent`,
          ...(found.length
            ? found.map((f) => `actual: ${formatFdb(f)}`)
            : [`bridge fdb show dev ${want.dev} | grep ${want.mac}: (nothing)`]),
        ],
        fix: sharers.length
          ? `On ${n.name}: ${byHand} (restarting flanneld here does not fix it while ${sharers.join(', ')} publishes the same VtepMAC: whichever lease it replays last wins the entry)`
          : `Restart the flannel pod on ${n.name}, or by hand: ${byHand}`,
        ...PEER_PODCIDR_WRONG,
      });
    }
    // The pattern by device, not by entry: a node holds one entry per peer on one or two devices.
    const flannelDev = new Map<string, boolean>();
    for (const f of fdb) {
      // Only unicast entries with a remote dst are flanneld's; the device's own multicast list has none.
      if (f.dst === null) continue;
      let flannel = flannelDev.get(f.dev);
      if (flannel === undefined) flannelDev.set(f.dev, (flannel = FLANNEL_DEVICE_PATTERN.test(f.dev)));
      if (!flannel) continue;
      // Right MAC with a wrong dst was reported above.
      if (expectedMacs.has(f.mac) || expectedMacs.has(f.mac.toLowerCase())) continue;
      if (peerEntriesOf().has(`${f.mac.toLowerCase()}|${normalizeIP(f.dst)}`)) continue;
      // The kernel resolves a neighbour on the device to this MAC: the entry is on a live path, deleting it cuts traffic.
      const user = (ok(n.host?.neighbours) ?? []).find(
        (x) => x.dev === f.dev && x.lladdr?.toLowerCase() === f.mac.toLowerCase(),
      );
      // A current Node without a lease (its flannel annotations are gone: node-not-registered reports it there, and
      // its fix, a restart, re-annotates it so every peer programs it again): the peers keep its entry and it still
      // carries their traffic to it, so it is kept, not offered for deletion. The Node is known by an address of its
      // own, or by its podCIDR's network address in the neighbour that uses the entry (the IPv6 public address is in
      // no field of a Node whose annotations are gone).
      const unregistered = model.nodes.find(
        (x) =>
          x.name !== n.name &&
          (!x.managed || x.backendType === null) &&
          ([x.publicIP, x.publicIPv6, ...x.kube.internalIPs].some((ip) => sameIP(ip, f.dst)) ||
            (user !== undefined && [x.podCIDR, x.podCIDRv6].some((p) => p !== null && sameIP(p.network, user.dst)))),
      );
      if (unregistered) continue;
      // A current node's public-ip: its lease says the entry carries traffic even where flanneld ignores the lease.
      const holder = model.nodes.find((x) => x !== n && (sameIP(x.publicIP, f.dst) || sameIP(x.publicIPv6, f.dst)));
      // Toward a node whose published VtepMAC is a duplicate, an entry no lease names is most likely that node's real
      // MAC (its device's, which vtep-mac's fix publishes again, and flanneld here then uses it): deleting it would cut
      // the traffic that fix restores, so it is not reported (once the duplicate is fixed, a run reports it if no
      // lease names it then).
      const holderMACs = [holder?.vxlan?.vtepMAC, holder?.vxlanV6?.vtepMAC];
      if (holderMACs.some((m) => m !== undefined && ctx.cluster.duplicateVtepMACs.has(m))) continue;
      const want = model.backend ? annotationBackendType(model.backend) : null;
      if (holder && want !== null && holder.backendType !== want) {
        report({
          node: n.name,
          peer: holder.name,
          severity: 'info',
          message: `fdb entry ${f.mac} dst ${f.dst} on ${f.dev} belongs to ${holder.name}, whose backend-type annotation ${JSON.stringify(holder.backendType)} differs from net-conf.json's ${JSON.stringify(want)} (backend-type mismatch): flanneld here ignores ${holder.name}'s lease, but the entry still carries traffic to it`,
          evidence: [
            formatFdb(f),
            `${holder.name}: public-ip ${holder.publicIP ?? '?'}, backend-type ${JSON.stringify(holder.backendType)}`,
          ],
          fix: `Keep this entry; fix the backend-type mismatch on ${holder.name} (restart its flannel pod so it re-annotates with the configured backend).`,
        });
        continue;
      }
      const own = [n.vxlan?.vtepMAC, n.vxlanV6?.vtepMAC].includes(f.mac.toLowerCase());
      const why =
        f.mac === '00:00:00:00:00:00'
          ? 'is a flood entry flannel never adds'
          : own
            ? "is this node's own VtepMAC: left from a moment a peer's lease carried it, flanneld never removes it"
            : macs.has(f.mac.toLowerCase())
              ? 'belongs to a node that is not a peer of this one'
              : 'belongs to no current node';
      report({
        node: n.name,
        severity: 'warning',
        message: `fdb entry ${f.mac} dst ${f.dst} on ${f.dev} ${why}`,
        evidence: [formatFdb(f), ...(user ? [`in use by neighbour ${formatNeighbour(user)}`] : [])],
        fix: user
          ? `On ${n.name}: bridge fdb del ${f.mac} dev ${f.dev} dst ${f.dst} self (and the neighbour that uses it, ip neigh del ${user.dst} dev ${user.dev}, if no route leads to it)`
          : `On ${n.name}: bridge fdb del ${f.mac} dev ${f.dev} dst ${f.dst} self`,
      });
    }
  },
});

/** found.some((f) => sameIP(f.dst, dst)), without a closure per expected entry. */
function sendsTo(found: readonly FdbEntry[], dst: string): boolean {
  for (const f of found) if (sameIP(f.dst, dst)) return true;
  return false;
}
