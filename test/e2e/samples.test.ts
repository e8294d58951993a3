/**
 * `kubectl flannel bundle`'s tcpdump samples on the lab (real flanneld, real kernel): while pods ping each other,
 * bundle samples every node's uplink and flannel device; tshark reads the pcapng back with one interface per
 * node/device; `doctor --from BUNDLE` reports nothing on the healthy lab, and for the packets-only faults exactly the
 * pair and direction that the fault breaks (underlay-samples, as doctor --probe's underlay-probe names them).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Role } from '../../src/analyzers/fault-catalog/types.js';
import { FAULTS } from './faults.js';
import { kubectl, type Lab, type LabPod, labCmd, requireLab, run, testPods } from './lab.js';

const dir = mkdtempSync(join(tmpdir(), 'kfl-e2e-samples-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Every test pod pings every other for the whole bundle run (5 pings a second each, over IPv6 too on a dual-stack
 * lab): traffic on every pair and family.
 */
function traffic(pods: readonly LabPod[]): ChildProcess[] {
  return pods.flatMap((p) =>
    pods
      .filter((to) => to !== p)
      .flatMap((to) => [to.ip, to.ip6].filter(Boolean))
      .map((ip) =>
        spawn('ip', ['netns', 'exec', p.netns, 'ping', '-n', '-q', '-i', '0.2', '-W', '1', ip], { stdio: 'ignore' }),
      ),
  );
}

interface Finding {
  check: string;
  severity: string;
  node: string | null;
  peer: string | null;
}

/** bundle under traffic, then doctor --from the bundle: its findings and the bundle's path. */
function bundleUnderTraffic(lab: Lab, name: string): { findings: Finding[]; path: string } {
  const pings = traffic(testPods(lab));
  const path = join(dir, `${name}.tar.gz`);
  try {
    const b = kubectl(lab, ['flannel', 'bundle', '-f', path], 180_000);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /sampling the overlay with tcpdump on every node for 5s/);
  } finally {
    for (const p of pings) p.kill('SIGINT');
  }
  const d = kubectl(lab, ['flannel', 'doctor', '--from', path, '-o', 'json']);
  assert.ok([0, 2].includes(d.code), d.stderr);
  return { findings: (JSON.parse(d.stdout) as { findings: Finding[] }).findings, path };
}

/** Dual-stack's one known info: flannel-v6.<VNI> capped below FLANNEL_MTU (test/e2e/healthy.test.ts allows it too). */
function known(lab: Lab, f: Finding): boolean {
  return lab.ipFamily !== 'ipv4' && f.severity === 'info' && f.check === 'mtu';
}

/** The flannel devices bundle samples on the lab's backend and IP family. */
function devicesOf(lab: Lab): string[] {
  if (lab.backend === 'host-gw') return [];
  if (lab.backend === 'udp') return ['flannel0'];
  return [...(lab.ipFamily !== 'ipv6' ? ['flannel.1'] : []), ...(lab.ipFamily !== 'ipv4' ? ['flannel-v6.1'] : [])];
}

function tshark(args: string[]): string {
  const r = run('tshark', args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('healthy lab: bundle samples every node under traffic, tshark reads them, doctor --from finds nothing', (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  const { findings, path } = bundleUnderTraffic(lab, 'healthy');
  assert.deepEqual(
    findings.filter((f) => !known(lab, f)),
    [],
    'a healthy lab bundle gives no finding at any severity',
  );

  const x = join(dir, 'healthy');
  mkdirSync(x);
  assert.equal(run('tar', ['-xzf', path, '-C', x, '--strip-components=1']).code, 0);
  const pcapng = join(x, 'samples', 'overlay.pcapng');
  const want = lab.nodes.flatMap((n) => [`${n}/eth0`, ...devicesOf(lab).map((d) => `${n}/${d}`)]).sort();
  // Every interface named node/device in the pcapng's interface descriptions, and the pods' traffic on each (with
  // DirectRouting the nodes share a subnet: pod packets are routed, the flannel device carries none).
  const named = [...run('capinfos', ['-I', pcapng]).stdout.matchAll(/^\s+Name = (\S+)$/gm)].map((m) => m[1]!).sort();
  assert.deepEqual(named, want);
  const perIface = tshark(['-r', pcapng, '-T', 'fields', '-e', 'frame.interface_name'])
    .trim()
    .split('\n')
    .reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
  for (const iface of want)
    if (lab.backend !== 'vxlan-directrouting' || iface.endsWith('/eth0'))
      assert.ok((perIface.get(iface) ?? 0) >= 10, `${iface}: only ${perIface.get(iface) ?? 0} packets`);
  // Headers only: no packet longer than the snaplen the manifest names.
  const manifest = JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8')) as {
    files: { name: string }[];
    samples: { snaplen: number; interfaces: { name: string; packets: number; error: string | null }[] };
  };
  assert.deepEqual(manifest.samples.interfaces.map((i) => i.name).sort(), want);
  assert.ok(manifest.files.some((f) => f.name === 'samples/overlay.pcapng'));
  const caplens = tshark(['-r', pcapng, '-T', 'fields', '-e', 'frame.cap_len']).trim().split('\n').map(Number);
  assert.ok(Math.max(...caplens) <= manifest.samples.snaplen, `a packet longer than ${manifest.samples.snaplen}`);
  // The uplink's samples are the encapsulated packets: tshark decodes them as VXLAN on flannel's port.
  if (lab.backend === 'vxlan') {
    const vxlan = tshark([
      '-r',
      pcapng,
      '-d',
      'udp.port==8472,vxlan',
      '-Y',
      'vxlan',
      '-T',
      'fields',
      '-e',
      'frame.number',
    ]);
    assert.ok(vxlan.trim().split('\n').length >= 10 * lab.nodes.length, 'VXLAN packets on the uplinks');
  }
});

for (const name of ['underlay-drop', 'arrival-drop']) {
  test(`${name}: doctor --from BUNDLE names exactly the pair and direction`, (t) => {
    const lab = requireLab(t);
    if (!lab) return;
    const spec = FAULTS.find((f) => f.name === name)!;
    // DirectRouting is left out of the probe's backends (its probe expectation differs); the samples see its routed
    // packets as they see host-gw's.
    const backends: string[] =
      name === 'underlay-drop' ? [...spec.lab.backends, 'vxlan-directrouting'] : [...spec.lab.backends];
    if (!backends.includes(lab.backend)) return t.skip(`${name} is not run on ${lab.backend}`);
    if (process.env.KFL_LAB_FAULTS && !process.env.KFL_LAB_FAULTS.split(/[ ,]+/).includes(name))
      return t.skip(`${name} is not in KFL_LAB_FAULTS (the reduced fault set of this CI flavor)`);
    // Routed packets (host-gw, DirectRouting) pass no flannel device: nothing in the samples can tell a drop on
    // arrival from a delivered packet.
    if (name === 'arrival-drop' && (lab.backend === 'host-gw' || lab.backend === 'vxlan-directrouting'))
      return t.skip(`${lab.backend}: no flannel device shows that a packet that arrived on the uplink was delivered`);
    // Not the first node, so a check that always names node1 fails.
    const node = lab.nodes[1]!;
    const br = labCmd(['break', name, node]);
    assert.equal(br.code, 0, br.stderr);
    try {
      const peer = /peer=(\S+)/.exec(br.stdout + br.stderr)?.[1];
      assert.ok(peer, `lab break printed no peer: ${br.stdout}`);
      const role = (r: Role) => (r === 'node' ? node : peer);
      const pk = spec.lab.packets!;
      const { findings } = bundleUnderTraffic(lab, name);
      // On arrival the bundle's state holds the dropping rule too: the walk names it on the node (pod-path, with its
      // exact nft delete), the samples show the packets reached the uplink and never flannel.1.
      const walk = name === 'arrival-drop' ? [['pod-path', 'error', node, peer]] : [];
      assert.deepEqual(
        findings
          .filter((f) => !known(lab, f))
          .map((f) => [f.check, f.severity, f.node, f.peer])
          .sort(),
        [...walk, ['underlay-samples', 'error', role(pk.dropped.from), role(pk.dropped.to)]].sort(),
      );
    } finally {
      const h = labCmd(['heal'], 240_000);
      assert.equal(h.code, 0, h.stderr);
    }
  });
}

test("a node whose capture fails: the bundle says why, keeps everyone else's samples, invents nothing", (t) => {
  const lab = requireLab(t);
  if (!lab) return;
  if (process.env.KFL_LAB_FAULTS && !process.env.KFL_LAB_FAULTS.split(/[ ,]+/).includes('public-ip-wrong'))
    return t.skip('public-ip-wrong is not in KFL_LAB_FAULTS (the reduced fault set of this CI flavor)');
  // A public-ip annotation no interface holds: the node's uplink cannot be found, so it is not sampled.
  const node = lab.nodes[2]!;
  const br = labCmd(['break', 'public-ip-wrong', node]);
  assert.equal(br.code, 0, br.stderr);
  try {
    const { findings, path } = bundleUnderTraffic(lab, 'capture-fails');
    assert.deepEqual(
      findings.filter((f) => f.check === 'underlay-samples'),
      [],
      'an unsampled uplink proves nothing either way',
    );
    assert.ok(
      findings.some((f) => f.check === 'public-ip-not-local' && f.node === node),
      JSON.stringify(findings),
    );
    const x = join(dir, 'capture-fails');
    mkdirSync(x);
    assert.equal(run('tar', ['-xzf', path, '-C', x, '--strip-components=1']).code, 0);
    const sources = readFileSync(join(x, 'samples', 'sources.txt'), 'utf8');
    assert.match(
      sources,
      new RegExp(`^${node}/uplink: not sampled: no interface holds the node's address \\S+; name it with -i$`, 'm'),
    );
    const named = [
      ...run('capinfos', ['-I', join(x, 'samples', 'overlay.pcapng')]).stdout.matchAll(/^\s+Name = (\S+)$/gm),
    ]
      .map((m) => m[1]!)
      .sort();
    const want = lab.nodes
      .flatMap((n) => [...(n === node ? [] : [`${n}/eth0`]), ...devicesOf(lab).map((d) => `${n}/${d}`)])
      .sort();
    assert.deepEqual(named, want, "every other node's samples are kept");
  } finally {
    const h = labCmd(['heal'], 240_000);
    assert.equal(h.code, 0, h.stderr);
  }
});
