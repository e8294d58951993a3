// The path walk on the tunnel backends, hop by hop, beyond the catalog's faults: each case edits one entry of a
// healthy fixture's collected state (the simulator stands in for ipip, WireGuard and ESP, which this kernel lacks:
// test/sim/cluster.ts) and the pod-path check alone must report exactly the pairs and hops that entry breaks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { trace } from '../../src/analyzers/trace/trace.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import type { HostState, Snapshot } from '../../src/snapshot/types.js';
import { canSimulate, type SimBackend, SimCluster } from '../sim/cluster.js';
import { fixturePath } from '../sim/scenario.js';

async function edited(backend: SimBackend, node: string, edit: (h: HostState) => HostState): Promise<Snapshot> {
  const s = await readSnapshot(fixturePath(backend));
  const h = s.hosts[node];
  assert.ok(h?.status === 'ok');
  return { ...s, hosts: { ...s.hosts, [node]: { status: 'ok', data: edit(h.data) } } };
}

/** pod-path's findings as `node: message`, sorted; `only` so no other check marks a cause explained. */
function walked(s: Snapshot): string[] {
  return analyze(s, { only: ['pod-path'] })
    .findings.map((f) => `${f.severity} ${f.node}: ${f.message}`)
    .sort();
}

function okData<T>(c: { status: string; data?: T }): T {
  assert.equal(c.status, 'ok');
  return c.data as T;
}

type WireguardPeer = Extract<HostState['wireguard'], { status: 'ok' }>['data'][number]['peers'][number];

/** The WireGuard fixture with one node's peers rewritten. */
const wireguardPeersEdited = (node: string, edit: (p: WireguardPeer) => WireguardPeer): Promise<Snapshot> =>
  edited('wireguard', node, (h) => ({
    ...h,
    wireguard: {
      status: 'ok',
      data: okData(h.wireguard).map((d) => ({ ...d, peers: d.peers.map(edit) })),
    },
  }));

test('tunnel walk: healthy ipip, WireGuard and IPsec fixtures walk clean', async () => {
  for (const b of ['ipip', 'wireguard', 'ipsec'] as const)
    assert.deepEqual(walked(await readSnapshot(fixturePath(b))), []);
});

test('tunnel walk: ipip device down breaks every pair of the node at the route and at decapsulation', async () => {
  const s = await edited('ipip', 'node1', (h) => ({
    ...h,
    links: {
      status: 'ok',
      data: okData(h.links).map((l) =>
        l.name === 'flannel.ipip' ? { ...l, flags: l.flags.filter((f) => f !== 'UP') } : l,
      ),
    },
  }));
  assert.deepEqual(walked(s), [
    'error node1: pod and node traffic from 2 peers (node2, node3) stops at decapsulate: flannel.ipip is down: the packet is dropped here',
    'error node1: pod and node traffic to 2 peers (node2, node3) stops at route: flannel.ipip is down: the packet is dropped here',
  ]);
});

test('tunnel walk: ipip outer packets (protocol 4) dropped in INPUT break arrival from every peer', async () => {
  const s = await edited('ipip', 'node2', (h) => {
    const fw = okData(h.firewall);
    const dumps = fw.iptables.map((d) => {
      const filter = d.tables['filter'];
      if (!filter) return d;
      return {
        ...d,
        tables: {
          ...d.tables,
          filter: { ...filter, rules: [{ chain: 'INPUT', spec: '-p ipencap -j DROP' }, ...filter.rules] },
        },
      };
    });
    return { ...h, firewall: { status: 'ok', data: { ...fw, iptables: dumps } } };
  });
  const found = walked(s);
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(
    found[0]!,
    /^error node2: pod and node traffic from 2 peers \(node1, node3\) stops at INPUT \(outer\): dropped in INPUT \(outer\) by iptables-\S+ filter INPUT: -A INPUT -p ipencap -j DROP$/,
  );
});

test("tunnel walk: a WireGuard peer whose endpoint is another address breaks the way to that peer's pods", async () => {
  const s = await wireguardPeersEdited('node1', (p) =>
    p.endpoint === '192.168.56.13:51820' ? { ...p, endpoint: '192.168.56.99:51820' } : p,
  );
  assert.deepEqual(walked(s), [
    "error node1: pod and node traffic to node3 stops at wireguard peer: the peer for 10.244.3.0/24 sends to 192.168.56.99:51820, not to node3's address 192.168.56.13",
  ]);
});

test("tunnel walk: allowed-ips that lose a peer's podCIDR break both directions on that node", async () => {
  const s = await wireguardPeersEdited('node3', (p) =>
    p.allowedIPs.includes('10.244.1.0/24') ? { ...p, allowedIPs: ['10.244.9.0/24'] } : p,
  );
  assert.deepEqual(
    walked(s),
    [
      "error node3: pod and node traffic from node1 stops at wireguard peer (receive): the decrypted packet's source is not in the allowed-ips of node1's peer on flannel-wg: WireGuard drops it",
      "error node3: pod and node traffic to node1 stops at wireguard peer: no peer's allowed-ips on flannel-wg hold 10.244.1.2: WireGuard drops the packet",
    ].sort(),
  );
});

test('tunnel walk: the receiving fwd policy gone, decrypted pod packets from that peer are dropped', async () => {
  const s = await edited('ipsec', 'node3', (h) => ({
    ...h,
    xfrmPolicies: {
      status: 'ok',
      data: okData(h.xfrmPolicies).filter((p) => !(p.dir === 'fwd' && p.src === '10.244.2.0/24')),
    },
  }));
  assert.deepEqual(walked(s), [
    'error node3: pod traffic from node2 stops at xfrm policy fwd: no xfrm policy fwd selects 10.244.2.2 -> 10.244.3.2: the kernel drops decrypted packets no policy admits',
  ]);
});

test('tunnel walk: UDPEncap SAs carry ESP in UDP 4500, which the receiving INPUT must accept', async () => {
  const encap = { type: 'espinudp', sport: 4500, dport: 4500 };
  const s0 = await readSnapshot(fixturePath('ipsec'));
  const hosts = Object.fromEntries(
    Object.entries(s0.hosts).map(([n, h]) => {
      assert.ok(h.status === 'ok');
      const states = okData(h.data.xfrmStates).map((x) => ({ ...x, encap }));
      return [n, { status: 'ok' as const, data: { ...h.data, xfrmStates: { status: 'ok' as const, data: states } } }];
    }),
  );
  const s1: Snapshot = { ...s0, hosts };
  assert.deepEqual(walked(s1), []);
  const h2 = hosts['node2']!.data;
  const fw = okData(h2.firewall);
  const dumps = fw.iptables.map((d) => {
    const filter = d.tables['filter'];
    if (!filter) return d;
    const rule = { chain: 'INPUT', spec: '-p udp -m udp --dport 4500 -j DROP' };
    return { ...d, tables: { ...d.tables, filter: { ...filter, rules: [rule, ...filter.rules] } } };
  });
  const s2: Snapshot = {
    ...s1,
    hosts: {
      ...hosts,
      node2: { status: 'ok', data: { ...h2, firewall: { status: 'ok', data: { ...fw, iptables: dumps } } } },
    },
  };
  const found = walked(s2);
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(
    found[0]!,
    /^error node2: pod traffic from 2 peers \(node1, node3\) stops at INPUT \(outer\): dropped in INPUT \(outer\) by iptables-\S+ filter INPUT: -A INPUT -p udp -m udp --dport 4500 -j DROP$/,
  );
});

test('tunnel walk: an IPsec node without a route to the peer podCIDR drops its pods packets before any xfrm policy', {
  skip: canSimulate() ? false : 'needs root to create network namespaces',
}, async () => {
  // Real kernel state: the simulated IPsec node has the default route a real node has, and loses it here, so the
  // kernel's own answers (ip route get … iif cni0) say "unreachable" while every policy and SA is in place.
  const c = new SimCluster('ipsec').build();
  try {
    c.ns(c.node('node1'), 'ip', 'route', 'del', 'default');
    const s = await c.snapshot('simulated ipsec cluster, node1 without its default route');
    const found = walked(s);
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(
      found[0]!,
      /^error node1: pod traffic to 2 peers \(node2, node3\) stops at route: the routing decision drops the packet \([^)]*unreachable[^)]*\): the kernel drops it before it looks up the xfrm policy$/i,
    );
    // trace agrees: it stops on node1 at the route lookup, and the way back (node2 -> node1) still has its route
    const t = trace(s, '10.244.1.2', '10.244.2.2');
    assert.notEqual(t.brokenAt, null);
    assert.equal(t.hops[t.brokenAt!]!.node, 'node1');
    assert.equal(t.hops[t.brokenAt!]!.step, 'route lookup');
    assert.equal(trace(s, '10.244.2.2', '10.244.3.2').brokenAt, null, 'node2 -> node3 is untouched');
  } finally {
    c.destroy();
  }
});
