/**
 * `capture --decrypt-esp` against ESP encrypted by an independent implementation (scapy, see
 * make_vectors.py). Expected outputs are the plaintext scapy encrypted, never our own output.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, makeVectors, readPcapFile, type Vectors } from './helpers.js';

let v: Vectors;
before(() => {
  v = makeVectors();
});
after(() => v.cleanup());

const decrypt = (input: string, output: string) =>
  cli([
    'capture',
    '-r',
    join(v.dir, input),
    '--xfrm-state',
    join(v.dir, 'xfrm-state.txt'),
    '--decrypt-esp',
    '-w',
    join(v.dir, output),
  ]);

for (const [input, expected] of [
  ['ether.pcap', 'ether.expected.pcap'],
  ['ether-be.pcap', 'ether.expected.pcap'],
  ['ether-ns.pcap', 'ether-ns.expected.pcap'],
  ['vlan.pcap', 'vlan.expected.pcap'],
  ['sll.pcap', 'sll.expected.pcap'],
  ['sll2.pcap', 'sll2.expected.pcap'],
  ['raw.pcap', 'raw.expected.pcap'],
  ['ether.pcapng', 'ether.expected.pcap'],
] as const) {
  test(`${input}: output is byte-for-byte the plaintext scapy encrypted, same order and timestamps`, () => {
    const out = `${input}.out.pcap`;
    const r = decrypt(input, out);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.deepEqual(readFileSync(join(v.dir, out)), readFileSync(join(v.dir, expected)));
  });
}

test('--threads 2: decryption on worker threads gives the same bytes and the same summary', () => {
  const single = decrypt('ether.pcap', 'single.out.pcap');
  const r = cli([
    'capture',
    '-r',
    join(v.dir, 'ether.pcap'),
    '--xfrm-state',
    join(v.dir, 'xfrm-state.txt'),
    '--decrypt-esp',
    '--threads',
    '2',
    '-w',
    join(v.dir, 'threads.out.pcap'),
  ]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(readFileSync(join(v.dir, 'threads.out.pcap')), readFileSync(join(v.dir, 'ether.expected.pcap')));
  const sorted = (s: string) =>
    s
      .replaceAll(/threads|single/g, '')
      .split('\n')
      .sort();
  assert.deepEqual(sorted(r.stderr.toString()), sorted(single.stderr.toString()));
});

test('summary on stderr: packets read, decrypted per SA, failures by reason', () => {
  const r = decrypt('ether.pcap', 'summary.out.pcap');
  const err = r.stderr.toString();
  const total = v.manifest.packets.length;
  assert.match(err, new RegExp(`read ${total} packets from .*ether\\.pcap \\(pcap, Ethernet, µs timestamps\\)`));
  const ok = v.manifest.packets.filter((p) => p.kind === 'esp-ok');
  assert.match(err, new RegExp(`decrypted: ${ok.length}\\n`));
  for (const sa of v.manifest.sas) {
    const n = ok.filter((p) => p.sa === sa.name).length;
    assert.match(
      err,
      new RegExp(`spi 0x${sa.spi.toString(16).padStart(8, '0')} ${sa.src} -> ${sa.dst} .*: ${n}\\n`),
      sa.name,
    );
  }
  const count = (k: string) => v.manifest.packets.filter((p) => p.kind === k).length;
  assert.match(err, new RegExp(`integrity check failed: ${count('tampered')}\\n`));
  assert.match(err, new RegExp(`unknown SPI: ${count('unknown-spi')} \\(0x5eca1e75`));
  assert.match(err, new RegExp(`truncated \\(cut by snaplen or end of file\\): ${count('truncated')}\\n`));
  assert.match(err, new RegExp(`wrote ${total} packets to`));
});

test('tampered, unknown-SPI and truncated ESP packets come out exactly as captured', () => {
  decrypt('ether.pcap', 'kept.out.pcap');
  const input = readPcapFile(join(v.dir, 'ether.pcap')).records;
  const output = readPcapFile(join(v.dir, 'kept.out.pcap')).records;
  assert.equal(output.length, input.length);
  v.manifest.packets.forEach((p, i) => {
    if (p.kind === 'esp-ok')
      assert.notDeepEqual(output[i]!.data, input[i]!.data, `packet ${i + 1} should be decrypted`);
    else assert.deepEqual(output[i], input[i], `packet ${i + 1} (${p.kind}) must be unchanged`);
  });
});

test('a tampered packet is rejected even though its SA is known (GCM tag and HMAC checked)', () => {
  decrypt('ether.pcap', 'tamper.out.pcap');
  const tampered = v.manifest.packets.map((p, i) => [p, i] as const).filter(([p]) => p.kind === 'tampered');
  assert.ok(tampered.length >= 3);
  const output = readPcapFile(join(v.dir, 'tamper.out.pcap')).records;
  for (const [, i] of tampered) {
    // Still ESP (IPv4 proto 50) or ESP-in-UDP: no plaintext emitted.
    const ip = output[i]!.data.subarray(14);
    assert.ok(ip[9] === 50 || (ip[9] === 17 && ip.readUInt16BE(22) === 4500), `packet ${i + 1}`);
  }
});

test('keys are written nowhere unless --write-keys is given', () => {
  const before = new Set(readdirSync(v.dir));
  const r = decrypt('ether.pcap', 'nokeys.out.pcap');
  const created = readdirSync(v.dir).filter((f) => !before.has(f));
  assert.deepEqual(created, ['nokeys.out.pcap']);
  const state = readFileSync(join(v.dir, 'xfrm-state.txt'), 'utf8');
  for (const m of state.matchAll(/0x([0-9a-f]{32,})/g)) {
    assert.ok(!r.stderr.toString().includes(m[1]!.slice(0, 32)), 'a key appeared on stderr');
  }
  assert.ok(!existsSync(join(v.dir, 'esp_sa')));
});

test('--write - streams the pcap to stdout, identical to --write FILE', () => {
  const r = cli([
    'capture',
    '-r',
    join(v.dir, 'ether.pcap'),
    '--xfrm-state',
    join(v.dir, 'xfrm-state.txt'),
    '--decrypt-esp',
    '-w',
    '-',
  ]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(r.stdout, readFileSync(join(v.dir, 'ether.expected.pcap')));
});

test('--read - reads the pcap from stdin', () => {
  const r = cli(['capture', '-r', '-', '--xfrm-state', join(v.dir, 'xfrm-state.txt'), '--decrypt-esp', '-w', '-'], {
    input: readFileSync(join(v.dir, 'sll2.pcap')),
  });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(r.stdout, readFileSync(join(v.dir, 'sll2.expected.pcap')));
});

test('the committed sample (fixtures/pcap) decrypts to its committed expected output', () => {
  const fx = (f: string) => new URL(`../../../fixtures/pcap/${f}`, import.meta.url).pathname;
  const out = join(v.dir, 'fixture.out.pcap');
  const r = cli([
    'capture',
    '-r',
    fx('esp-mix.pcap'),
    '--xfrm-state',
    fx('esp-mix.xfrm-state.txt'),
    '--decrypt-esp',
    '-w',
    out,
  ]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(readFileSync(out), readFileSync(fx('esp-mix.decrypted.pcap')));
});
