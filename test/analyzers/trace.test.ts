// trace on the simulated clusters: pod to pod arrives on every healthy backend, and each fault
// breaks the path at the hop where the kernel would drop the packet.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trace } from '../../src/analyzers/trace/trace.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import { SIM_BACKENDS, type SimBackend } from '../sim/cluster.js';
import { FAULTS } from '../sim/faults.js';
import { fixturePath } from '../sim/scenario.js';

const pod = (k: number) => `10.244.${k}.2`;

for (const backend of SIM_BACKENDS) {
  // IPv6-only pods hold only their IPv6 address (test/sim/cluster.ts).
  const podOf = (k: number) => (backend === 'vxlan-ipv6' ? `fd00:10:244:${k}::2` : pod(k));
  test(`trace: pods reach each other on a healthy ${backend} cluster`, async () => {
    const snap = await readSnapshot(fixturePath(backend));
    for (const [a, b] of [
      [1, 2],
      [2, 3],
      [3, 1],
      [1, 1],
    ] as const) {
      const t = trace(snap, podOf(a), podOf(b));
      assert.equal(t.brokenAt, null, `${podOf(a)} -> ${podOf(b)}: ${JSON.stringify(t.hops, null, 1)}`);
      assert.equal(t.hops.at(-1)?.note, 'delivered locally');
      assert.equal(t.hops.at(-1)?.node, `node${b}`);
    }
  });
}

const breaks: [string, SimBackend, number, number, string, RegExp][] = [
  ['route-deleted', 'vxlan', 1, 2, 'route lookup', /no route/],
  ['fdb-deleted', 'vxlan', 2, 3, 'fdb', /no fdb entry/],
  ['neigh-wrong-mac', 'vxlan', 1, 3, 'fdb', /02:00:00:00:00:99/],
  ['vtep-mac-rewritten', 'vxlan', 1, 3, 'decapsulate', /has MAC 02:42:ac:11:00:02/],
  ['ip-forward-off', 'vxlan', 1, 2, 'destination node health', /ip_forward is 0/],
  ['forward-reject-first', 'vxlan', 3, 1, 'source node health', /REJECT rule in FORWARD/],
  ['vxlan-port-blocked', 'vxlan', 1, 2, 'destination node health', /UDP 8472/],
  ['hostgw-route-deleted', 'host-gw', 3, 1, 'route lookup', /no route/],
  ['ipsec-sa-absent', 'ipsec', 1, 3, 'xfrm state', /no SA/],
  ['ipsec-sa-key-mismatch', 'ipsec', 2, 3, 'xfrm state (receive)', /another key/],
  ['wireguard-peer-missing', 'wireguard', 1, 3, 'wireguard peer', /no peer's allowed-ips/],
  ['ipv6-route-deleted', 'vxlan-dualstack', 1, 2, 'route lookup', /no route/],
  ['canal-fdb-deleted', 'vxlan-canal', 2, 1, 'fdb', /no fdb entry/],
  ['k3s-peer-route-deleted', 'vxlan-k3s', 1, 2, 'route lookup', /no route/],
];

for (const [id, backend, a, b, step, note] of breaks) {
  test(`trace: ${backend} ${id} breaks ${pod(a)} -> ${pod(b)} at "${step}"`, async () => {
    const fault = FAULTS.find((f) => f.id === id && f.backend === backend)!;
    const snap = await readSnapshot(fixturePath(backend, fault));
    const [src, dst] = id === 'ipv6-route-deleted' ? [`fd00:10:244:${a}::2`, `fd00:10:244:${b}::2`] : [pod(a), pod(b)];
    const t = trace(snap, src, dst);
    assert.notEqual(t.brokenAt, null, JSON.stringify(t.hops, null, 1));
    const hop = t.hops[t.brokenAt!]!;
    assert.equal(hop.step, step, JSON.stringify(t.hops, null, 1));
    assert.match(`${hop.note} ${hop.entry ?? ''}`, note);
  });
}

test('trace: an address outside every podCIDR and node is reported, not guessed', async () => {
  const t = trace(await readSnapshot(fixturePath('vxlan')), '203.0.113.9', pod(1));
  assert.equal(t.src.kind, 'outside');
  assert.equal(t.brokenAt, 0);
});
