// The fixes doctor prints for the lab faults whose fix is not a command on the node that shows the fault (issue 9
// item 5): an operator runs them as printed, and test/e2e/faults.test.ts runs them so in the lab. Here, on the
// catalog's snapshots, each is exactly the one action that mends its cause: the uplink's MTU back on the node out of
// step (never lowering the others), the file's writer restarted (kube-flannel's install-cni, k3s), the ConfigMap
// put back to what every node runs (the patch applied to net-conf.json must give the running backend and keep the
// rest), and the underlay told exactly what to allow between which two addresses.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import type { Snapshot } from '../../src/snapshot/types.js';

const load = (p: string) => JSON.parse(readFileSync(`fixtures/snapshots/${p}.json`, 'utf8')) as Snapshot;
const fixesOf = (s: Snapshot, check: string) =>
  analyze(s)
    .findings.filter((f) => f.check === check)
    .map((f) => ({ node: f.node, peer: f.peer, fix: f.fix }));

test('mtu-underlay: every finding, on the node and on its peers, raises the node out of step; none lowers a peer', () => {
  const all = analyze(load('vxlan/mtu-underlay')).findings;
  assert.deepEqual(
    all.map((f) => [f.check, f.node, f.peer]),
    [
      ['mtu', 'node2', null],
      ['mtu', 'node2', null],
      ['mtu-mixed', 'node1', 'node2'],
      ['mtu-mixed', 'node3', 'node2'],
    ],
  );
  for (const f of all) assert.match(f.fix, /^On node2: ip link set eth0 mtu 1500 \([^()]*\)$/, `${f.check} ${f.node}`);
  assert.equal(
    all[0]?.fix,
    "On node2: ip link set eth0 mtu 1500 (FLANNEL_MTU 1450 plus the vxlan overhead 50, what the chain was built on; persist it in the node's network configuration. If the network cannot carry it, plan a smaller MTU instead: Backend.MTU in net-conf.json, restart the flannel pods, re-create the pods)",
  );
});

test('uplink-mtu-differs (one node raised to 9000): the fix still lowers that node, not the others', () => {
  const fixes = fixesOf(load('vxlan/uplink-mtu-differs'), 'mtu-mixed');
  assert.ok(fixes.length > 0);
  for (const f of fixes) assert.match(f.fix, new RegExp(`^On ${f.node}: ip link set eth0 mtu 1500 `));
});

test('cni-conf-removed: kube-flannel restarts the pod (install-cni rewrites the conflist); k3s restarts k3s', () => {
  const s = load('host-gw/cni-conf-removed');
  const h = s.hosts['node1'];
  assert.ok(h?.status === 'ok' && h.data.cni?.status === 'ok');
  // the simulator's nodes keep their files in a directory of their own: the fix names the node's directory
  const dir = h.data.cni.data.confDir;
  assert.deepEqual(fixesOf(s, 'cni-config'), [
    {
      node: 'node1',
      peer: null,
      fix: `Restart the flannel pod on node1: its install-cni init container writes ${dir}/10-flannel.conflist from kube-flannel-cfg's cni-conf.json (kubectl -n kube-flannel delete pod -l app=flannel --field-selector spec.nodeName=node1)`,
    },
  ]);
  const k3s = fixesOf(load('vxlan-k3s/k3s-cni-conf-removed'), 'cni-config');
  assert.equal(k3s.length, 1);
  assert.match(
    k3s[0]!.fix,
    /^On node2: systemctl restart k3s \(k3s-agent on an agent node; k3s writes \S+\/10-flannel\.conflist when it starts\)$/,
  );
});

/** The vxlan cluster after someone set net-conf.json's Backend to host-gw and restarted no flannel pod. */
function drifted(): Snapshot {
  const s = load('vxlan/healthy');
  const f = s.cluster.flannel;
  assert.ok(f.status === 'ok' && f.data.netConf.status === 'ok' && f.data.netConfRaw);
  const raw = JSON.parse(f.data.netConfRaw) as Record<string, unknown>;
  const netConfRaw = JSON.stringify({ ...raw, Backend: { Type: 'host-gw' } }, null, 2);
  const netConf = { status: 'ok' as const, data: { ...f.data.netConf.data, backend: { type: 'host-gw' as const } } };
  return { ...s, cluster: { ...s.cluster, flannel: { status: 'ok', data: { ...f.data, netConf, netConfRaw } } } };
}

test('netconf-drift: the ConfigMap patch puts back the backend every node runs and keeps the rest of net-conf.json', () => {
  const s = drifted();
  const fixes = fixesOf(s, 'backend-type-mismatch');
  assert.deepEqual(
    fixes.map((f) => f.node),
    ['node1', 'node2', 'node3'],
  );
  assert.equal(new Set(fixes.map((f) => f.fix)).size, 1, 'one cause, one fix');
  const m =
    /^In the cluster: kubectl -n kube-flannel patch configmap kube-flannel-cfg --type merge -p '([^']*)' \(/.exec(
      fixes[0]!.fix,
    );
  assert.ok(m, fixes[0]!.fix);
  const patch = JSON.parse(m[1]!) as { data: Record<string, string> };
  assert.deepEqual(Object.keys(patch.data), ['net-conf.json']);
  const f = s.cluster.flannel;
  assert.ok(f.status === 'ok' && f.data.netConfRaw);
  assert.deepEqual(JSON.parse(patch.data['net-conf.json']!), {
    ...(JSON.parse(f.data.netConfRaw) as object),
    Backend: { Type: 'vxlan' },
  });
  assert.match(
    fixes[0]!.fix,
    /; or, to move every node to host-gw instead, kubectl -n kube-flannel rollout restart daemonset\/kube-flannel-ds/,
  );
  // one node left behind (the others run the configured backend): restarting that node is the fix
  assert.deepEqual(fixesOf(load('vxlan/backend-type-mismatch'), 'backend-type-mismatch'), [
    {
      node: 'node2',
      peer: null,
      fix: 'Restart the flannel pod on node2 so it publishes the configured backend (kubectl -n kube-flannel delete pod -l app=flannel --field-selector spec.nodeName=node2).',
    },
  ]);
});

test('underlay-drop: the fix names what to allow (UDP port, or the podCIDRs routed) and between which addresses', () => {
  assert.deepEqual(fixesOf(load('vxlan/underlay-drops-vxlan'), 'underlay-probe'), [
    {
      node: 'node2',
      peer: 'node3',
      fix: 'Allow UDP port 8472 (vxlan) from node2 (192.168.56.12) to node3 (192.168.56.13) in the network between them (a security group, a host firewall between hypervisors, an NSX distributed firewall, a switch ACL), then re-run kubectl flannel doctor --probe.',
    },
  ]);
  // a bundle's samples name the same allow, with the addresses from the leases, so the lab and simulator run it too
  assert.deepEqual(fixesOf(load('vxlan/underlay-drops-vxlan-samples'), 'underlay-samples'), [
    {
      node: 'node2',
      peer: 'node3',
      fix: 'Allow UDP port 8472 (vxlan) from node2 (192.168.56.12) to node3 (192.168.56.13) in the network between them (a security group, a host firewall between hypervisors, an NSX distributed firewall, a switch ACL), then re-run kubectl flannel doctor --probe.',
    },
  ]);
  // host-gw: the routed pod packet, between the two podCIDRs as the nodes hold them
  const s = load('host-gw/healthy');
  const nodes = s.cluster.nodes;
  assert.ok(nodes.status === 'ok');
  const cidr = (n: string) => nodes.data.find((k) => k.name === n)?.podCIDRs[0];
  const ip = (n: string) => nodes.data.find((k) => k.name === n)?.internalIPs[0];
  const pair = (from: string, to: string, seen: number) => ({
    from,
    to,
    fromIP: ip(from)!,
    toIP: ip(to)!,
    sent: 2,
    seen,
    delivered: seen,
    deliveredOn: 'an echo reply',
    error: null,
  });
  const probed: Snapshot = {
    ...s,
    underlayProbe: {
      status: 'ok',
      data: {
        what: 'routed pod packets (host-gw)',
        sampled: false,
        pairs: [pair('node1', 'node2', 0), pair('node2', 'node1', 2)],
      },
    },
  };
  assert.deepEqual(fixesOf(probed, 'underlay-probe'), [
    {
      node: 'node1',
      peer: 'node2',
      fix: `Allow IP from ${cidr('node1')} to ${cidr('node2')} (pod packets routed by host-gw) on the way from node1 (${ip('node1')}) to node2 (${ip('node2')}) in the network between them (a security group, a host firewall between hypervisors, an NSX distributed firewall, a switch ACL), then re-run kubectl flannel doctor --probe.`,
    },
  ]);
});

test('k3s: a "restart the flannel pod" fix names the k3s service, the only thing that restarts its flanneld', () => {
  assert.deepEqual(fixesOf(load('vxlan-k3s/k3s-peer-route-deleted'), 'peer-routes'), [
    {
      node: 'node1',
      peer: 'node2',
      fix: 'On node1: systemctl restart k3s (k3s runs flanneld embedded; k3s-agent on an agent node), or by hand: ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
    },
  ]);
  // kube-flannel keeps the pod restart
  assert.match(fixesOf(load('vxlan/route-deleted'), 'peer-routes')[0]!.fix, /^Restart the flannel pod on node/);
});

test("a fix that deletes or reads the flannel pod names the node's own pod and flannel's namespace (Canal: kube-system)", () => {
  // vagrant-shared-nat-ip: every node published the same NAT address, so each has its own public-ip-not-local
  const kubeFlannel = fixesOf(load('vxlan/vagrant-shared-nat-ip'), 'public-ip-not-local');
  const pods = load('vxlan/vagrant-shared-nat-ip').cluster.flannelPods;
  assert.equal(pods.status, 'ok');
  assert.deepEqual(
    kubeFlannel.map((f) => /\(kubectl -n (\S+) delete pod (\S+)\)/.exec(f.fix)?.slice(1)),
    kubeFlannel.map((f) => ['kube-flannel', pods.data.find((p) => p.node === f.node)!.name]),
  );
  // Canal: the same fault on node1 of the Canal fixture (its annotation moved to an address no node has)
  const canal = load('vxlan-canal/healthy');
  assert.equal(canal.cluster.nodes.status, 'ok');
  const node1 = canal.cluster.nodes.data[0]!;
  (node1.flannelAnnotations as Record<string, string>)['public-ip'] = '192.168.56.99';
  assert.deepEqual(fixesOf(canal, 'public-ip-not-local'), [
    {
      node: 'node1',
      peer: null,
      fix: 'Restart the flannel pod on node1 so it re-reads its address (kubectl -n kube-system delete pod canal-ca12f); if node-public-ip is wrong, fix it: kubectl annotate node node1 --overwrite flannel.alpha.coreos.com/node-public-ip=<address>.',
    },
  ]);
});
