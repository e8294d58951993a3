// A pod's host-side veth below FLANNEL_MTU behind a cni0 that keeps FLANNEL_MTU: what is left after an operator
// applies only cni0's fix by hand (a bridge whose MTU was set by hand no longer follows its narrowest port). Proven
// on the simulator's namespaces: a FLANNEL_MTU-sized DF ping into node2's pod dies at the veth (the bridge drops
// frames above a port's MTU, no ICMP), the port's size passes. Then the walk (pod-path alone) must break exactly the
// pairs into node2 at the veth, trace must stop at "cni0 -> pod" naming it, and doctor must report the veth once.
// The veth drops the pod's own FLANNEL_MTU packets on their way in as well (a veth checks the receiving end's MTU):
// proven the same way, and the walk and trace break those pairs at the veth too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { trace } from '../../src/analyzers/trace/trace.js';
import { canSimulate, SimCluster } from '../sim/cluster.js';

const skip = canSimulate() ? false : 'needs root to create network namespaces';

function arrives(from: { podNs: string }, to: { podIP: string }, size: number): boolean {
  const argv = ['netns', 'exec', from.podNs, 'ping', '-c', '1', '-W', '1', '-M', 'do', '-s', String(size - 28)];
  return spawnSync('ip', [...argv, to.podIP], { stdio: 'ignore' }).status === 0;
}

for (const backend of ['vxlan', 'host-gw'] as const) {
  test(`${backend}: a pod veth below FLANNEL_MTU behind a cni0 at FLANNEL_MTU is the hop that drops`, {
    skip,
  }, async () => {
    const c = new SimCluster(backend).build();
    try {
      const F = c.mtu;
      const low = F - 50;
      const node2 = c.node('node2');
      const veth = `veth${createHash('sha256').update(node2.podIP).digest('hex').slice(0, 8)}`;
      c.ns(node2, 'ip', 'link', 'set', veth, 'mtu', String(low));
      c.ns(node2, 'ip', 'link', 'set', 'cni0', 'mtu', String(F));
      for (const from of [c.node('node1'), c.node('node3')]) {
        assert.ok(arrives(from, node2, low) || arrives(from, node2, low), `${from.name} -> node2: ${low} bytes arrive`);
        assert.ok(!arrives(from, node2, F), `${from.name} -> node2: ${F} bytes die`);
        // the veth drops the pod's own FLANNEL_MTU packet on its way in too (the receiving end's MTU)
        assert.ok(arrives(node2, from, low) || arrives(node2, from, low), `node2 -> ${from.name}: ${low} bytes arrive`);
        assert.ok(!arrives(node2, from, F), `node2 -> ${from.name}: ${F} bytes die`);
      }
      const snap = await c.snapshot(`${backend}, node2's pod veth at ${low} behind cni0 at ${F}`);
      assert.deepEqual(
        analyze(snap).findings.map((f) => `${f.severity} ${f.check} ${f.node}: ${f.message}`),
        [
          `error mtu node2: pod veth ${veth} MTU ${low} is below FLANNEL_MTU ${F}: pod packets of ${low + 1}-${F} bytes toward its pod die at ${veth} on node2`,
        ],
      );
      const walk = analyze(snap, { only: ['pod-path'] }).findings;
      assert.deepEqual(
        walk.map((f) => `${f.node} ${f.message}`),
        [
          `node2 pod traffic from 2 peers (node1, node3) stops at ${veth}: packets of ${low + 1}-${F} bytes die at ${veth} (mtu ${low}) on node2`,
          `node2 pod traffic to 2 peers (node1, node3) stops at ${veth}: pod ${node2.podIP} (netns ${node2.podNs}) sends up to ${F} bytes (its eth0's MTU): packets of ${low + 1}-${F} bytes die at its host veth ${veth} (mtu ${low}) on node2`,
        ],
      );
      for (const from of ['node1', 'node3']) {
        const t = trace(snap, c.node(from).podIP, node2.podIP);
        assert.notEqual(t.brokenAt, null, `trace ${from} -> node2 stops`);
        const hop = t.hops[t.brokenAt!]!;
        assert.equal(`${hop.node} ${hop.step}`, 'node2 cni0 -> pod');
        assert.match(hop.note, new RegExp(`${veth} \\(mtu ${low}\\).*packets of ${low + 1}-${F} bytes die`));
        // the other way the pod's FLANNEL_MTU packet dies at the same veth, on its way in
        const back = trace(snap, node2.podIP, c.node(from).podIP);
        assert.notEqual(back.brokenAt, null, `trace node2 -> ${from} stops`);
        const first = back.hops[back.brokenAt!]!;
        assert.equal(`${first.node} ${first.step}`, 'node2 pod -> cni0');
        assert.match(first.note, new RegExp(`host veth ${veth} \\(mtu ${low}\\).*packets of ${low + 1}-${F} bytes`));
      }
    } finally {
      c.destroy();
    }
  });
}
