/**
 * Live capture on the lab: three nodes (the backend's default interfaces each) and a pod at once, while the test
 * pods ping each other around the ring; Ctrl-C ends it. tshark must read the one pcapng with every interface named
 * `node/interface` (the pod `node/ns/pod`) and exactly the ICMP packets the pings made on each of them; no helper
 * pod may be left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CaptureReader } from '../../src/capture/pcap-reader.js';
import { makeVectors, PYTHON, readPcapFile } from '../capture/helpers.js';
import { kubectl, kubectlJSON, type Lab, labEnv, ping, repoRoot, requireLab, run, testPods } from './lab.js';

/** The uplink is where the node's underlay address lives (the lab names it per node). */
function uplinkOf(node: string, ip: string): string {
  const r = run('ip', ['-n', node, '-o', '-4', 'addr', 'show']);
  const line = r.stdout.split('\n').find((l) => l.includes(` ${ip}/`));
  if (!line) throw new Error(`no interface of ${node} holds ${ip}`);
  return line.split(/\s+/)[1]!.replace(/@.*/, '');
}

/** The API server's own count of pods/exec requests (apiserver_request_total, every series). */
function execRequests(lab: Lab): number {
  const r = kubectl(lab, ['get', '--raw', '/metrics']);
  if (r.code !== 0) throw new Error(`kubectl get --raw /metrics: ${r.stderr}`);
  let total = 0;
  for (const line of r.stdout.split('\n'))
    if (line.startsWith('apiserver_request_total{') && line.includes('subresource="exec"'))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

/** How many of this host's named network namespaces hold `ip` (what the capture's netns listing sees). */
function netnsHolding(ip: string): number {
  const names = run('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
  return names.filter((n) => run('ip', ['-n', n, '-o', 'addr', 'show']).stdout.includes(` ${ip}/`)).length;
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
  const execsBefore = execRequests(lab);

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

  // flannel's VXLAN port (8472) and udp backend port (8285) are not the IANA ones tshark decodes by itself.
  const decodeAs = ['-d', 'udp.port==8472,vxlan', '-d', 'udp.port==8285,ip'];
  const rows = run('tshark', ['-r', out, ...decodeAs, '-T', 'fields', '-e', 'frame.interface_name', '-Y', 'icmp'])
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
  // One exec per node to plan it (its addresses and, on k3s, its net-conf.json, as one script), one per tcpdump,
  // and the pod's: one to find its network namespace and its tcpdump.
  // The lab's nodes share this host's /var/run/netns: when another namespace holds the pod's IP too (another lab,
  // a live-netns test), finding the pod's own takes one more exec (`ip -o link show`, whose link-netns names it).
  const execs = execRequests(lab) - execsBefore;
  const bound = nodes.length + (expected.length - 1) + 2 + (netnsHolding(watched.ip) > 1 ? 1 : 0);
  assert.ok(execs <= bound, `${execs} exec sessions, at most ${bound} expected\n${stderr}`);

  const left = kubectlJSON<{ items: unknown[] }>(lab, [
    'get',
    'pods',
    '-A',
    '-l',
    'app.kubernetes.io/component=node-helper',
  ]).items;
  assert.equal(left.length, 0, 'helper pods are deleted when the capture ends');
});

test('capture --decrypt-esp live: scapy ESP sent from a lab pod is decrypted as it is captured', async (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const pod = testPods(lab)[0]!;
  // This kernel has no ESP: `ip xfrm state add … proto esp` fails ("Requested AEAD algorithm not found"), so the
  // nodes hold no SA. The SAs come from the scapy vectors' `ip xfrm state` text (--xfrm-state) while the nodes'
  // own `ip xfrm state` is read as it would be on an ipsec cluster (and reported as holding 0 SAs).
  const v = makeVectors();
  t.after(() => v.cleanup());
  const out = join(v.dir, 'live.pcapng');
  const macs = 'ether src 02:42:ac:12:00:03 or ether src 02:42:ac:12:00:04';
  const cli = spawn(
    join(repoRoot, 'bin/kubectl-flannel'),
    [
      'capture',
      '--pod',
      `${lab.podNamespace}/${pod.name}`,
      '-f',
      macs,
      '--decrypt-esp',
      '--xfrm-state',
      join(v.dir, 'xfrm-state.txt'),
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
  // Raw sends of the pre-built frames from inside the pod's network namespace, out of its eth0.
  const send = run('ip', [
    'netns',
    'exec',
    pod.netns,
    PYTHON,
    '-c',
    `from scapy.all import rdpcap, sendp\nsendp(rdpcap(${JSON.stringify(join(v.dir, 'ether.pcap'))}), iface='eth0', verbose=False)`,
  ]);
  assert.equal(send.code, 0, send.stderr);
  await new Promise((r) => setTimeout(r, 1500));
  cli.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, stderr);
  const want = readPcapFile(join(v.dir, 'ether.expected.pcap')).records.map((r) => r.data.toString('hex'));
  const got: string[] = [];
  const reader = new CaptureReader(
    (async function* () {
      yield readFileSync(out);
    })(),
    out,
  );
  for await (const b of reader) for (const p of b) got.push(p.data.toString('hex'));
  // Each frame out of eth0, and back in, because flannel's CNI config puts the bridge port in hairpin mode; the
  // bridge's netfilter drops the hairpin copy of the deliberately truncated frame (its IP length is a lie). (tcpdump's
  // `outbound` filter would avoid the copies, but this tcpdump then loses the first packet, by itself too.)
  const seen = new Map<string, number>();
  for (const g of got) seen.set(g, (seen.get(g) ?? 0) + 1);
  for (const w of new Set(want))
    assert.ok(
      [1, 2].map((n) => n * want.filter((x) => x === w).length).includes(seen.get(w) ?? 0),
      `expected packet ${w} in the decrypted capture (seen ${seen.get(w) ?? 0} times)\n${stderr}`,
    );
  for (const g of seen.keys()) assert.ok(want.includes(g), `unexpected packet ${g}\n${stderr}`);
  const decryptable = 2 * v.manifest.packets.filter((p) => p.kind === 'esp-ok').length;
  assert.match(stderr, new RegExp(`decrypted: ${decryptable}\\b`), stderr);
  assert.match(stderr, new RegExp(`${pod.node}: 0\\b`), 'the node was asked for its SAs');
  assert.doesNotMatch(readFileSync(out).toString('latin1'), /xfrm|aead/, 'no key material in the capture');
});

test('healthy lab: doctor --probe reports nothing, trace --probe sees every hop both ways, the UDP probe whole', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const d = run('kubectl', ['flannel', 'doctor', '--probe', '-o', 'json'], labEnv(lab), 180_000);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual((JSON.parse(d.stdout) as { findings: unknown[] }).findings, []);
  const [a, b] = testPods(lab).filter((p, i, all) => all.findIndex((q) => q.node === p.node) === i);
  const r = run(
    'kubectl',
    ['flannel', 'trace', `${lab.podNamespace}/${a!.name}`, `${lab.podNamespace}/${b!.name}`, '--probe', '-o', 'json'],
    labEnv(lab),
    180_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const probe = (
    JSON.parse(r.stdout) as {
      probe: {
        sent: number;
        requestVanishedAt: string | null;
        replyVanishedAt: string | null;
        hops: { name: string; requests: number; replies: number; udp: number; udpFragments: number }[];
        udp: { sent: number; size: number; vanishedAt: string | null; fragNeeded: unknown[] };
      };
    }
  ).probe;
  assert.equal(probe.sent, 3);
  // The FLANNEL_MTU-sized UDP probe goes wherever the echoes go, whole, on a healthy lab.
  assert.equal(probe.udp.sent, 3);
  assert.equal(probe.udp.vanishedAt, null, JSON.stringify(probe.udp));
  assert.deepEqual(probe.udp.fragNeeded, []);
  assert.equal(probe.udp.size, lab.backend === 'host-gw' ? 1500 : lab.backend === 'udp' ? 1472 : 1450);
  assert.equal(probe.requestVanishedAt, null);
  assert.equal(probe.replyVanishedAt, null);
  const onPath = probe.hops.filter((h) => h.requests > 0);
  // host-gw and DirectRouting bypass the flannel device; every other hop carries all three requests and replies.
  assert.ok(onPath.length >= 6, JSON.stringify(probe.hops));
  for (const h of onPath)
    assert.deepEqual([h.name, h.requests, h.replies, h.udp, h.udpFragments], [h.name, 3, 3, 3, 0]);
  assert.deepEqual(
    probe.hops.filter((h) => h.requests === 0 && h.udp > 0),
    [],
    'the UDP probe is seen only where the echoes are',
  );
});
