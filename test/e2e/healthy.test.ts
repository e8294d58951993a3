/**
 * A healthy lab, whatever backend it was started with: pods on different nodes reach each other through the real
 * CNI plugins and the real flanneld datapath, the traffic on the underlay is what the backend must produce, the
 * node-local state is per node, kubectl reaches into nodes through KWOK, the plugin runs through kubectl's plugin
 * lookup, and doctor reports nothing at any severity.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
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
    const subnet = /FLANNEL_SUBNET=(\S+)/.exec(env.stdout)?.[1];
    assert.ok(subnet, `no FLANNEL_SUBNET in ${node}'s subnet.env: ${env.stdout}`);
    assert.equal(
      subnet.split('.').slice(0, 3).join('.'),
      cidr.split('.').slice(0, 3).join('.'),
      `${node}: ${subnet} outside ${cidr}`,
    );
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
    assert.match(extra.ip, /^10\.244\.\d+\.\d+$/);
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

test('doctor reports nothing at any severity on the healthy lab', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const d = doctor(lab);
  assert.equal(d.raw.code, 0, `doctor on a healthy ${lab.backend} lab exited ${d.raw.code}`);
  assert.deepEqual(
    d.findings.map((f) => `${f.severity} ${f.check} ${f.node}: ${f.message}`),
    [],
    `doctor on a healthy ${lab.backend} lab reported findings`,
  );
});
