/**
 * A real capture: scapy puts the ESP frames on a veth between two network namespaces created here,
 * the real tcpdump records them with `-i any` (Linux cooked v2 headers, as on a node), and the
 * capture is decrypted. The kernel here has no ESP crypto, so the encryption itself is scapy's.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, makeVectors, PYTHON, readPcapFile, type Vectors } from './helpers.js';

let v: Vectors;
const id = randomBytes(3).toString('hex');
const nsA = `kfa${id}`;
const nsB = `kfb${id}`;
const ifA = `kfva${id}`;

before(() => {
  v = makeVectors();
  execFileSync('ip', ['netns', 'add', nsA]);
  execFileSync('ip', ['netns', 'add', nsB]);
  execFileSync('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', `kfvb${id}`, 'netns', nsB]);
  for (const [ns, dev] of [
    [nsA, ifA],
    [nsB, `kfvb${id}`],
  ] as const) {
    // No IPv6 on the test links, so the kernel's own ND/MLD packets do not mix into the capture.
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
});
after(() => {
  spawnSync('ip', ['netns', 'del', nsA]);
  spawnSync('ip', ['netns', 'del', nsB]);
  v.cleanup();
});

test('tcpdump -i any capture of ESP on a veth decrypts to the plaintext scapy encrypted', async () => {
  const pcap = join(v.dir, 'live.pcap');
  const total = v.manifest.packets.length;
  // No filter: `ether src` is refused on -i any (SLL2), and nothing else talks on these links.
  const dump = spawn('ip', ['netns', 'exec', nsB, 'tcpdump', '-i', 'any', '-U', '-c', String(total), '-w', pcap], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  dump.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const exited = once(dump, 'exit');
    while (!err.includes('listening on')) {
      const ended = await Promise.race([once(dump.stderr, 'data').then(() => false), exited.then(() => true)]);
      if (ended) assert.fail(`tcpdump exited before capturing: ${err}`);
    }
    execFileSync('ip', [
      'netns',
      'exec',
      nsA,
      PYTHON,
      '-c',
      `from scapy.all import rdpcap, sendp\nsendp(rdpcap(${JSON.stringify(join(v.dir, 'ether.pcap'))}), iface=${JSON.stringify(ifA)}, verbose=False)`,
    ]);
    const timer = setTimeout(() => dump.kill('SIGINT'), 10_000);
    await exited;
    clearTimeout(timer);
  } finally {
    if (dump.exitCode === null) dump.kill('SIGINT');
  }
  const captured = readPcapFile(pcap);
  assert.equal(captured.linkType, 276, 'tcpdump -i any writes LINKTYPE_LINUX_SLL2');
  assert.equal(captured.records.length, total, err);

  const out = join(v.dir, 'live.out.pcap');
  const r = cli(['capture', '-r', pcap, '--xfrm-state', join(v.dir, 'xfrm-state.txt'), '--decrypt-esp', '-w', out]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.match(r.stderr.toString(), /Linux cooked v2 \(SLL2\)/);
  const got = readPcapFile(out).records;
  const want = readPcapFile(join(v.dir, 'ether.expected.pcap')).records;
  assert.equal(got.length, want.length);
  got.forEach((p, i) => {
    // Same network-layer bytes; the link header is tcpdump's SLL2 instead of the generator's Ethernet.
    assert.deepEqual(
      p.data.subarray(20),
      want[i]!.data.subarray(14),
      `packet ${i + 1} (${v.manifest.packets[i]!.kind})`,
    );
    assert.deepEqual([p.sec, p.frac], [captured.records[i]!.sec, captured.records[i]!.frac], 'timestamps kept');
  });
});
