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
  // Decided outside flannel's entries (issue 9): the rule, the table and the route that win are named.
  ['policy-rule-other-table', 'vxlan', 1, 2, 'route lookup', /rule 100: from all to 10\.244\.2\.0\/24 lookup 100/],
  ['hostgw-policy-rule-other-table', 'host-gw', 1, 2, 'route lookup', /table 100/],
  // netfilter on the path, in any table and by any writer (issue 9 item 6).
  [
    'raw-drop-peer-podcidr',
    'vxlan',
    1,
    2,
    'netfilter',
    /dropped in PREROUTING.*raw PREROUTING: -A PREROUTING -s 10\.244\.1\.0\/24 -j DROP/,
  ],
  ['hostgw-mangle-drop-peer-podcidr', 'host-gw', 2, 1, 'netfilter', /mangle PREROUTING/],
  [
    'nft-table-drops-pods',
    'vxlan',
    2,
    3,
    'netfilter',
    /nft inet kfl_guard pre handle \d+: ip daddr 10\.244\.3\.0\/24 drop/,
  ],
  ['dnat-pod-traffic', 'vxlan', 1, 2, 'netfilter', /rewritten in PREROUTING: the destination becomes 10\.244\.2\.99/],
  ['cni0-port-disabled', 'vxlan', 1, 3, 'cni0 -> pod', /master cni0 state disabled/],
  ['blackhole-in-local-table', 'vxlan', 2, 1, 'route lookup', /route blackhole 10\.244\.1\.0\/24 table local/],
  [
    'prohibit-for-forwarded-pods',
    'vxlan',
    3,
    2,
    'route lookup',
    /dropped \(prohibit\).*rule 200 \(from all iif cni0 lookup 200\)/,
  ],
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

test("trace: a node IP as source is that node, and the lookup is the node's own (no iif)", async () => {
  const t = trace(await readSnapshot(fixturePath('vxlan')), '192.168.56.11', pod(3));
  assert.equal(t.src.kind, 'node');
  assert.equal(t.brokenAt, null, JSON.stringify(t.hops, null, 1));
  assert.equal(t.hops[0]?.node, 'node1');
  // as ping on the node sends: from flannel.1's address, the route's source, not the InternalIP asked
  assert.deepEqual(
    [t.hops[0]?.step, t.hops[0]?.note],
    [
      'source address',
      "the node's own packet leaves from 10.244.1.0, the address its kernel picks for this route (flannel.1's), not 192.168.56.11",
    ],
  );
  // so a rule on node1's pod network on the receiver matches the node's packets too
  const fault = FAULTS.find((f) => f.id === 'raw-drop-peer-podcidr')!;
  const dropped = trace(await readSnapshot(fixturePath('vxlan', fault)), '192.168.56.11', pod(2));
  assert.deepEqual(
    [dropped.hops[dropped.brokenAt!]?.node, dropped.hops[dropped.brokenAt!]?.step],
    ['node2', 'netfilter'],
  );
});

test('trace: a destination outside the pod network leaves via a device, masqueraded by flannel or not', async () => {
  const ok = trace(await readSnapshot(fixturePath('vxlan')), pod(1), '192.168.56.200');
  assert.equal(ok.brokenAt, null, JSON.stringify(ok.hops, null, 1));
  assert.equal(ok.egress?.dev, 'eth0');
  assert.match(ok.egress?.masquerade ?? '', /flanneld masq.*MASQUERADE/);
  const fault = FAULTS.find((f) => f.id === 'masquerade-flushed')!;
  const bad = trace(await readSnapshot(fixturePath('vxlan', fault)), pod(1), '192.168.56.200');
  assert.equal(bad.hops[bad.brokenAt!]?.step, 'masquerade');
  assert.match(bad.hops[bad.brokenAt!]?.note ?? '', /^not masqueraded/);
});

test('trace: a wrong but forwarding gateway is a detour: reaches, via the third node', async () => {
  const snap = structuredClone(await readSnapshot(fixturePath('host-gw')));
  const h = snap.hosts['node1']!;
  assert.equal(h.status, 'ok');
  // node1 sends node2's pods to node3, which forwards them on to node2.
  const routes = h.data.routes.status === 'ok' ? h.data.routes.data : [];
  const i = routes.findIndex((r) => r.dst === '10.244.2.0/24');
  (routes as unknown as Record<string, unknown>[])[i] = { ...routes[i]!, gateway: '192.168.56.13' };
  const t = trace(snap, pod(1), pod(2));
  assert.equal(t.brokenAt, null, JSON.stringify(t.hops, null, 1));
  assert.deepEqual(t.via, ['node3']);
  assert.equal(t.hops.at(-1)?.node, 'node2');
});

test('trace: a down flannel.1 at the destination breaks at the decapsulation hop', async () => {
  const snap = structuredClone(await readSnapshot(fixturePath('vxlan')));
  const h = snap.hosts['node3']!;
  assert.equal(h.status, 'ok');
  const links = h.data.links.status === 'ok' ? h.data.links.data : [];
  const i = links.findIndex((l) => l.name === 'flannel.1');
  (links as unknown as Record<string, unknown>[])[i] = {
    ...links[i]!,
    flags: links[i]!.flags.filter((f) => f !== 'UP' && f !== 'LOWER_UP'),
    operstate: 'DOWN',
  };
  const t = trace(snap, pod(1), pod(3));
  assert.notEqual(t.brokenAt, null);
  assert.equal(t.hops[t.brokenAt!]?.step, 'decapsulate');
  assert.match(t.hops[t.brokenAt!]?.note ?? '', /flannel\.1 DOWN/);
});

test('trace: a more specific route shadowing part of a peer podCIDR breaks only that part', async () => {
  const fault = FAULTS.find((f) => f.id === 'peer-podcidr-shadowed')!;
  const snap = await readSnapshot(fixturePath('vxlan', fault));
  assert.equal(trace(snap, pod(1), pod(3)).brokenAt, null, 'the lower half still reaches node3');
  const t = trace(snap, pod(1), '10.244.3.200');
  assert.equal(t.hops[t.brokenAt!]?.step, 'route lookup');
  assert.match(t.hops[t.brokenAt!]?.entry ?? '', /^10\.244\.3\.128\/25 via 192\.168\.56\.99 dev eth0/);
});

test("trace: the destination pod's cni0 port is found by its MAC; only that port's state decides", async () => {
  const snap = structuredClone(
    await readSnapshot(
      fixturePath(
        'vxlan',
        FAULTS.find((f) => f.id === 'cni0-port-disabled'),
      ),
    ),
  );
  const h = snap.hosts['node3']!;
  assert.equal(h.status, 'ok');
  const d = h.data as unknown as {
    bridgePorts: { data: { dev: string; master: string; state: string }[] };
    neighbours: { data: Record<string, unknown>[] };
    fdb: { data: Record<string, unknown>[] };
  };
  const disabled = d.bridgePorts.data[0]!.dev;
  // A second pod on a forwarding port, and the neighbour entries that name each pod's MAC.
  d.bridgePorts.data.push({ dev: 'vethb0b0b0b0', master: 'cni0', state: 'forwarding' });
  d.fdb.data.push({
    mac: '0a:00:00:00:00:03',
    dev: 'vethb0b0b0b0',
    dst: null,
    vlan: null,
    master: 'cni0',
    flags: [],
    state: '',
  });
  const neigh = (ip: string, mac: string) => ({ dst: ip, dev: 'cni0', lladdr: mac, state: ['REACHABLE'] });
  const disabledMac = d.fdb.data.find((f) => f['dev'] === disabled && f['state'] === '')!['mac'] as string;
  d.neighbours.data.push(neigh('10.244.3.2', disabledMac), neigh('10.244.3.3', '0a:00:00:00:00:03'));
  const cut = trace(snap, pod(1), '10.244.3.2');
  assert.equal(cut.hops[cut.brokenAt!]?.step, 'cni0 -> pod', JSON.stringify(cut.hops, null, 1));
  assert.match(cut.hops[cut.brokenAt!]?.entry ?? '', new RegExp(`dev ${disabled}: master cni0 state disabled`));
  const fine = trace(snap, pod(1), '10.244.3.3');
  assert.equal(fine.brokenAt, null, JSON.stringify(fine.hops, null, 1));
});

test("trace: a blocked overlay port stops what arrives, not the node's own sends or its pods' egress", async () => {
  // On the real vxlan lab (vxlan-port-blocked on node2), trace --probe from pod2 to pod1 saw every echo request
  // arrive in pod1 and the replies vanish on node2: the one-way packet from node2 reaches.
  const snap = await readSnapshot(
    fixturePath(
      'vxlan',
      FAULTS.find((f) => f.id === 'vxlan-port-blocked'),
    ),
  );
  assert.equal(trace(snap, pod(2), pod(1)).brokenAt, null);
  const t = trace(snap, pod(1), pod(2));
  assert.equal(t.hops[t.brokenAt!]?.node, 'node2');
  assert.equal(t.hops[t.brokenAt!]?.step, 'destination node health');
  const out = trace(snap, pod(2), '192.168.56.200');
  assert.equal(out.brokenAt, null, JSON.stringify(out.hops, null, 1));
  assert.equal(out.egress?.dev, 'eth0');
});

test('trace: an fdb entry toward an address no node holds dies on the sender, in its route to that address', async () => {
  const snap = await readSnapshot(
    fixturePath(
      'vxlan',
      FAULTS.find((f) => f.id === 'vagrant-shared-nat-ip'),
    ),
  );
  // every node published 10.0.2.15; the kernel routes the encapsulated packet, not the annotation
  for (const [a, b] of [
    [2, 3],
    [3, 1],
  ] as const) {
    const t = trace(snap, pod(a), pod(b));
    const hop = t.hops[t.brokenAt!]!;
    assert.equal(hop.node, `node${a}`, JSON.stringify(t.hops, null, 1));
    assert.equal(hop.step, 'underlay');
    assert.match(hop.entry ?? '', /-> 10\.0\.2\.15 udp 8472: ip route get 10\.0\.2\.15: Network is unreachable/);
  }
});

test("trace: a node whose state was not collected is where the trace stops, said so, on every backend's path", async () => {
  const snap = await readSnapshot(
    fixturePath(
      'host-gw',
      FAULTS.find((f) => f.id === 'node-unreachable'),
    ),
  );
  const t = trace(snap, pod(1), pod(3));
  assert.deepEqual(t.hops[t.brokenAt!], {
    node: 'node3',
    step: 'receive',
    entry: null,
    ok: false,
    note: "node node3's kernel state was not collected",
  });
});

// --- packet size (issue 9 item 3): the packet is FLANNEL_MTU bytes from a pod, the route's device MTU from a node ---

const hopOf = (t: ReturnType<typeof trace>) => (t.brokenAt === null ? null : t.hops[t.brokenAt]!);

test("trace: a FLANNEL_MTU packet into node2's pods does not fit its cni0 (mtu 1400); a 1400-byte one reaches", async () => {
  const snap = await readSnapshot(
    fixturePath(
      'vxlan',
      FAULTS.find((f) => f.id === 'cni0-mtu-below-flannel-mtu'),
    ),
  );
  const t = trace(snap, pod(1), pod(2));
  assert.equal(t.size, 1450);
  assert.deepEqual(
    [hopOf(t)?.node, hopOf(t)?.step, hopOf(t)?.note],
    [
      'node2',
      'route lookup',
      'a 1450-byte packet does not fit cni0 (mtu 1400) on node2: packets of 1401-1450 bytes die',
    ],
  );
  assert.equal(trace(snap, pod(1), pod(2), { size: 1400 }).brokenAt, null);
  // node2's own pods send out of the bridge, not into it: their packets leave
  assert.equal(trace(snap, pod(2), pod(3)).brokenAt, null);
});

test("trace: node2's eth0 lowered to 1400 drops what arrives in VXLAN; node2's own outer packets leave in fragments", async () => {
  const snap = await readSnapshot(
    fixturePath(
      'vxlan',
      FAULTS.find((f) => f.id === 'mtu-underlay'),
    ),
  );
  const t = trace(snap, pod(1), pod(2));
  assert.deepEqual(
    [hopOf(t)?.node, hopOf(t)?.step, hopOf(t)?.note],
    [
      'node2',
      'uplink',
      'a 1500-byte packet (1450 + the vxlan overhead 50) from node1 does not fit eth0 (mtu 1400) on node2: it is dropped on arrival, so packets of 1351-1450 bytes die',
    ],
  );
  const out = trace(snap, pod(2), pod(1));
  assert.equal(out.brokenAt, null, JSON.stringify(out.hops));
  assert.ok(
    out.hops.some((h) => h.node === 'node2' && h.step === 'uplink' && /sends it in fragments/.test(h.note)),
    'the fragmenting hop is shown',
  );
  assert.equal(trace(snap, pod(1), pod(2), { size: 1350 }).brokenAt, null);
  // node2's own DF packets: the VXLAN device lowers the path MTU after the first (the lab's node pings show it)
  const own = trace(snap, '192.168.56.12', pod(1));
  assert.deepEqual(
    [hopOf(own)?.node, hopOf(own)?.step, hopOf(own)?.note],
    [
      'node2',
      'uplink',
      "a 1500-byte packet (1450 + the vxlan overhead 50) is above eth0 (mtu 1400) on node2: the VXLAN device lowers the path MTU to 1350, so the node's own packets of 1351-1450 bytes with DF die after the first",
    ],
  );
});

test('trace: a sender that fragments toward a smaller receiver: every packet whose outer size is above the receiver dies', async () => {
  // mtu-underlay (node2's eth0 at 1400) with node1's eth0 at 1450: node1 sends the 1500-byte outer packet in 1450-byte
  // fragments, which node2 drops too; a 1351-byte inner packet (1401 outer) leaves whole and dies the same way.
  const snap = structuredClone(
    await readSnapshot(
      fixturePath(
        'vxlan',
        FAULTS.find((f) => f.id === 'mtu-underlay'),
      ),
    ),
  );
  const h = snap.hosts['node1']!;
  assert.equal(h.status, 'ok');
  const links = h.data.links.status === 'ok' ? h.data.links.data : [];
  const i = links.findIndex((l) => l.name === 'eth0');
  (links as unknown as Record<string, unknown>[])[i] = { ...links[i]!, mtu: 1450 };
  const t = trace(snap, pod(1), pod(2));
  assert.deepEqual(
    [hopOf(t)?.node, hopOf(t)?.step, hopOf(t)?.note],
    [
      'node2',
      'uplink',
      'a 1450-byte packet (a fragment) from node1 does not fit eth0 (mtu 1400) on node2: it is dropped on arrival, so packets of 1351-1450 bytes die',
    ],
  );
  assert.equal(hopOf(trace(snap, pod(1), pod(2), { size: 1351 }))?.node, 'node2');
  assert.equal(trace(snap, pod(1), pod(2), { size: 1350 }).brokenAt, null);
});

test("trace: node3's 9000-byte uplink: its host packets die at the others' eth0, its pods' packets still reach", async () => {
  const snap = await readSnapshot(
    fixturePath(
      'vxlan',
      FAULTS.find((f) => f.id === 'uplink-mtu-differs'),
    ),
  );
  const t = trace(snap, '192.168.56.13', '192.168.56.11');
  assert.equal(t.size, 9000);
  assert.deepEqual(
    [hopOf(t)?.node, hopOf(t)?.step, hopOf(t)?.note],
    [
      'node1',
      'uplink',
      'a 9000-byte packet from node3 does not fit eth0 (mtu 1500) on node1: it is dropped on arrival, so packets of 1501-9000 bytes die',
    ],
  );
  assert.equal(trace(snap, '192.168.56.11', '192.168.56.13').brokenAt, null);
  assert.equal(trace(snap, '192.168.56.13', '192.168.56.11', { size: 1500 }).brokenAt, null);
  // a host packet toward a pod leaves by flannel.1 (mtu 1450): it fits everywhere
  assert.equal(trace(snap, '192.168.56.13', pod(1)).brokenAt, null);
  assert.equal(trace(snap, pod(3), pod(1)).brokenAt, null);
});

test('trace: a size above what the pod sends breaks at the pod; on dual-stack IPv6 the designed clamp is a Packet Too Big', async () => {
  const vx = await readSnapshot(fixturePath('vxlan'));
  const big = trace(vx, pod(1), pod(2), { size: 1500 });
  assert.deepEqual([hopOf(big)?.node, hopOf(big)?.step], ['node1', 'pod -> cni0']);
  assert.match(hopOf(big)!.note, /a 1500-byte packet does not fit the pod's eth0 \(mtu 1450\)/);
  const ds = await readSnapshot(fixturePath('vxlan-dualstack'));
  const v6 = trace(ds, 'fd00:10:244:1::2', 'fd00:10:244:2::2');
  assert.equal(v6.brokenAt, null, JSON.stringify(v6.hops));
  assert.ok(v6.hops.some((h) => h.step === 'mtu' && /Packet Too Big .* resends at 1430 bytes/.test(h.note)));
});
