/**
 * A healthy lab, whatever backend it was started with: pods on different nodes reach each other through the real
 * CNI plugins and the real flanneld datapath, the traffic on the underlay is what the backend must produce, the
 * node-local state is per node, kubectl reaches into nodes through KWOK, the plugin runs through kubectl's plugin
 * lookup, and doctor reports nothing at any severity.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Snapshot } from '../../src/snapshot/types.js';
import { doctor, inNode, kubectl, kubectlJSON, labCmd, labEnv, ping, requireLab, run, testPods } from './lab.js';

/** Captures up to `count` packets matching `filter` on the lab bridge while `act` runs. */
async function capture(bridge: string, filter: string, count: number, act: () => void): Promise<string> {
  const p = spawn('timeout', ['8', 'tcpdump', '-l', '-n', '-i', bridge, '-c', String(count), filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const done = new Promise<void>((resolve) => p.on('close', () => resolve()));
  await new Promise((r) => setTimeout(r, 1000)); // let tcpdump open the socket
  act();
  await done;
  return out;
}

test('pods on different nodes reach each other (every ordered pair)', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const pods = testPods(lab);
  assert.ok(new Set(pods.map((p) => p.node)).size >= 2, 'the lab needs test pods on at least two nodes');
  for (const a of pods)
    for (const b of pods) {
      if (a === b) continue;
      assert.ok(
        ping(a, b),
        `${a.name}@${a.node} (${a.ip}) cannot reach ${b.name}@${b.node} (${b.ip}) over ${lab.backend}`,
      );
    }
});

test("every node reaches the other nodes' pods (its own packets, each family the lab has)", (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const pods = testPods(lab);
  for (const node of lab.nodes)
    for (const b of pods) {
      if (b.node === node) continue;
      // a lab node's netns is named after the node
      assert.ok(
        ping({ netns: node }, b),
        `node ${node} cannot reach ${b.name}@${b.node} (${b.ip}) over ${lab.backend}`,
      );
      if (lab.ipFamily === 'dual')
        assert.ok(ping({ netns: node }, b, { ipv6: true }), `node ${node} cannot reach ${b.name} (${b.ip6}) over IPv6`);
    }
});

test('dual-stack: pods on different nodes reach each other over IPv6 too', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  if (lab.ipFamily !== 'dual') {
    t.skip('not a dual-stack lab (lab/lab up --ip-family dual)');
    return;
  }
  const pods = testPods(lab);
  for (const a of pods)
    for (const b of pods) {
      if (a === b || a.node === b.node) continue;
      assert.ok(b.ip6, `${b.name} has no IPv6 address`);
      assert.ok(ping(a, b, { ipv6: true }), `${a.name}@${a.node} cannot reach ${b.name} (${b.ip6}) over IPv6`);
    }
});

test('cross-node pod traffic on the underlay is what the backend produces', async (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const pods = testPods(lab);
  const [a, b] = [pods[0], pods.find((p) => p.node !== pods[0]?.node)];
  assert.ok(a && b);
  if (lab.backend === 'vxlan' || lab.backend === 'udp') {
    const port = lab.backend === 'vxlan' ? 8472 : 8285;
    const seen = await capture(lab.bridge, `udp port ${port}`, 2, () => ping(a, b));
    assert.match(
      seen,
      new RegExp(`\\.${port}: `),
      `no ${lab.backend} packets (udp/${port}) on ${lab.bridge} while ${a.name} pinged ${b.name}`,
    );
  } else {
    // host-gw and vxlan with DirectRouting: the inner packet crosses the underlay as it is
    const seen = await capture(lab.bridge, `icmp and host ${b.ip}`, 2, () => ping(a, b));
    assert.match(
      seen,
      new RegExp(`${a.ip.replace(/\./g, '\\.')} > ${b.ip.replace(/\./g, '\\.')}: ICMP echo request`),
      `no plain ICMP ${a.ip} > ${b.ip} on ${lab.bridge}`,
    );
    const route = inNode(a.node, ['ip', 'route', 'show', `${b.ip.split('.').slice(0, 3).join('.')}.0/24`]).stdout;
    assert.match(
      route,
      /via 10\.250\.\d+\.\d+ dev eth0/,
      `${a.node} should route ${b.node}'s podCIDR via its underlay IP: ${route}`,
    );
  }
});

test('each node has its own subnet.env, inside its podCIDR, seen through kubectl exec into its flannel pod', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  if (lab.flavor === 'k3s') {
    t.skip('k3s packaging: no flannel pod to exec into (the packaging test reads the nodes through helper pods)');
    return;
  }
  const subnets = new Set<string>();
  for (const node of lab.nodes) {
    const cidr: string = kubectlJSON<{ spec: { podCIDR: string } }>(lab, ['get', 'node', node]).spec.podCIDR;
    const pod = kubectl(lab, [
      '-n',
      'kube-flannel',
      'get',
      'pods',
      '-l',
      'app=flannel',
      '--field-selector',
      `spec.nodeName=${node}`,
      '-o',
      'jsonpath={.items[0].metadata.name}',
    ]).stdout;
    assert.ok(pod, `no flannel pod on ${node}`);
    const env = kubectl(lab, [
      '-n',
      'kube-flannel',
      'exec',
      pod,
      '-c',
      'kube-flannel',
      '--',
      'cat',
      '/run/flannel/subnet.env',
    ]);
    assert.equal(env.code, 0, env.stderr);
    const key: RegExp = lab.ipFamily === 'ipv6' ? /FLANNEL_IPV6_SUBNET=(\S+)/ : /FLANNEL_SUBNET=(\S+)/;
    const subnet: string | undefined = key.exec(env.stdout)?.[1];
    assert.ok(subnet, `no FLANNEL_SUBNET in ${node}'s subnet.env: ${env.stdout}`);
    // The first address of the podCIDR: same network part (IPv4 /24: three octets; IPv6 /64: up to "::")
    const net = (a: string): string => (a.includes(':') ? (a.split('::')[0] ?? a) : a.split('.').slice(0, 3).join('.'));
    assert.equal(net(subnet), net(cidr), `${node}: ${subnet} outside ${cidr}`);
    subnets.add(subnet);
    const host = kubectl(lab, ['-n', 'kube-flannel', 'exec', pod, '-c', 'kube-flannel', '--', 'hostname']);
    assert.equal(host.stdout.trim(), node, 'kubectl exec into a flannel pod runs on its node');
    const logs = kubectl(lab, ['-n', 'kube-flannel', 'logs', pod, '-c', 'kube-flannel']);
    assert.match(
      logs.stdout,
      /Wrote subnet file to \/run\/flannel\/subnet.env/,
      `kubectl logs should show ${node}'s real flanneld log; exit ${logs.code}: ${logs.stderr} ${logs.stdout.slice(-800)}`,
    );
  }
  assert.equal(subnets.size, lab.nodes.length, 'subnet.env differs per node');
});

test('a new pod is wired by the real CNI plugins and reachable; deleting it removes its netns', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const node = lab.nodes[lab.nodes.length - 1] as string;
  const add = labCmd(['pod-add', node, 'e2e-extra']);
  try {
    assert.equal(add.code, 0, add.stderr);
    const pods = testPods(lab);
    const extra = pods.find((p) => p.name === 'e2e-extra');
    const other = pods.find((p) => p.node !== node);
    assert.ok(extra && other);
    assert.match(extra.ip, lab.ipFamily === 'ipv6' ? /^fd00:10:244:\d+::[0-9a-f]+$/ : /^10\.244\.\d+\.\d+$/);
    assert.ok(ping(other, extra), `${other.name} cannot reach the new pod ${extra.ip}`);
    const veths = inNode(node, ['ip', '-o', 'link', 'show', 'master', 'cni0']).stdout.trim().split('\n').length;
    assert.ok(veths >= 2, `cni0 on ${node} should hold a veth per pod`);
  } finally {
    labCmd(['pod-del', 'e2e-extra']);
  }
  assert.doesNotMatch(run('ip', ['netns', 'list']).stdout, /pod-e2e-extra\b/);
});

test('kubectl finds kubectl-flannel on PATH and runs it as `kubectl flannel`', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const list = run('kubectl', ['plugin', 'list'], labEnv(lab));
  assert.match(list.stdout, /bin\/kubectl-flannel/, `kubectl plugin list: ${list.stdout} ${list.stderr}`);
  const help = run('kubectl', ['flannel', '--help'], labEnv(lab));
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Usage: kubectl-flannel/);
});

test('doctor reports nothing, at any severity, on the healthy lab', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const d = doctor(lab);
  assert.equal(d.raw.code, 0, `doctor on a healthy ${lab.backend} lab exited ${d.raw.code}`);
  // Dual-stack included: the mtu check no longer reports flannel-v6.<VNI> sitting 20 bytes below FLANNEL_MTU, which
  // is flannel's design (real flanneld in the lab shows it), not a fault.
  assert.deepEqual(
    d.findings.map((f) => `${f.severity} ${f.check} ${f.node ?? ''}: ${f.message}`),
    [],
    `doctor on a healthy ${lab.backend} lab (${lab.flavor}${lab.nftables ? ', nftables' : ''}) reported findings`,
  );
});

test('doctor finds flannel in the packaging the lab runs, with no --flannel-* flag', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'kfl-e2e-'));
  try {
    const file = path.join(dir, 'snap.json');
    const r = kubectl(lab, ['flannel', 'doctor', '--save', file], 180_000);
    assert.equal(r.code, 0, `doctor --save: ${r.stderr.slice(-800)}`);
    const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    assert.equal(snap.cluster.flannel.status, 'ok');
    const install = snap.cluster.flannel.status === 'ok' ? snap.cluster.flannel.data : null;
    const hosts = lab.nodes.map((n) => {
      const h = snap.hosts[n];
      assert.ok(h?.status === 'ok', `${n} not collected`);
      return h.data;
    });
    if (lab.flavor === 'k3s') {
      assert.deepEqual(install?.packaging, {
        kind: 'embedded',
        distribution: 'k3s',
        version: install?.packaging?.kind === 'embedded' ? install.packaging.version : null,
        netConfPath: '/var/lib/rancher/k3s/agent/etc/flannel/net-conf.json',
      });
      assert.match(install?.packaging?.kind === 'embedded' ? (install.packaging.version ?? '') : '', /\+k3s1$/);
      assert.equal(install?.daemonSet, null);
      assert.equal(snap.cluster.flannelPods.status, 'skipped');
      assert.equal(install?.netConf.status, 'ok', "net-conf.json is read from the nodes' k3s files");
      for (const h of hosts) {
        assert.equal(h.netConfFile?.status, 'ok');
        assert.equal(h.cni?.status === 'ok' ? h.cni.data.confDir : null, '/var/lib/rancher/k3s/agent/etc/cni/net.d');
        assert.match(h.via, /helper pod/, 'embedded flannel is reached through helper pods');
      }
    } else {
      assert.deepEqual(install?.packaging, { kind: 'kube-flannel' });
      for (const h of hosts)
        assert.deepEqual(
          h.flanneldHealth?.status === 'ok'
            ? [h.flanneldHealth.data.healthz.code, h.flanneldHealth.data.readyz.code]
            : h.flanneldHealth,
          [200, 200],
          `${h.node}: flanneld's /healthz and /readyz on :8081`,
        );
    }
    assert.equal(install?.netConf.status === 'ok' ? install.netConf.data.enableNFTables : null, lab.nftables);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nftables mode: flanneld wrote its nft tables and no iptables chains; iptables mode the reverse', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  // IPv6-only: flanneld's rules are all IPv6 (ip6tables chains, the ip6 flannel-ipv6 table).
  const v6 = lab.ipFamily === 'ipv6';
  const [fam, table, save] = v6 ? ['ip6', 'flannel-ipv6', 'ip6tables-save'] : ['ip', 'flannel-ipv4', 'iptables-save'];
  for (const node of lab.nodes) {
    const nft = inNode(node, ['nft', 'list', 'table', fam, table]);
    const ipt = inNode(node, [save, '-t', 'nat']).stdout;
    if (lab.nftables) {
      assert.equal(nft.code, 0, `${node}: no table ${fam} ${table}: ${nft.stderr}`);
      assert.match(nft.stdout, /chain postrtg \{/);
      assert.doesNotMatch(ipt, /FLANNEL-POSTRTG/, `${node}: iptables chains in nftables mode`);
    } else {
      assert.notEqual(nft.code, 0, `${node}: table ${fam} ${table} exists in iptables mode`);
      assert.match(ipt, /:FLANNEL-POSTRTG/);
    }
  }
});
