// The same expectations on freshly built network namespaces, so the checks are tested against
// the kernel and collector of this run, not only against saved output. Needs root.
// A fault that declares the pod traffic it breaks is first proven to break it: a ping between
// the two pods passes on the healthy cluster and fails once the fault is applied.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { canSimulate, SIM_BACKENDS, SimCluster } from '../sim/cluster.js';
import { type Breaks, FAULTS } from '../sim/faults.js';
import { runScenario } from '../sim/scenario.js';
import { assertFault, assertHealthy } from './expectations.js';

const skip = canSimulate() ? false : 'needs root to create network namespaces';

/** Address `host` of the IPv4 podCIDR whose network is `podNet` (a.b.c.0 of a /24). */
const hostOf = (podNet: string, host: number): string => podNet.replace(/\.0$/, `.${host}`);

/**
 * A break toward another address of the destination's podCIDR than its pod's: the pod holds that address too (a
 * second pod on the same node takes the same route and bridge), so the ping before the fault proves it reachable.
 */
function addTargets(c: SimCluster, breaks: readonly Breaks[]): void {
  for (const b of breaks) {
    if (!b.toHost) continue;
    const to = c.node(b.to);
    const argv = ['netns', 'exec', to.podNs, 'ip', 'addr', 'add', `${hostOf(to.podNet, b.toHost)}/24`, 'dev', 'eth0'];
    assert.equal(spawnSync('ip', argv, { stdio: 'ignore' }).status, 0, `ip ${argv.join(' ')}`);
  }
}

function pings(c: SimCluster, b: Breaks): boolean {
  const from = c.node(b.from);
  const to = c.node(b.to);
  const argv = [
    'netns',
    'exec',
    from.podNs,
    'ping',
    '-c',
    '1',
    '-W',
    '1',
    '-M',
    'do',
    '-s',
    String(b.size ?? 56),
    // the simulator gives each pod the second address of its node's IPv6 podCIDR (cni0 holds the first)
    b.ipv6 ? `${to.podNet6}2` : b.toHost ? hostOf(to.podNet, b.toHost) : to.podIP,
  ];
  return spawnSync('ip', argv, { stdio: 'ignore' }).status === 0;
}

for (const backend of SIM_BACKENDS) {
  test(`live: healthy ${backend} cluster gives no findings`, { skip }, async () => {
    assertHealthy(backend, await runScenario(backend));
  });
}

for (const fault of FAULTS) {
  test(`live: ${fault.backend} ${fault.id} is found`, { skip }, async () => {
    if (!fault.breaks) return assertFault(fault, await runScenario(fault.backend, fault));
    const c = new SimCluster(fault.backend).build();
    try {
      addTargets(c, fault.breaks);
      // a fresh cluster's first IPv6 echo can wait for neighbour discovery longer than ping's 1 s: three tries
      for (const b of fault.breaks)
        assert.ok(
          pings(c, b) || pings(c, b) || pings(c, b),
          `${fault.id}: ${b.from} -> ${b.to} works before the fault`,
        );
      fault.apply(c);
      for (const b of fault.breaks) assert.ok(!pings(c, b), `${fault.id}: ${b.from} -> ${b.to} is broken by the fault`);
      assertFault(fault, await c.snapshot(`simulated ${fault.backend} cluster, fault ${fault.id}`));
    } finally {
      c.destroy();
    }
  });
}
