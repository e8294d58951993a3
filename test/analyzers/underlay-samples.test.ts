/**
 * underlay-samples on real packets: a simulated cluster (network namespaces on an underlay bridge, the netlink
 * objects flanneld makes), real pings between its pods, real tcpdump on every node's uplink (filtered as bundle
 * filters it) and flannel device, read back and tallied as bundle tallies them. Faults are made where they happen:
 * an nft bridge filter on the underlay bridge (a security group), an nft netdev ingress drop on the receiving node,
 * and an nft raw payload write on the bridge that changes the outer TTL without fixing the IPv4 checksum.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_SENT } from '../../src/analyzers/checks/underlay-samples.js';
import { analyze } from '../../src/analyzers/run.js';
import type { SampleRole } from '../../src/capture/sample-tally.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import type { SampleSource, Snapshot, UnderlaySamples } from '../../src/snapshot/types.js';
import { canSimulate, type SimBackend, SimCluster, sh } from '../sim/cluster.js';
import { RING, sampleCluster } from '../sim/samples.js';

const skip = canSimulate() ? false : 'needs root to create network namespaces';

function findings(snapshot: Snapshot, samples: UnderlaySamples): string[] {
  return analyze({ ...snapshot, underlaySamples: { status: 'ok', data: samples } }).findings.map(
    (f) => `${f.check} ${f.severity} ${f.node} ${f.peer}: ${f.message}`,
  );
}

function packetsOf(s: UnderlaySamples, node: string, role: SampleRole, from: string, to: string): number {
  const src = s.sources.find((x) => x.node === node && x.role === role)!;
  return src.flows.filter((f) => f.from === from && f.to === to).reduce((n, f) => n + f.times.length, 0);
}

const ALL_PAIRS = RING;

async function withCluster(backend: SimBackend, f: (c: SimCluster, s: Snapshot) => Promise<void>): Promise<void> {
  const c = new SimCluster(backend).build();
  try {
    await f(c, await c.snapshot());
  } finally {
    c.destroy();
  }
}

/** An nft table in the underlay's namespace: the bridge between the nodes, where no node sees it. */
function onBridge(c: SimCluster, rule: string): void {
  sh('ip', 'netns', 'exec', c.sw, 'nft', 'add', 'table', 'bridge', 'kfls');
  sh(
    'ip',
    'netns',
    'exec',
    c.sw,
    'nft',
    'add',
    'chain',
    'bridge',
    'kfls',
    'filter_fwd',
    '{ type filter hook forward priority 0; }',
  );
  sh('ip', 'netns', 'exec', c.sw, 'nft', `add rule bridge kfls filter_fwd ${rule}`);
}

for (const backend of ['vxlan', 'host-gw'] as const) {
  test(`${backend}: pod traffic on a healthy cluster gives no finding, and the samples hold it`, { skip }, () =>
    withCluster(backend, async (c, snapshot) => {
      const s = await sampleCluster(c, snapshot, ALL_PAIRS);
      assert.deepEqual(findings(snapshot, s), []);
      // Not vacuous: each request crossed the underlay and was seen on both uplinks.
      for (const [from, to] of ALL_PAIRS) {
        assert.ok(packetsOf(s, from, 'uplink', from, to) >= 12, `${from} -> ${to} sent`);
        assert.ok(packetsOf(s, to, 'uplink', from, to) >= 12, `${from} -> ${to} arrived`);
      }
    }),
  );

  test(`${backend}: the underlay bridge drops node1 -> node2: that pair and direction, nothing else`, { skip }, () =>
    withCluster(backend, async (c, snapshot) => {
      const match = backend === 'vxlan' ? 'udp dport 8472' : 'ip daddr 10.244.2.0/24';
      onBridge(c, `iifname "e1" oifname "e2" ${match} drop`);
      const s = await sampleCluster(c, snapshot, ALL_PAIRS);
      const got = findings(snapshot, s);
      assert.equal(got.length, 1, got.join('\n'));
      assert.match(
        got[0]!,
        /^underlay-samples error node1 node2: the underlay drops .* from node1 to node2: \d+ packets left node1 for node2 during node2's capture and none arrived$/,
      );
    }),
  );
}

test('vxlan: node3 drops node2 -> node3 on arrival (nft netdev ingress): named on node3, toward node2', { skip }, () =>
  withCluster('vxlan', async (c, snapshot) => {
    const n3 = c.node('node3');
    c.ns(n3, 'nft', 'add', 'table', 'netdev', 'kfla');
    c.ns(
      n3,
      'nft',
      'add',
      'chain',
      'netdev',
      'kfla',
      'arrival',
      '{ type filter hook ingress device eth0 priority 0; }',
    );
    c.ns(n3, 'nft', `add rule netdev kfla arrival ip saddr ${c.node('node2').ip} udp dport 8472 drop`);
    const s = await sampleCluster(c, snapshot, ALL_PAIRS);
    assert.deepEqual(findings(snapshot, s), [
      "underlay-samples error node3 node2: UDP 8472 (vxlan) from node2 arrives on node3's uplink but never reaches flannel.1: node3 drops it on arrival, below its routing tables",
    ]);
  }),
);

test(
  'vxlan: packets corrupted on the way to node3 (outer IPv4 checksum) are reported on node3 with the header',
  { skip },
  () =>
    withCluster('vxlan', async (c, snapshot) => {
      // A raw payload write on the bridge's port toward node3: nft fixes no checksum for it, as a corrupting link
      // would not. (In the bridge's forward hook the same write makes the kernel drop the packet.)
      const x = (...argv: string[]) => sh('ip', 'netns', 'exec', c.sw, 'nft', ...argv);
      x('add', 'table', 'netdev', 'kflc');
      x('add', 'chain', 'netdev', 'kflc', 'out', '{ type filter hook egress device "e3" priority 0; }');
      x(`add rule netdev kflc out ip saddr ${c.node('node1').ip} udp dport 8472 @nh,64,8 set 7`);
      const s = await sampleCluster(c, snapshot, ALL_PAIRS);
      const got = findings(snapshot, s);
      assert.equal(got.length, 1, got.join('\n'));
      assert.match(
        got[0]!,
        /^underlay-samples error node3 node1: \d+ of \d+ encapsulated packets from node1 arrived on node3's eth0 with a wrong checksum: the kernel drops them$/,
      );
      const flow = s.sources
        .find((x) => x.node === 'node3' && x.role === 'uplink')!
        .flows.find((f) => f.from === 'node1' && f.badChecksums > 0)!;
      assert.equal(flow.badChecksums, flow.times.length, 'every packet from node1 was corrupted');
      assert.match(
        flow.badChecksumExample ?? '',
        /^outer IPv4 header checksum 0x[0-9a-f]{4}, should be 0x[0-9a-f]{4} \(packet at /,
      );
    }),
);

test('dual-stack vxlan: IPv6-only pod traffic on a healthy cluster gives no samples finding', { skip }, () =>
  withCluster('vxlan-dualstack', async (c, snapshot) => {
    // IPv6 only: its VXLAN ends on flannel-v6.1, so flannel.1 sees nothing of it and must not be read as a loss.
    const s = await sampleCluster(c, snapshot, ALL_PAIRS, [6]);
    // Other checks' findings on this backend are the fixtures' business (an mtu info is expected there).
    assert.deepEqual(
      findings(snapshot, s).filter((f) => f.startsWith('underlay-samples')),
      [],
    );
    // Not vacuous: IPv6 encapsulated packets were sent and arrived, and never reach flannel.1 (they use flannel-v6.1).
    const v6 = (node: string, from: string, to: string) =>
      s.sources
        .find((x) => x.node === node && x.role === 'uplink')!
        .flows.filter((f) => f.from === from && f.to === to && f.family === 6)
        .reduce((n, f) => n + f.times.length, 0);
    for (const [from, to] of ALL_PAIRS) assert.ok(v6(to, from, to) >= 12, `${from} -> ${to} over IPv6 arrived`);
  }),
);

// The conditions, on the real capture of the sim fault underlay-drops-vxlan-samples (node2 -> node3 dropped): each
// one taken away in turn must silence the finding, so the check concludes only from evidence.
test('the samples conclude only from evidence: a receiver that dropped, a window that misses, too few packets', async () => {
  const fixture = await readSnapshot('fixtures/snapshots/vxlan/underlay-drops-vxlan-samples.json');
  const u = fixture.underlaySamples;
  assert.ok(u?.status === 'ok');
  if (u?.status !== 'ok') return;
  const edit = (f: (s: SampleSource) => SampleSource): string[] =>
    findings(fixture, { ...u.data, sources: u.data.sources.map(f) });
  const node3 = (s: SampleSource) => s.node === 'node3' && s.role === 'uplink';
  const node2 = (s: SampleSource) => s.node === 'node2' && s.role === 'uplink';
  assert.equal(edit((s) => s).length, 1, 'the fixture has its finding');
  assert.deepEqual(
    edit((s) => (node3(s) ? { ...s, droppedByKernel: 3 } : s)),
    [],
    'kernel drops on the receiver',
  );
  assert.deepEqual(
    edit((s) => (node3(s) ? { ...s, droppedByKernel: null } : s)),
    [],
    'drops unknown',
  );
  assert.deepEqual(
    edit((s) => (node3(s) ? { ...s, error: 'exec failed: EOF' } : s)),
    [],
    'the capture failed',
  );
  assert.deepEqual(
    edit((s) => (node3(s) ? { ...s, listeningMs: null } : s)),
    [],
    'never listened',
  );
  const last = Math.max(...u.data.sources.find(node2)!.flows.flatMap((f) => f.times));
  assert.deepEqual(
    edit((s) => (node3(s) ? { ...s, listeningMs: last } : s)),
    [],
    'listening only after the packets',
  );
  assert.deepEqual(
    edit((s) => (node3(s) ? { ...s, cappedAtMs: last - 60_000 } : s)),
    [],
    'capped before them',
  );
  assert.deepEqual(
    edit((s) =>
      node2(s)
        ? { ...s, flows: s.flows.map((f) => (f.to === 'node3' ? { ...f, times: f.times.slice(0, MIN_SENT - 1) } : f)) }
        : s,
    ),
    [],
    'fewer packets than the minimum',
  );
  assert.deepEqual(
    findings(fixture, { ...u.data, sources: u.data.sources.filter((s) => !node3(s)) }),
    [],
    'node3 not sampled',
  );
});

test(
  'dual-stack vxlan: node3 drops IPv6 VXLAN from node2 on arrival: named for IPv6 and flannel-v6.1 only',
  { skip },
  () =>
    withCluster('vxlan-dualstack', async (c, snapshot) => {
      const n3 = c.node('node3');
      c.ns(n3, 'nft', 'add', 'table', 'netdev', 'kfla6');
      c.ns(
        n3,
        'nft',
        'add',
        'chain',
        'netdev',
        'kfla6',
        'arrival',
        '{ type filter hook ingress device eth0 priority 0; }',
      );
      c.ns(n3, 'nft', `add rule netdev kfla6 arrival ip6 saddr ${c.node('node2').ip6} udp dport 8472 drop`);
      const s = await sampleCluster(c, snapshot, ALL_PAIRS);
      assert.deepEqual(
        findings(snapshot, s).filter((f) => f.startsWith('underlay-samples')),
        [
          "underlay-samples error node3 node2: UDP 8472 (vxlan) over IPv6 from node2 arrives on node3's uplink but never reaches flannel-v6.1: node3 drops it on arrival, below its routing tables",
        ],
      );
    }),
);
