// pod-path walks once per class of peers (src/analyzers/path/classes.ts). The class key must be exact: two peers
// with the same key must get the same result from every half walked one by one (what the class shares: passes,
// or a break's kind, hop, cause and explaining checks). Checked on every committed fixture (3-node simulated
// clusters, healthy and with each catalog fault, so a fault singling out one peer must split its class) and on the
// synthetic bench snapshot with the underlay-ip-changed fault (one peer's fdb entry differs on every node).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syntheticSnapshot } from '../../bench/synthetic.js';
import { clusterContext, nodeContext } from '../../src/analyzers/context.js';
import { fibStateOf } from '../../src/analyzers/fib/state.js';
import { buildModel } from '../../src/analyzers/model.js';
import type { NfFamily } from '../../src/analyzers/netfilter/types.js';
import { PeerClasses } from '../../src/analyzers/path/classes.js';
import { NodeFilter } from '../../src/analyzers/path/node-filter.js';
import { type Break, egress, ingress, type NodeView, podSidesOf } from '../../src/analyzers/path/walk.js';
import { podEndsOf } from '../../src/analyzers/pod-ends.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import type { Snapshot } from '../../src/snapshot/types.js';
import { SIM_BACKENDS } from '../sim/cluster.js';
import { FAULTS } from '../sim/faults.js';
import { fixturePath } from '../sim/scenario.js';

const shape = (r: Break | 'passes' | null): string =>
  r === null || r === 'passes'
    ? String(r)
    : r.cause === undefined
      ? `${r.kind} ${r.hop} (per pair)`
      : `${r.kind} ${r.hop} ${r.cause} ${r.explainedBy.join(',')}`;

/** Per node and family: how many classes, and every class's members walked one by one must agree. */
function checkClasses(snapshot: Snapshot, label: string): { peers: number; classes: number } {
  const model = buildModel(snapshot);
  const cluster = clusterContext(model);
  let peers = 0;
  let classes = 0;
  for (const lease of model.nodes) {
    const ctx = nodeContext(cluster, lease, snapshot.hosts[lease.name]);
    const host = ctx.host;
    if (!host || !model.backend || !ctx.tables || host.firewall.status !== 'ok') continue;
    const view: NodeView = {
      node: ctx.node,
      host,
      backend: model.backend,
      filter: new NodeFilter(host),
      fib: fibStateOf(host),
      tables: ctx.tables,
      decisions:
        host.routeDecisions?.status === 'ok'
          ? new Map(host.routeDecisions.data.map((d) => [`${d.dst} ${d.as}`, d]))
          : null,
      pods: podSidesOf(ctx.node, host),
      podEnds: podEndsOf(host),
    };
    for (const family of ['inet', 'inet6'] as NfFamily[]) {
      const pc = new PeerClasses(view, family, cluster.peerClassCIDRs[family], ctx.peers);
      const seen = new Map<number, { peer: string; walks: string }>();
      for (const peer of ctx.peers) {
        const walks = (['pod', 'node'] as const)
          .flatMap((cls) => [egress(view, peer, cls, family), ingress(view, peer, cls, family)])
          .map(shape)
          .join(' | ');
        const k = pc.key(peer);
        const first = seen.get(k);
        if (first)
          assert.equal(
            walks,
            first.walks,
            `${label}: ${lease.name} ${family}: ${peer.name} shares ${first.peer}'s class`,
          );
        else seen.set(k, { peer: peer.name, walks });
        peers++;
      }
      classes += seen.size;
    }
    ctx.release();
  }
  return { peers, classes };
}

test('path classes: on every fixture, peers of one class walk alike', async () => {
  const runs = [
    ...SIM_BACKENDS.map((b) => ({ label: `${b} healthy`, path: fixturePath(b) })),
    ...FAULTS.map((f) => ({ label: `${f.backend} ${f.id}`, path: fixturePath(f.backend, f) })),
  ];
  for (const r of runs) checkClasses(await readSnapshot(r.path), r.label);
});

test('path classes: a 40-node synthetic cluster is two classes per node, the stale fdb entry its own', () => {
  const { peers, classes } = checkClasses(syntheticSnapshot(40, 'underlay-ip-changed', { full: true }), 'synthetic');
  assert.equal(peers, 40 * 39 * 2);
  // inet: node-0 one class (every peer's entries are right), the others two (node-0's stale fdb entry); inet6: none.
  assert.equal(classes, 1 + 39 * 2 + 40);
});
