// The podCIDR faults' printed fixes (issue 9 item 5): a podCIDR can be set on a Node only while it has none and never
// changed, so podcidr-unset prints the exact patch with a free range, and podcidr-overlap and
// podcidr-outside-network print the re-registration of the one Node whose range is wrong. test/e2e/faults.test.ts
// runs them in the lab; here, on the simulator's snapshots, each names the right range, node and steps, and parses
// into the actions the lab runs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { parsePrefix } from '../../src/net/cidr.js';
import { lowestFreeRange } from '../../src/net/free-range.js';
import type { Snapshot } from '../../src/snapshot/types.js';
import { fixActions } from '../catalog/fix-actions.js';

const load = (p: string) => JSON.parse(readFileSync(`fixtures/snapshots/${p}.json`, 'utf8')) as Snapshot;
const fixOf = (s: Snapshot, check: string) => {
  const fs = analyze(s).findings.filter((f) => f.check === check);
  assert.equal(fs.length, 1, `${check}: ${JSON.stringify(fs)}`);
  return fs[0]!;
};
const P = (t: string) => parsePrefix(t)!;
/** The snapshot with each Node's spec.podCIDRs as `cidrs` gives them. */
const withPodCIDRs = (s: Snapshot, cidrs: (node: string, now: readonly string[]) => string[]): Snapshot => {
  const nodes = s.cluster.nodes;
  assert.ok(nodes.status === 'ok');
  const data = nodes.data.map((n) => ({ ...n, podCIDRs: cidrs(n.name, n.podCIDRs) }));
  return { ...s, cluster: { ...s.cluster, nodes: { status: 'ok', data } } };
};

test('lowestFreeRange: the first range of the length that overlaps no taken one, of any length', () => {
  const net = P('10.244.0.0/16');
  assert.equal(lowestFreeRange(net, 24, [])?.text, '10.244.0.0/24');
  assert.equal(lowestFreeRange(net, 24, [P('10.244.0.0/24'), P('10.244.1.0/24')])?.text, '10.244.2.0/24');
  // a wider taken range covers several candidates; a range of another family or outside the Network does not count
  assert.equal(lowestFreeRange(net, 24, [P('10.244.0.0/23'), P('fd00::/64'), P('10.0.0.0/24')])?.text, '10.244.2.0/24');
  assert.equal(lowestFreeRange(P('10.244.0.0/23'), 24, [P('10.244.0.0/24'), P('10.244.1.0/24')]), null);
  assert.equal(lowestFreeRange(P('fd00:10:244::/56'), 64, [P('fd00:10:244::/64')])?.text, 'fd00:10:244:1::/64');
  assert.equal(lowestFreeRange(net, 15, []), null, 'a range wider than the Network');
});

test('podcidr-unset: the patch gives the range the node still holds when it is free, else the lowest free one', () => {
  const s = load('host-gw/podcidr-unset');
  const f = fixOf(s, 'podcidr-unset');
  const patch = `kubectl patch node node2 --type merge -p '{"spec":{"podCIDR":"10.244.2.0/24","podCIDRs":["10.244.2.0/24"]}}'`;
  assert.match(
    f.fix,
    /^In the cluster: kubectl patch node node2 .*, then restart the flannel pod on node2 \(10\.244\.2\.0\/24: the range its subnet\.env still holds/,
  );
  assert.deepEqual(fixActions(f.fix), [{ kubectl: patch }, { node: 'node2', restart: true }]);
  // without subnet.env (a new node, flanneld never ran): the lowest range no Node has; node1 and node3 hold .1 and .3
  const h = s.hosts['node2'];
  assert.ok(h?.status === 'ok');
  const fresh: Snapshot = {
    ...s,
    hosts: { ...s.hosts, node2: { ...h, data: { ...h.data, subnetEnv: { status: 'ok', data: null } } } },
  };
  const g = fixOf(fresh, 'podcidr-unset');
  assert.match(g.fix, /"podCIDR":"10\.244\.0\.0\/24","podCIDRs":\["10\.244\.0\.0\/24"\]/);
  assert.match(g.fix, /10\.244\.0\.0\/24: the lowest range of Network 10\.244\.0\.0\/16 no Node has/);
  // the range the node held is taken by another Node meanwhile: not given twice
  const nodes = s.cluster.nodes;
  assert.ok(nodes.status === 'ok');
  const taken: Snapshot = {
    ...s,
    cluster: {
      ...s.cluster,
      nodes: {
        status: 'ok',
        data: nodes.data.map((n) => (n.name === 'node1' ? { ...n, podCIDRs: ['10.244.2.0/24'] } : n)),
      },
    },
  };
  const u = analyze(taken).findings.find((x) => x.check === 'podcidr-unset');
  assert.match(u?.fix ?? '', /"podCIDR":"10\.244\.0\.0\/24"/);
});

test('podcidr-unset: a crash-looping flannel pod whose log says so is restarted once the Node has its range', () => {
  const s = load('host-gw/podcidr-unset');
  const pods = s.cluster.flannelPods;
  assert.ok(pods.status === 'ok');
  const crashing: Snapshot = {
    ...s,
    cluster: {
      ...s.cluster,
      flannelPods: {
        status: 'ok',
        data: pods.data.map((p) =>
          p.node === 'node2'
            ? {
                ...p,
                ready: false,
                waitingReason: 'CrashLoopBackOff',
                logTail: [
                  'E1202 main.go:384] Error registering network: failed to acquire lease: node "node2" pod cidr not assigned',
                ],
              }
            : p,
        ),
      },
    },
  };
  const f = fixOf(crashing, 'flannel-pod-unhealthy');
  assert.deepEqual(fixActions(f.fix), [{ node: 'node2', restart: true }]);
});

test('podcidr-overlap: the node whose pods do not live in the shared range is registered again; the others replay', () => {
  const s = load('host-gw/podcidr-overlap');
  const f = fixOf(s, 'podcidr-overlap');
  // node3 holds node2's 10.244.2.0/24 but its cni0 is still 10.244.3.1/24
  assert.deepEqual([f.node, f.peer], ['node3', 'node2']);
  assert.match(
    f.fix,
    /\(node2 keeps 10\.244\.2\.0\/24, where its pods live; node3's cni0, 10\.244\.3\.1\/24, is not in it;/,
  );
  assert.deepEqual(fixActions(f.fix), [
    {
      kubectl: 'kubectl drain node3 --ignore-daemonsets --delete-emptydir-data --force && kubectl delete node node3',
    },
    { node: 'node3', kubelet: true },
    { node: 'node3', command: 'ip link delete cni0' },
    { node: 'node3', restart: true },
    { node: 'node1', restart: true },
  ]);
  // the other way round: the earlier node is the one out of its range, and it is the one that moves
  const swapped = withPodCIDRs(s, (name, now) => (name === 'node2' || name === 'node3' ? ['10.244.3.0/24'] : [...now]));
  const g = fixOf(swapped, 'podcidr-overlap');
  // reported on the node that moves, naming the one that keeps the range
  assert.deepEqual([g.node, g.peer], ['node2', 'node3']);
  assert.match(
    g.fix,
    /^In the cluster: kubectl drain node2 .*\(node3 keeps 10\.244\.3\.0\/24, where its pods live; node2's cni0/,
  );
});

test('podcidr-outside-network: one node outside is registered again; every node outside means the Network is wrong', () => {
  const s = load('vxlan/podcidr-outside-network');
  const f = fixOf(s, 'podcidr-outside-network');
  assert.deepEqual(fixActions(f.fix), [
    {
      kubectl: 'kubectl drain node3 --ignore-daemonsets --delete-emptydir-data --force && kubectl delete node node3',
    },
    { node: 'node3', kubelet: true },
    { node: 'node3', command: 'ip link delete cni0' },
    { node: 'node3', restart: true },
  ]);
  const all = withPodCIDRs(s, (_, now) => [now[0]!.replace('10.244.', '10.224.')]);
  const every = analyze(all).findings.filter((x) => x.check === 'podcidr-outside-network');
  assert.equal(every.length, 3);
  for (const x of every)
    assert.match(
      x.fix,
      /^Make kube-flannel-cfg net-conf\.json Network equal the cluster CIDR .*rollout restart ds\/kube-flannel-ds\.$/,
    );
});
