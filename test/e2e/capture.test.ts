/**
 * Live capture on the lab: three nodes (the backend's default interfaces each) and a pod at once, while the test
 * pods ping each other around the ring; Ctrl-C ends it. tshark must read the one pcapng with every interface named
 * `node/interface` (the pod `node/ns/pod`) and exactly the ICMP packets the pings made on each of them; no helper
 * pod may be left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { kubectlJSON, labEnv, ping, repoRoot, requireLab, run, testPods } from './lab.js';

/** The uplink is where the node's underlay address lives (the lab names it per node). */
function uplinkOf(node: string, ip: string): string {
  const r = run('ip', ['-n', node, '-o', '-4', 'addr', 'show']);
  const line = r.stdout.split('\n').find((l) => l.includes(` ${ip}/`));
  if (!line) throw new Error(`no interface of ${node} holds ${ip}`);
  return line.split(/\s+/)[1]!.replace(/@.*/, '');
}

const DEVICE: Record<string, string | null> = {
  vxlan: 'flannel.1',
  'vxlan-directrouting': 'flannel.1',
  udp: 'flannel0',
  'host-gw': null,
};

test('capture on three nodes and a pod at once: one pcapng, every interface named, every ICMP packet', async (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const pods = testPods(lab);
  const nodes = lab.nodes.slice(0, 3);
  assert.equal(nodes.length, 3, 'the lab needs three nodes');
  const ring = nodes.map((n) => pods.find((p) => p.node === n)!);
  const watched = ring[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'kf-cap-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'out.pcapng');

  const cli = spawn(
    join(repoRoot, 'bin/kubectl-flannel'),
    [
      'capture',
      ...nodes.flatMap((n) => ['--node', n]),
      '--pod',
      `${lab.podNamespace}/${watched.name}`,
      '-w',
      out,
      '--duration',
      '60s',
    ],
    { env: labEnv(lab), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(cli, 'exit');
  const deadline = Date.now() + 60_000;
  while (!/capturing on \d+ source/.test(stderr)) {
    if (cli.exitCode !== null || Date.now() > deadline) assert.fail(`capture did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const count = 5;
  for (let i = 0; i < 3; i++)
    assert.ok(ping(ring[i]!, ring[(i + 1) % 3]!, { count }), `${ring[i]!.name} -> ${ring[(i + 1) % 3]!.name}`);
  await new Promise((r) => setTimeout(r, 1500)); // let the last replies reach every source
  cli.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /stopped by Ctrl-C/);

  const rows = run('tshark', [
    '-r',
    out,
    '-T',
    'fields',
    '-E',
    'separator=|',
    '-e',
    'frame.interface_name',
    '-Y',
    'icmp',
  ])
    .stdout.trim()
    .split('\n');
  const names = new Set(
    run('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.interface_name']).stdout.trim().split('\n'),
  );
  const nodeObjs = kubectlJSON<{
    items: { metadata: { name: string }; status: { addresses: { type: string; address: string }[] } }[];
  }>(lab, ['get', 'nodes']).items;
  const expected: string[] = [];
  for (const n of nodes) {
    const ip = nodeObjs
      .find((o) => o.metadata.name === n)!
      .status.addresses.find((a) => a.type === 'InternalIP')!.address;
    expected.push(`${n}/${uplinkOf(n, ip)}`);
    const dev = DEVICE[lab.backend];
    if (dev) expected.push(`${n}/${dev}`);
    expected.push(`${n}/cni0`);
  }
  const podIface = `${watched.node}/${lab.podNamespace}/${watched.name}`;
  expected.push(podIface);
  // Each node sends one ring ping and answers another: 2 pings x count x (request + reply) on each of its devices.
  for (const name of expected) {
    assert.ok(names.has(name), `interface ${name} in the pcapng (have: ${[...names].join(', ')})\n${stderr}`);
    assert.equal(rows.filter((r) => r === name).length, 4 * count, `ICMP packets on ${name}\n${stderr}`);
  }
  assert.equal(rows.length, expected.length * 4 * count, 'no ICMP on any other interface');
  const capinfos = run('capinfos', ['-T', '-r', '-c', out]).stdout;
  assert.match(capinfos, /\t\d+$/m, capinfos);

  const left = kubectlJSON<{ items: unknown[] }>(lab, [
    'get',
    'pods',
    '-A',
    '-l',
    'app.kubernetes.io/component=node-helper',
  ]).items;
  assert.equal(left.length, 0, 'helper pods are deleted when the capture ends');
});
