// A pod's own eth0 out of step with its host veth, on the healthy vxlan fixture's real collected state with that one
// MTU changed (the simulator proves the kernel's side: pod-eth0-mtu-low in the catalog, and the lab's
// pod-eth0-mtu-high with real flanneld; test/collectors/pod-interfaces-live.test.ts on fresh namespaces).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { trace } from '../../src/analyzers/trace/trace.js';
import type { Snapshot } from '../../src/snapshot/types.js';

const healthy = (): Snapshot => JSON.parse(readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8')) as Snapshot;

/** The fixture with node2's pod's eth0 at `mtu`; its host veth keeps FLANNEL_MTU 1450. */
function withEth0(mtu: number): { snap: Snapshot; pod: string; veth: string; netns: string } {
  const snap = healthy();
  const host = snap.hosts.node2;
  assert.ok(host?.status === 'ok' && host.data.podInterfaces?.status === 'ok', 'the fixture holds node2 pod ends');
  const ends = host.data.podInterfaces.data as unknown as {
    mtu: number;
    netns: string;
    addresses: { local: string }[];
    peerIfindex: number;
  }[];
  const eth0 = ends.find((e) => e.addresses.some((a) => a.local === '10.244.2.2'));
  assert.ok(eth0, "node2's pod end");
  eth0.mtu = mtu;
  const links = host.data.links.status === 'ok' ? host.data.links.data : [];
  const veth = links.find((l) => l.ifindex === eth0.peerIfindex)?.name;
  assert.ok(veth && links.find((l) => l.name === veth)?.mtu === 1450, 'its host veth at 1450');
  return { snap, pod: '10.244.2.2', veth, netns: eth0.netns };
}

test('healthy: every pod end matches its veth, and nothing is reported', () => {
  const snap = healthy();
  assert.deepEqual(analyze(snap).findings, []);
  for (const n of ['node1', 'node2', 'node3']) {
    const h = snap.hosts[n];
    assert.ok(h?.status === 'ok' && h.data.podInterfaces?.status === 'ok' && h.data.podInterfaces.data.length > 0, n);
  }
});

test('eth0 above its veth: one pod-eth0-mtu finding, the walk breaks its pod traffic out, trace stops at the veth', () => {
  const { snap, pod, veth, netns } = withEth0(1500);
  assert.deepEqual(
    analyze(snap).findings.map((f) => `${f.severity} ${f.check} ${f.node} ${f.fix}`),
    [`error pod-eth0-mtu node2 On node2: nsenter --net=${netns} ip link set dev eth0 mtu 1450`],
  );
  const walk = analyze(snap, { only: ['pod-path'] }).findings.map((f) => `${f.node} ${f.message}`);
  assert.equal(walk.length, 1, walk.join('\n'));
  assert.match(
    walk[0]!,
    new RegExp(
      `^node2 pod traffic to 2 peers \\(node1, node3\\) stops at ${veth}: pod ${pod} .* sends up to 1500 bytes .*packets of 1451-1500 bytes die at its host veth ${veth} \\(mtu 1450\\)`,
    ),
  );
  for (const to of ['10.244.1.2', '10.244.3.2']) {
    const t = trace(snap, pod, to);
    assert.equal(
      t.brokenAt !== null ? `${t.hops[t.brokenAt]!.node} ${t.hops[t.brokenAt]!.step}` : null,
      'node2 pod -> cni0',
    );
    // toward the pod, senders send FLANNEL_MTU, which its eth0 takes
    assert.equal(trace(snap, to, pod).brokenAt, null, `${to} -> ${pod} arrives`);
  }
});

test('eth0 below its veth: the walk breaks pod traffic into it at its eth0, trace stops at "cni0 -> pod"', () => {
  const { snap, pod } = withEth0(1400);
  assert.deepEqual(
    analyze(snap).findings.map((f) => `${f.severity} ${f.check} ${f.node}`),
    ['error pod-eth0-mtu node2'],
  );
  const walk = analyze(snap, { only: ['pod-path'] }).findings.map((f) => `${f.node} ${f.message}`);
  assert.deepEqual(walk.length, 1, walk.join('\n'));
  assert.match(
    walk[0]!,
    new RegExp(
      `^node2 pod traffic from 2 peers \\(node1, node3\\) stops at eth0 of pod ${pod} .*packets of 1401-1450 bytes die`,
    ),
  );
  const t = trace(snap, '10.244.1.2', pod);
  assert.equal(
    t.brokenAt !== null ? `${t.hops[t.brokenAt]!.node} ${t.hops[t.brokenAt]!.step}` : null,
    'node2 cni0 -> pod',
  );
  assert.equal(trace(snap, pod, '10.244.1.2').brokenAt, null, 'the pod sends 1400 bytes, which arrive');
});
