// The walk and trace follow the outer packet to the address the kernel sends it to, not the one the lease names.
// Found by the lab's faults.test (the walk alone passed what real pings showed broken): fdb-wrong-dst (the node's
// fdb entry for the peer's VtepMAC points at an address no node holds), duplicate-vtepmac (the third node's fdb for
// a shared MAC re-pointed to another node) and public-ip-wrong (a lease's public-ip no device of its node holds, so
// peers send the overlay nowhere). Each is written into the healthy vxlan fixture as the lab's fault writes it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { trace } from '../../src/analyzers/trace/trace.js';
import type { HostState, Snapshot } from '../../src/snapshot/types.js';

const healthy = () => JSON.parse(readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8')) as Snapshot;
const host = (s: Snapshot, n: string): HostState => {
  const h = s.hosts[n];
  assert.ok(h?.status === 'ok');
  return h.data;
};
/** Re-points every flannel.1 fdb entry of `on` whose dst is `from` to `to`. */
function repoint(s: Snapshot, on: string, from: string, to: string): void {
  const fdb = host(s, on).fdb;
  assert.ok(fdb.status === 'ok');
  const hits = fdb.data.filter((f) => f.dev === 'flannel.1' && f.dst === from);
  assert.equal(hits.length, 1, `${on} has one fdb entry to ${from}`);
  for (const f of hits) (f as { dst: string | null }).dst = to;
}
const walk = (s: Snapshot) =>
  analyze(s, { only: ['pod-path'] }).findings.map(
    (f) => `${f.node} ${f.peer ?? '-'}: ${f.message.replace(/: .*/, '')}`,
  );
const brokenOn = (s: Snapshot, src: string, dst: string) => {
  const t = trace(s, src, dst);
  return t.brokenAt === null ? 'reaches' : `${t.hops[t.brokenAt]!.node} ${t.hops[t.brokenAt]!.step}`;
};

test('walk: an fdb entry sending the peer VtepMAC frames to an address that is not its public-ip breaks the pair there', () => {
  const s = healthy();
  repoint(s, 'node1', '192.168.56.12', '192.168.56.99');
  assert.deepEqual(walk(s), ['node1 node2: pod and node traffic to node2 stops at vxlan fdb']);
  assert.equal(brokenOn(s, '10.244.1.2', '10.244.2.2'), 'node1 underlay');
  assert.equal(brokenOn(s, '10.244.2.2', '10.244.1.2'), 'reaches');
});

test('walk: an fdb entry re-pointed to another node (a shared VtepMAC) breaks the pair on the sender', () => {
  const s = healthy();
  repoint(s, 'node1', '192.168.56.13', '192.168.56.12');
  assert.deepEqual(walk(s), ['node1 node3: pod and node traffic to node3 stops at vxlan fdb']);
  // trace follows the frame to node2, whose flannel.1 MAC is not the one it is sent to
  assert.equal(brokenOn(s, '10.244.1.2', '10.244.3.2'), 'node2 decapsulate');
});

test('walk: a public-ip no device of the node holds breaks every peer overlay toward it, on that node', () => {
  const s = healthy();
  const nodes = s.cluster.nodes;
  assert.ok(nodes.status === 'ok');
  const n1 = nodes.data.find((n) => n.name === 'node1')!;
  (n1.flannelAnnotations as Record<string, string>)['public-ip'] = '192.168.56.99';
  for (const peer of ['node2', 'node3']) repoint(s, peer, '192.168.56.11', '192.168.56.99');
  assert.deepEqual(walk(s), ['node1 -: pod and node traffic from 2 peers (node2, node3) stops at underlay (outer)']);
  // trace stops on the sender, whose fdb names an address no node holds
  assert.equal(brokenOn(s, '10.244.2.2', '10.244.1.2'), 'node2 underlay');
});

test('walk: on host-gw, a public-ip no device of the node holds breaks the routed pod packets of every peer toward it', () => {
  const s = JSON.parse(readFileSync('fixtures/snapshots/host-gw/healthy.json', 'utf8')) as Snapshot;
  const nodes = s.cluster.nodes;
  assert.ok(nodes.status === 'ok');
  const n1 = nodes.data.find((n) => n.name === 'node1')!;
  (n1.flannelAnnotations as Record<string, string>)['public-ip'] = '192.168.56.99';
  // flanneld on the peers routes node1's podCIDR via the new public-ip (the lab's fault: "re-point their routes")
  for (const peer of ['node2', 'node3']) {
    const routes = host(s, peer).routes;
    assert.ok(routes.status === 'ok');
    for (const r of routes.data.filter((x) => x.dst === '10.244.1.0/24'))
      (r as { gateway: string | null }).gateway = '192.168.56.99';
    // and the kernel's answers for node1's pods, as `ip route get` gives them after the change
    const decisions = host(s, peer).routeDecisions;
    assert.ok(decisions?.status === 'ok');
    for (const d of decisions.data.filter((x) => x.dst.startsWith('10.244.1.')))
      (d as { gateway: string | null }).gateway = '192.168.56.99';
  }
  assert.deepEqual(walk(s), ['node1 -: pod and node traffic from 2 peers (node2, node3) stops at underlay']);
  assert.equal(brokenOn(s, '10.244.2.2', '10.244.1.2'), 'node2 route lookup');
});
