/**
 * Reading pod-path's findings back as the pod pairs they say break, for the tests that compare the pair-wide walk
 * with what breaks: the simulator's path coverage (test/analyzers/path-coverage.test.ts) and the lab's real pings
 * (test/e2e/walk-agrees.ts). One reader, so the two cannot read one message two ways.
 */
import assert from 'node:assert/strict';

export interface Pair {
  readonly from: string;
  readonly to: string;
}

/** What the reader needs of a finding: pod-path's JSON (doctor -o json) and its in-process form both have it. */
export interface WalkFinding {
  readonly node: string | null;
  readonly message: string;
}

const PEERS =
  /^(pod and node traffic|pod traffic|node-to-pod traffic) (to|from) (?:(\S+ of \S+'s pods|\S+)|\d+ peers \(([^)]*)\)) (?:stops at|is rewritten in) /;
/** A peer as a finding names it: the node, or the part of its podCIDR that breaks (`10.244.3.128/25 of node3's pods`). */
const PART = /^(?:\S+(?: outside \S+)? of )?(\S+?)(?:'s pods)?$/;
const CUT_OFF = /^the pod\b.* behind cni0 port \S+ is cut off/;

/** The ordered node pairs a finding names, and whether it says pod traffic, node traffic or both break. */
function read(f: WalkFinding, nodes: readonly string[]): { pod: boolean; node: boolean; pairs: Pair[] } {
  const node = f.node;
  assert.ok(node, `pod-path finding without a node: ${f.message}`);
  // a cut-off port passes no frame from any node, pods or the nodes themselves
  if (CUT_OFF.test(f.message))
    return { pod: true, node: true, pairs: nodes.filter((n) => n !== node).map((n) => ({ from: n, to: node })) };
  const m = PEERS.exec(f.message);
  assert.ok(m, `pod-path finding the coverage test cannot read (its message format changed?): ${f.message}`);
  const peers = (m[3] ? [m[3]] : (m[4] ?? '').split(', ')).map((p) => PART.exec(p)?.[1] ?? p);
  // a group naming more peers than it lists would hide pairs: the simulator and the lab have three nodes, so it never does
  assert.ok(!peers.some((p) => / and \d+ more$/.test(p)), f.message);
  return {
    pod: m[1] !== 'node-to-pod traffic',
    node: m[1] !== 'pod traffic',
    pairs: peers.map((p) => (m[2] === 'to' ? { from: node, to: p } : { from: p, to: node })),
  };
}

/** The ordered pod pairs one pod-path finding says break; node-to-pod-only findings break no pod ping. */
export function pairsOf(f: WalkFinding, nodes: readonly string[]): Pair[] {
  const r = read(f, nodes);
  return r.pod ? r.pairs : [];
}

/** The ordered node pairs (a node's own packets to the other's pods) one pod-path finding says break. */
export function nodePairsOf(f: WalkFinding, nodes: readonly string[]): Pair[] {
  const r = read(f, nodes);
  return r.node ? r.pairs : [];
}

/** A ping needs the request and the reply: a pair is broken both ways when either one-way packet stops. */
export const unordered = (ps: readonly Pair[]): string[] =>
  [...new Set(ps.map((p) => [p.from, p.to].sort().join(' <-> ')))].sort();
