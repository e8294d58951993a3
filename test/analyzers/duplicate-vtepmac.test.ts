// A node whose backend-data names another node's VtepMAC (the lab's duplicate-vtepmac fault), as the lab's kernels
// showed it: the healthy vxlan fixture with node1's annotation set to node2's MAC, and the entries the peers'
// flanneld then programmed (node3's fdb for node2's MAC re-pointed at node1, node2's fdb for its own MAC toward
// node1, both peers' neighbour for node1's subnet on node2's MAC; the entries for node1's real MAC stay).
// The printed fixes are the ones proven in the lab (test/e2e/faults.test.ts, fixRestores): a plain restart on
// node1, which keeps flannel.1 and publishes its MAC again (deleting the device would re-create it with the
// annotation's MAC, node2's), and on node3 the fdb command, not a restart, which replays both leases; the peers'
// entries for node1's real MAC are not offered for deletion: once node1 publishes it again they carry its traffic.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import type { FdbEntry, HostState, Neighbour, Snapshot } from '../../src/snapshot/types.js';

const NODE1_MAC = '02:c4:88:4a:64:73';
const NODE2_MAC = 'a2:2f:7e:97:c2:24';
const NODE1_IP = '192.168.56.11';

function duplicated(): Snapshot {
  const s = JSON.parse(readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8')) as Snapshot;
  const nodes = s.cluster.nodes;
  assert.ok(nodes.status === 'ok');
  const n1 = nodes.data.find((n) => n.name === 'node1');
  assert.ok(n1);
  assert.match(n1.flannelAnnotations['backend-data'] ?? '', new RegExp(NODE1_MAC));
  (n1.flannelAnnotations as Record<string, string>)['backend-data'] = JSON.stringify({ VNI: 1, VtepMAC: NODE2_MAC });
  const toNode1 = (mac: string): FdbEntry => ({
    mac,
    dev: 'flannel.1',
    dst: NODE1_IP,
    vlan: null,
    master: null,
    flags: ['self'],
    state: 'permanent',
  });
  const hosts = { ...s.hosts };
  for (const name of ['node2', 'node3']) {
    const h = s.hosts[name];
    assert.ok(h?.status === 'ok' && h.data.fdb.status === 'ok' && h.data.neighbours.status === 'ok');
    const fdb = h.data.fdb.data.filter((f) => !(f.dev === 'flannel.1' && f.mac === NODE2_MAC));
    assert.ok(
      fdb.some((f) => f.mac === NODE1_MAC && f.dst === NODE1_IP),
      `${name} keeps node1's real MAC`,
    );
    const data: HostState = {
      ...h.data,
      // node2 gains an entry for its own MAC toward node1; node3's entry for node2's MAC is re-pointed at node1
      fdb: { status: 'ok', data: [...fdb, toNode1(NODE2_MAC)] },
      neighbours: {
        status: 'ok',
        data: h.data.neighbours.data.map(
          (x): Neighbour => (x.dst === '10.244.1.0' && x.dev === 'flannel.1' ? { ...x, lladdr: NODE2_MAC } : x),
        ),
      },
    };
    hosts[name] = { status: 'ok', data };
  }
  return { ...s, hosts };
}

test('duplicate VtepMAC: vtep-mac says restart only, vxlan-fdb gives the command, and nothing offers to delete node1 real MAC', () => {
  const findings = analyze(duplicated()).findings;
  assert.deepEqual(
    findings.map((f) => ({ check: f.check, severity: f.severity, node: f.node, peer: f.peer, fix: f.fix })),
    [
      {
        check: 'vtep-mac',
        severity: 'error',
        node: 'node1',
        peer: null,
        fix: `Restart the flannel pod on node1 (flanneld keeps flannel.1, MAC ${NODE1_MAC}, and publishes that MAC again; do not delete flannel.1: flanneld would re-create it with ${NODE2_MAC}, the VtepMAC node2 publishes)`,
      },
      {
        check: 'vxlan-fdb',
        severity: 'error',
        node: 'node3',
        peer: 'node2',
        fix: `On node3: bridge fdb replace ${NODE2_MAC} dev flannel.1 dst 192.168.56.12 self permanent (restarting flanneld here does not fix it while node1 publishes the same VtepMAC: whichever lease it replays last wins the entry)`,
      },
    ],
  );
});

test('without the duplicate, a device MAC that differs from its annotation keeps the delete-and-restart fix', () => {
  const s = JSON.parse(readFileSync('fixtures/snapshots/vxlan/vtep-mac-rewritten.json', 'utf8')) as Snapshot;
  const f = analyze(s, { only: ['vtep-mac'] }).findings;
  assert.equal(f.length, 1);
  assert.match(f[0]?.fix ?? '', /^On node\d: ip link delete flannel\.1, then restart the flannel pod /);
});
