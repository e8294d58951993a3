import type { HostState } from '../../snapshot/types.js';
import { defineCheck, type Report } from '../check.js';
import type { Lease } from '../model.js';
import { uplinkIngressOf } from '../netfilter/ingress.js';
import type { NfFamily } from '../netfilter/types.js';
import { PeerClasses } from '../path/classes.js';
import { NodeFilter } from '../path/node-filter.js';
import type { PodPart } from '../path/pod-parts.js';
import { ipsecSeams } from '../path/seam.js';
import { MTU_CHECKS, mtuSeams } from '../path/sizes.js';
import { underlaySeams } from '../path/underlay.js';
import { type Break, egress, ingress, type NodeView, type PacketClass, podSidesOf, WALKED } from '../path/walk.js';
import { podEndsOf } from '../pod-ends.js';
import { uplinkOf } from '../uplink.js';

/**
 * Findings that say the node's pods do not live where its lease says (or flannel is not running its config):
 * every path to and from the node follows from them, so the walk has nothing of its own to add there.
 */
export const PREMISE_CHECKS: readonly string[] = [
  'cni0-address',
  'subnet-env',
  'podcidr-outside-network',
  'podcidr-overlap',
  'podcidr-unset',
  'netconf-invalid',
  'backend-type-mismatch',
  // No lease: flanneld on the node never programmed it (udp's flannel0 and its routes go with the process).
  'node-not-registered',
];

/** The peer's own podCIDR is wrong: every path toward it follows from that (masquerading toward a range outside the
 * Network, a route to a range two nodes share). */
const LEASE_PREMISES = ['podcidr-outside-network', 'podcidr-overlap', 'podcidr-unset'];

type Result = ReturnType<typeof egress>;
// Sets keep insertion order: the finding lists peers in the order they were met, and membership stays O(1)
// (a cause every peer shares meets each of 1,000 peers).
type Group = { b: Break; dir: 'egress' | 'ingress'; classes: Set<PacketClass>; peers: Set<string>; names: Set<string> };
type Add = (b: Result, dir: 'egress' | 'ingress', cls: PacketClass, peer: string, label?: string) => void;

/**
 * A peer whose podCIDR the node splits (path/pod-parts.ts): each half is walked once per part. A break every
 * part meets alike is the peer's; one that only some parts meet is reported for those parts by name.
 */
function walkParts(
  view: NodeView,
  peer: Lease,
  family: NfFamily,
  parts: readonly PodPart[],
  add: Add,
  causeOf: (b: Break, dir: 'egress' | 'ingress') => string,
): void {
  for (const cls of ['pod', 'node'] as const)
    for (const dir of ['egress', 'ingress'] as const) {
      // The node's own packet arriving from the peer comes from the peer's node address, not a pod's.
      if (cls === 'node' && dir === 'ingress') {
        add(ingress(view, peer, cls, family), dir, cls, peer.name);
        continue;
      }
      const rs = parts.map((p) =>
        dir === 'egress' ? egress(view, peer, cls, family, p) : ingress(view, peer, cls, family, p),
      );
      const key = (r: Result) => (r === null || r === 'passes' || r.kind === 'unknown' ? '' : causeOf(r, dir));
      const alike = rs.every((r) => key(r) === key(rs[0]!));
      rs.forEach((r, j) => add(r, dir, cls, peer.name, alike ? undefined : parts[j]!.label));
    }
}

/** Peers named in one message; the rest are counted. */
const NAMED_PEERS = 5;

export default defineCheck({
  id: 'pod-path',
  severity: 'error',
  title: 'Pod traffic between every pair of nodes passes every hop the kernel consults',
  failureModes: [],
  docs: {
    meaning:
      "For every ordered pair of nodes, the packet of a pod (and of the node itself) toward the peer's pods is followed through everything the kernel consults: cni0, netfilter in every table and hook it crosses (iptables-legacy, iptables-nft and native nftables, each rule matched on the packet's fields), the routing decision, ip_forward, the backend's encapsulation (vxlan neighbour and fdb, flannel0, ipip's onlink route, the WireGuard peer whose allowed-ips hold the destination with its key and endpoint, the xfrm policy out and the SA its template resolves to, or the routed packet), the outer packet's OUTPUT and POSTROUTING, and on the receiving node the uplink's nftables ingress hook and INPUT for the outer packet (which must be addressed to an address the node holds), the flannel device and its rp_filter (WireGuard: a peer with the sender's key whose allowed-ips hold the source; IPsec: an SA to decrypt with, holding the sender's key, and the fwd policy admitting it), FORWARD and POSTROUTING for the inner packet. A finding names the node and hop where the packet stops, or the NAT rule that rewrites pod-to-pod traffic (or gives a node's own packet another destination: flanneld masquerading its source is by design). A break another check already explains on the same node is not repeated; a rule the model cannot evaluate offline is never reported as a break.",
    impact:
      'Pods on the nodes named cannot reach each other (or the node cannot reach the pods), although every flannel entry may be in place: a rule, a device or a setting outside flannel decides the packet.',
    fix: 'The fix named in the finding: remove or narrow the rule that drops or rewrites the packet, bring the device up, or make rp_filter loose on the flannel device.',
  },
  scope: 'node',
  runNode(ctx, report) {
    const { model, node, host } = ctx;
    const backend = model.backend;
    if (!host || !backend || !ctx.tables) return;
    // Every part the walk reads must be there: a part not collected is collection-incomplete's finding, not a break.
    const parts: { status: string }[] = [host.links, host.routes, host.rules, host.neighbours, host.fdb, host.sysctls];
    parts.push(host.firewall, ...(backend.type === 'wireguard' ? [host.wireguard] : []));
    if (backend.type === 'ipsec') parts.push(host.xfrmStates, host.xfrmPolicies);
    if (parts.some((x) => x.status !== 'ok')) return;
    const decisions = host.routeDecisions?.status === 'ok' ? host.routeDecisions.data : null;
    const view: NodeView = {
      node,
      host,
      backend,
      filter: new NodeFilter(host),
      fib: ctx.fib,
      tables: ctx.tables,
      decisions: decisions ? new Map(decisions.map((d) => [`${d.dst} ${d.as}`, d])) : null,
      pods: podSidesOf(node, host),
      uplinkIngress: uplinkIngressOf(host, uplinkOf(node, backend)?.name ?? null),
      podEnds: podEndsOf(host),
    };
    // Collection gaps in the rules make every verdict uncertain: say nothing rather than guess.
    if (view.filter.ruleset && view.filter.ruleset.gaps.length > 0) return;
    const groups = new Map<string, Group>();
    // The explaining checks are part of the cause: the runner drops a group whose checks reported this node.
    const causeOf = (b: Break, dir: 'egress' | 'ingress') =>
      `${dir}|${b.kind}|${b.hop}|${b.cause ?? b.what}|${b.explainedBy.join(',')}`;
    /** `label`: the part of the peer's podCIDR that breaks, when the rest does not. */
    const add = (b: Result, dir: 'egress' | 'ingress', cls: PacketClass, peer: string, label?: string) => {
      if (b === null || b === 'passes' || b.kind === 'unknown') return;
      const key = causeOf(b, dir);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { b, dir, classes: new Set(), peers: new Set(), names: new Set() }));
      g.classes.add(cls);
      const who = label ? `${label} of ${peer}'s pods` : peer;
      g.peers.add(who);
      g.names.add(peer);
    };
    // One walk per class of peers this node's state does not tell apart (classes.ts). A class's result serves
    // every member when it names no peer: it passes, or its cause (rule, device, error) is the peer's no more
    // than the group's key is. A break that describes the pair itself (no `cause`) is walked per peer.
    const families: NfFamily[] = ['inet', 'inet6'];
    const halves = [
      ['pod', 'egress'],
      ['pod', 'ingress'],
      ['node', 'egress'],
      ['node', 'ingress'],
    ] as const;
    const shared = (r: Result) => r === null || r === 'passes' || r.cause !== undefined;
    const classes = families.map((f) => new PeerClasses(view, f, ctx.cluster.peerClassCIDRs[f], ctx.peers));
    // By family and class: the first member's result for each half (pod/node × egress/ingress).
    const walked = families.map(() => new Map<number, (Result | undefined)[]>());
    for (const peer of ctx.peers) {
      for (let i = 0; i < families.length; i++) {
        const family = families[i]!;
        const k = classes[i]!.key(peer);
        const parts = classes[i]!.parts(peer);
        if (parts) {
          walkParts(view, peer, family, parts, add, causeOf);
          continue;
        }
        let results = walked[i]!.get(k);
        if (!results) walked[i]!.set(k, (results = []));
        for (let h = 0; h < halves.length; h++) {
          const [cls, dir] = halves[h]!;
          let r = results[h];
          if (r === undefined || !shared(r)) {
            r = dir === 'egress' ? egress(view, peer, cls, family) : ingress(view, peer, cls, family);
            results[h] ??= r;
          }
          add(r, dir, cls, peer.name);
        }
      }
    }
    // A cause another check names on this node (or a premise finding) is left to that check: Report.unless.
    for (const g of groups.values())
      report({
        ...toReport(node.name, g),
        unless: [...PREMISE_CHECKS, ...g.b.explainedBy],
        unlessPeer: LEASE_PREMISES,
      });
    for (const r of cutOffPorts(node.name, host)) report({ ...r, unless: PREMISE_CHECKS });
  },
  // IPsec's keys: the one hop whose verdict needs both nodes' SAs (path/seam.ts).
  // The largest packet's sizes at the destination, and the underlay between the two nodes when packets were recorded.
  seam(scope, report) {
    for (const r of ipsecSeams(scope)) report({ ...r, unless: [...PREMISE_CHECKS, 'ipsec-sa'] });
    if (!scope.model.backend || !WALKED.has(scope.model.backend.type)) return;
    for (const r of mtuSeams(scope)) report({ ...r, unless: [...PREMISE_CHECKS, ...MTU_CHECKS] });
    for (const r of underlaySeams(scope)) report({ ...r, unless: [...PREMISE_CHECKS, ...(r.unless ?? [])] });
  },
});

/**
 * The last hop of every path to a pod: its port on cni0. A port out of the forwarding state (`bridge link set
 * … state 0`, STP blocking) passes no frame, from any peer or from the node itself.
 */
function cutOffPorts(node: string, host: HostState): Report[] {
  const ports = host.bridgePorts?.status === 'ok' ? host.bridgePorts.data : [];
  const out: Report[] = [];
  for (const port of ports) {
    if (port.master !== 'cni0' || port.state === 'forwarding' || port.state === '') continue;
    const macs = new Set(
      (host.fdb.status === 'ok' ? host.fdb.data : [])
        .filter((f) => f.dev === port.dev && f.master === 'cni0' && !f.flags.includes('self'))
        .map((f) => f.mac.toLowerCase()),
    );
    const pods = (host.neighbours.status === 'ok' ? host.neighbours.data : [])
      .filter((n) => n.dev === 'cni0' && n.lladdr && macs.has(n.lladdr.toLowerCase()))
      .map((n) => n.dst);
    out.push({
      node,
      message: `the pod${pods.length ? ` ${pods.join(', ')}` : ''} behind cni0 port ${port.dev} is cut off: the port is ${port.state}, so no frame reaches it from any node`,
      evidence: [`bridge link show dev ${port.dev}: master cni0 state ${port.state}`],
      fix: `On ${node}: bridge link set dev ${port.dev} state 3 (forwarding)`,
    });
  }
  return out;
}

function toReport(node: string, g: Group): Report {
  const who = g.classes.has('pod')
    ? g.classes.has('node')
      ? 'pod and node traffic'
      : 'pod traffic'
    : 'node-to-pod traffic';
  const all = [...g.peers];
  const named = all.slice(0, NAMED_PEERS).join(', ');
  const more = all.length > NAMED_PEERS ? ` and ${all.length - NAMED_PEERS} more` : '';
  const peers = all.length === 1 ? all[0]! : `${all.length} peers (${named}${more})`;
  const what = g.b.kind === 'rewritten' ? g.b.what : `${g.b.what}`;
  return {
    node,
    peer: g.names.size === 1 ? [...g.names][0]! : null,
    severity: g.b.kind === 'rewritten' ? 'warning' : 'error',
    message:
      g.b.kind === 'rewritten'
        ? `${who} ${g.dir === 'egress' ? `to ${peers}` : `from ${peers}`} is rewritten in ${g.b.hop} (${what.replace(/^pod-to-pod traffic is rewritten: /, '')})`
        : `${who} ${g.dir === 'egress' ? `to ${peers}` : `from ${peers}`} stops at ${g.b.hop}: ${what}`,
    evidence: g.b.evidence,
    ...(g.b.fix ? { fix: g.b.fix } : {}),
  };
}
