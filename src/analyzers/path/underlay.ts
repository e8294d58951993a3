/**
 * The underlay hop between two nodes: the wire, a switch, a cloud security group, in no table of either node. Offline
 * it is not observable, so the walk passes it; when the snapshot holds packets for the pair (doctor --probe's probe
 * counts, a bundle's tcpdump samples) its verdict is theirs: packets sent and none seen on the receiver's uplink
 * break every pod and node packet of the pair there. Judged once every node is in, since the packets are the
 * cluster's record, not a node's.
 */
import type { Report } from '../check.js';
import { probeDrops } from '../checks/underlay-probe.js';
import { sampleDrops } from '../checks/underlay-samples.js';
import type { ClusterScope } from '../context.js';
import type { UnderlayDrop } from '../underlay-drop.js';

/** Pairs named in one message; the rest are counted (as pod-path's own findings do). */
const NAMED_PEERS = 5;
/** Evidence lines kept per finding: each pair's packet counts, up to this many pairs. */
const EVIDENCE_PAIRS = 5;

export function underlaySeams(scope: ClusterScope): Report[] {
  const nodes = new Set(scope.model.nodes.map((n) => n.name));
  const sources: { check: string; drops: UnderlayDrop[] }[] = [];
  if (scope.underlayProbe?.status === 'ok')
    sources.push({
      check: 'underlay-probe',
      drops: probeDrops(scope.underlayProbe.data, (n) => scope.model.byName.get(n)?.podCIDR?.text),
    });
  if (scope.underlaySamples?.status === 'ok')
    sources.push({
      check: 'underlay-samples',
      drops: sampleDrops(scope.underlaySamples.data, (n) => scope.model.byName.get(n)),
    });
  const out: Report[] = [];
  for (const { check, drops } of sources) {
    // One finding per sender and kind of evidence: its peers are the pairs whose packets were lost.
    const bySender = new Map<string, UnderlayDrop[]>();
    for (const d of drops) {
      if (!nodes.has(d.from) || !nodes.has(d.to) || d.from === d.to) continue;
      const list = bySender.get(d.from) ?? [];
      if (!list.some((x) => x.to === d.to)) list.push(d);
      bySender.set(d.from, list);
    }
    for (const [from, list] of bySender) {
      const peers = list.map((d) => d.to);
      const named = peers.slice(0, NAMED_PEERS).join(', ');
      const more = peers.length > NAMED_PEERS ? ` and ${peers.length - NAMED_PEERS} more` : '';
      const who = peers.length === 1 ? peers[0]! : `${peers.length} peers (${named}${more})`;
      out.push({
        node: from,
        peer: peers.length === 1 ? peers[0]! : null,
        message: `pod and node traffic to ${who} stops at underlay: ${
          list.length === 1 ? list[0]!.message : `packets ${from} sent each of them were seen on none of their uplinks`
        } [${check}]`,
        evidence: list.slice(0, EVIDENCE_PAIRS).flatMap((d) => d.evidence),
        fix: list[0]!.fix,
        unless: [check],
      });
    }
  }
  return out;
}
