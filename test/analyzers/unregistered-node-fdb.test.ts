// A node whose flannel annotations are gone (flanneld stopped, annotations removed: the lab's annotations-removed on
// a dual-stack lab) keeps its fdb entries on the running peers (kube.go ignores a node update without
// kube-subnet-manager), and they still carry the peers' traffic to it. vxlan-fdb must keep them, not offer
// `bridge fdb del`: once node-not-registered's restart re-registers the node nothing re-adds a deleted entry.
// Like the lab's Node, this one has only its IPv4 InternalIP, so the IPv6 entry is known by the neighbour that uses
// it (the network address of the node's IPv6 podCIDR).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import type { KubeNode, Snapshot } from '../../src/snapshot/types.js';

test("vxlan-fdb keeps a lease-less node's IPv4 and IPv6 entries on its peers; node-not-registered reports the node", () => {
  const s = JSON.parse(readFileSync('fixtures/snapshots/vxlan-dualstack/healthy.json', 'utf8')) as Snapshot;
  const nodes = s.cluster.nodes;
  assert.ok(nodes.status === 'ok');
  const data = nodes.data.map(
    (n): KubeNode =>
      n.name === 'node3'
        ? { ...n, flannelAnnotations: {}, internalIPs: n.internalIPs.filter((ip) => !ip.includes(':')) }
        : n,
  );
  for (const peer of ['node1', 'node2']) {
    const h = s.hosts[peer];
    assert.ok(h?.status === 'ok' && h.data.fdb.status === 'ok');
    for (const dst of ['192.168.56.13', 'fd00:56::13'])
      assert.ok(
        h.data.fdb.data.some((f) => f.dst === dst),
        `${peer} holds node3's entry toward ${dst}`,
      );
  }
  const snapshot: Snapshot = { ...s, cluster: { ...s.cluster, nodes: { status: 'ok', data } } };
  const findings = analyze(snapshot, { only: ['vxlan-fdb', 'node-not-registered'] }).findings;
  assert.deepEqual(
    findings.map((f) => [f.check, f.severity, f.node]),
    [['node-not-registered', 'error', 'node3']],
  );
});
