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
  /^(?:pod and node traffic|pod traffic) (to|from) (?:(\S+ of \S+'s pods|\S+)|\d+ peers \(([^)]*)\)) (?:stops at|is rewritten in) /;
/** A peer as a finding names it: the node, or the part of its podCIDR that breaks (`10.244.3.128/25 of node3's pods`). */
const PART = /^(?:\S+(?: outside \S+)? of )?(\S+?)(?:'s pods)?$/;
const CUT_OFF = /^the pod\b.* behind cni0 port \S+ is cut off/;

/** The ordered pod pairs one pod-path finding says break; node-to-pod-only findings break no pod ping. */
export function pairsOf(f: WalkFinding, nodes: readonly string[]): Pair[] {
  const node = f.node;
  assert.ok(node, `pod-path finding without a node: ${f.message}`);
  if (CUT_OFF.test(f.message)) return nodes.filter((n) => n !== node).map((n) => ({ from: n, to: node }));
  if (/^node-to-pod traffic /.test(f.message)) return [];
  const m = PEERS.exec(f.message);
  assert.ok(m, `pod-path finding the coverage test cannot read (its message format changed?): ${f.message}`);
  const peers = (m[2] ? [m[2]] : (m[3] ?? '').split(', ')).map((p) => PART.exec(p)?.[1] ?? p);
  // a group naming more peers than it lists would hide pairs: the simulator and the lab have three nodes, so it never does
  assert.ok(!peers.some((p) => / and \d+ more$/.test(p)), f.message);
  return peers.map((p) => (m[1] === 'to' ? { from: node, to: p } : { from: p, to: node }));
}

/** A ping needs the request and the reply: a pair is broken both ways when either one-way packet stops. */
export const unordered = (ps: readonly Pair[]): string[] =>
  [...new Set(ps.map((p) => [p.from, p.to].sort().join(' <-> ')))].sort();
