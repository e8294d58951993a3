// The pods' own eth0, read by the real collector inside real pod network namespaces, matched to the host veths of
// the node that holds them, and the kernel's verdict on the sizes the model derives from them. Needs root (it
// creates network namespaces, named ones under /var/run/netns as containerd does); skipped otherwise.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import check from '../../src/analyzers/checks/pod-eth0-mtu.js';
import { podEndsOf } from '../../src/analyzers/pod-ends.js';
import { collectHost } from '../../src/collectors/node/host.js';
import { localRunner } from '../../src/collectors/node/local.js';
import { parsePodInterfaces } from '../../src/parse/pod-netns.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';

const sh = (...argv: string[]): string => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });

/**
 * node: cni0 10.244.1.1/24 with two pods' veths (pod a's eth0 raised to 1500 above its veth's 1450, pod b's equal),
 * and a veth into a namespace that is no pod (a port of nothing); `foreign` is linked to nothing of the node.
 */
function build(p: string) {
  const ns = { node: `${p}n`, a: `${p}a`, b: `${p}b`, tool: `${p}t`, foreign: `${p}f` };
  for (const n of Object.values(ns)) sh('ip', 'netns', 'add', n);
  const node = (...argv: string[]) => sh('ip', '-n', ns.node, ...argv);
  node('link', 'add', 'cni0', 'mtu', '1450', 'type', 'bridge');
  node('addr', 'add', '10.244.1.1/24', 'dev', 'cni0');
  node('link', 'set', 'cni0', 'up');
  for (const [pod, veth, ip, mtu] of [
    [ns.a, `veth${p}a`, '10.244.1.2', '1500'],
    [ns.b, `veth${p}b`, '10.244.1.3', '1450'],
  ] as const) {
    node('link', 'add', veth, 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
    node('link', 'set', veth, 'master', 'cni0', 'up');
    sh('ip', '-n', pod, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
    sh('ip', '-n', pod, 'link', 'set', 'eth0', 'mtu', mtu, 'up');
    sh('ip', '-n', pod, 'route', 'add', 'default', 'via', '10.244.1.1');
  }
  node('link', 'add', `tl${p}`, 'mtu', '9000', 'type', 'veth', 'peer', 'name', 'x0', 'netns', ns.tool);
  return {
    ns,
    destroy: () => {
      for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n]);
    },
  };
}

/** A DF echo of `bytes` (the IP packet) from the pod's netns to cni0's address: does it come back? */
function echoes(pod: string, bytes: number): boolean {
  const argv = ['netns', 'exec', pod, 'ping', '-c', '1', '-W', '1', '-M', 'do', '-s', String(bytes - 28), '10.244.1.1'];
  return spawnSync('ip', argv, { stdio: 'ignore' }).status === 0;
}

test('pod interfaces: collected in each pod netns, matched to their own host veth, and the kernel agrees', {
  skip,
}, async (t) => {
  const p = `kfi${randomBytes(2).toString('hex')}`;
  const lab = build(p);
  t.after(lab.destroy);
  const host = await collectHost('node-1', localRunner({ netns: lab.ns.node }), { keepKeys: false, peerAddresses: [] });
  assert.equal(host.podInterfaces?.status, 'ok', JSON.stringify(host.podInterfaces));
  const read = host.podInterfaces?.status === 'ok' ? host.podInterfaces.data : [];
  // the node's namespace has ids for the namespaces its veths lead to, and none for the foreign one
  const seen = new Set(read.map((x) => x.netns));
  assert.ok(seen.has(`/var/run/netns/${lab.ns.a}`) && seen.has(`/var/run/netns/${lab.ns.b}`), [...seen].join(' '));
  assert.ok(!seen.has(`/var/run/netns/${lab.ns.foreign}`), 'a namespace with no link to the node was entered');

  // each pod to its own veth; the tool namespace's veth is no cni0 port, so it is no pod's
  const ends = podEndsOf(host).map((e) => `${e.pod.netns} ${e.pod.name} ${e.pod.mtu} ${e.veth.name} ${e.veth.mtu}`);
  assert.deepEqual(ends.sort(), [
    `/var/run/netns/${lab.ns.a} eth0 1500 veth${p}a 1450`,
    `/var/run/netns/${lab.ns.b} eth0 1450 veth${p}b 1450`,
  ]);

  // the model: pod a's packets of 1451-1500 bytes die at its veth; pod b's largest arrives. The kernel:
  assert.ok(echoes(lab.ns.a, 1450), "pod a's 1450-byte echo fits its veth");
  assert.ok(!echoes(lab.ns.a, 1500), "pod a's 1500-byte echo passes its eth0 and should die at its veth");
  assert.ok(echoes(lab.ns.b, 1450), "pod b's 1450-byte echo fits");

  // and the check names exactly pod a, with a fix that mends it on this node
  const reports: { node: string; message: string; fix?: string }[] = [];
  assert.equal(check.scope, 'node');
  if (check.scope !== 'node') return;
  const ctx = { node: { name: 'node-1', host } } as unknown as Parameters<typeof check.runNode>[0];
  check.runNode({ ...ctx, host } as typeof ctx, (r) => void reports.push(r as (typeof reports)[number]));
  assert.equal(reports.length, 1, JSON.stringify(reports));
  assert.match(reports[0]!.message, /^pod 10\.244\.1\.2 \(netns kfi\w+a\): eth0 MTU 1500 is above its host veth/);
  const fix = reports[0]!.fix!.replace(/^On node-1: /, '');
  sh('ip', 'netns', 'exec', lab.ns.node, 'sh', '-c', fix);
  assert.ok(echoes(lab.ns.a, 1450), 'after the fix pod a sends at most 1450 bytes, and they arrive');
  assert.ok(!echoes(lab.ns.a, 1451), 'after the fix pod a no longer sends what its veth drops');
});

test('pod interfaces: what the node cannot read is left out, not called empty', () => {
  assert.equal(parsePodInterfaces('#absent-netns /var/run/netns\n').value, null);
  assert.equal(parsePodInterfaces('#unlisted-netns ip: unknown command "netns"\n').value, null);
  // every namespace refused nsenter (no CAP_SYS_ADMIN): nothing was read
  const denied =
    "@@netns /var/run/netns/cni-1 0\nnsenter: reassociate to namespace 'ns/net' failed: Operation not permitted\n";
  assert.equal(parsePodInterfaces(denied).value, null);
  // a node without pods
  assert.deepEqual(parsePodInterfaces('').value, []);
  // one pod went away between the listing and nsenter; the other is read, from ip's text form too
  const text = [
    '@@netns /var/run/netns/cni-gone 0',
    'nsenter: cannot open /var/run/netns/cni-gone: No such file or directory',
    '@@netns /var/run/netns/cni-2 3',
    '2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default',
    '    link/ether 0a:58:0a:f4:01:05 brd ff:ff:ff:ff:ff:ff link-netnsid 0',
    '    inet 10.244.1.5/24 brd 10.244.1.255 scope global eth0',
  ].join('\n');
  const r = parsePodInterfaces(text);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.value, [
    {
      netns: '/var/run/netns/cni-2',
      nsid: 3,
      name: 'eth0',
      ifindex: 2,
      peerIfindex: 7,
      mtu: 1450,
      operstate: 'UP',
      addresses: [{ family: 'inet', local: '10.244.1.5', prefixlen: 24, scope: 'global' }],
    },
  ]);
});
