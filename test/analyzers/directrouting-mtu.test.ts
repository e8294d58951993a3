// vxlan DirectRouting between nodes of one subnet routes pod packets straight out of the uplink, without VXLAN's
// 50 bytes: uplinks lowered to FLANNEL_MTU (1450) still carry the largest pod packet between every pair. Proven on
// the simulator's real namespaces (DF pings of FLANNEL_MTU bytes pass every pair) before the analysis is asked: it
// must find nothing, where judging those pairs with the VXLAN overhead reports uplinks the packets never overflow.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { canSimulate, SimCluster } from '../sim/cluster.js';
import { assertHealthy } from './expectations.js';

const skip = canSimulate() ? false : 'needs root to create network namespaces';

/** Whether a DF packet of `size` bytes (IP header included) from `from`'s pod reaches `to`'s pod. */
function arrives(from: { podNs: string }, to: { podIP: string }, size: number): boolean {
  const argv = ['netns', 'exec', from.podNs, 'ping', '-c', '1', '-W', '1', '-M', 'do', '-s', String(size - 28)];
  return spawnSync('ip', [...argv, to.podIP], { stdio: 'ignore' }).status === 0;
}

test('vxlan DirectRouting: uplinks at FLANNEL_MTU carry every on-link pair, and nothing is reported', {
  skip,
}, async () => {
  const c = new SimCluster('vxlan-directrouting').build();
  try {
    const F = c.mtu;
    for (const n of c.nodes) c.ns(n, 'ip', 'link', 'set', 'eth0', 'mtu', String(F));
    for (const from of c.nodes)
      for (const to of c.nodes) {
        if (from === to) continue;
        // the first echo may wait for ARP longer than ping's 1 s
        const ok = arrives(from, to, F) || arrives(from, to, F) || arrives(from, to, F);
        assert.ok(ok, `${from.name} -> ${to.name}: a ${F}-byte DF packet arrives over the direct route`);
        assert.ok(!arrives(from, to, F + 1), `${from.name} -> ${to.name}: ${F + 1} bytes do not (the pod's eth0)`);
      }
    assertHealthy('vxlan-directrouting', await c.snapshot(`vxlan DirectRouting, every uplink at MTU ${F}`));
  } finally {
    c.destroy();
  }
});

test('vxlan DirectRouting: a receiver whose uplink is at FLANNEL_MTU takes the direct packet of a larger uplink', {
  skip,
}, async () => {
  const c = new SimCluster('vxlan-directrouting').build();
  try {
    const F = c.mtu;
    const [big, ...small] = c.nodes;
    for (const n of small) c.ns(n, 'ip', 'link', 'set', 'eth0', 'mtu', String(F));
    for (const to of small) {
      const ok = arrives(big!, to, F) || arrives(big!, to, F) || arrives(big!, to, F);
      assert.ok(ok, `${big!.name} -> ${to.name}: a ${F}-byte DF packet arrives over the direct route`);
    }
    const { findings } = analyze(await c.snapshot(`vxlan DirectRouting, uplinks at MTU ${F} but ${big!.name}'s`));
    // the host packets above the smaller uplinks are what breaks (mtu-mixed, one finding on the larger uplink's
    // node for both peers); no pod packet does, so pod-path has nothing to say
    assert.deepEqual(
      findings.map((f) => `${f.severity} ${f.check} ${f.node} ${f.peer ?? '-'}`),
      [`warning mtu-mixed ${big!.name} -`],
    );
  } finally {
    c.destroy();
  }
});
