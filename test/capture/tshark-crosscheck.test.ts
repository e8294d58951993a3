/**
 * Cross-check with Wireshark: tshark decrypts the scapy capture using the esp_sa table our
 * --write-keys produced, and must agree with our output field by field and on which packets
 * pass the integrity check.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, makeVectors, type Vectors } from './helpers.js';

let v: Vectors;
before(() => {
  v = makeVectors();
});
after(() => v.cleanup());

// Inner-packet fields; lengths and checksums are left out because tshark keeps the outer IP
// header of a transport-mode packet as captured while we rewrite its length.
const FIELDS = [
  'ip.src',
  'ip.dst',
  'ip.id',
  'ip.ttl',
  'ip.proto',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.nxt',
  'ipv6.hlim',
  'icmp.type',
  'icmp.ident',
  'icmp.seq',
  'data.data',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.flags',
  'tcp.payload',
];

function tshark(file: string, extra: string[], env: NodeJS.ProcessEnv = {}): string[][] {
  const out = execFileSync(
    'tshark',
    [
      '-n',
      '-r',
      file,
      ...extra,
      '-T',
      'fields',
      '-E',
      'occurrence=l',
      '-E',
      'separator=|',
      ...FIELDS.flatMap((f) => ['-e', f]),
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' },
  );
  return out
    .trimEnd()
    .split('\n')
    .map((l) => l.split('|'));
}

test('tshark, given our --write-keys table, decrypts the same packets to the same inner fields', () => {
  const wsdir = join(v.dir, 'wireshark');
  mkdirSync(wsdir);
  const keys = cli(['capture', '--xfrm-state', join(v.dir, 'xfrm-state.txt'), '--write-keys', join(wsdir, 'esp_sa')]);
  assert.equal(keys.status, 0, keys.stderr.toString());
  const ours = cli([
    'capture',
    '-r',
    join(v.dir, 'ether.pcap'),
    '--xfrm-state',
    join(v.dir, 'xfrm-state.txt'),
    '--decrypt-esp',
    '-w',
    join(v.dir, 'ours.pcap'),
  ]);
  assert.equal(ours.status, 0, ours.stderr.toString());

  const wsEnv = { WIRESHARK_CONFIG_DIR: wsdir };
  const theirs = tshark(join(v.dir, 'ether.pcap'), ['-o', 'esp.enable_encryption_decode:TRUE'], wsEnv);
  const mine = tshark(join(v.dir, 'ours.pcap'), []);
  assert.equal(mine.length, theirs.length);
  let compared = 0;
  v.manifest.packets.forEach((p, i) => {
    if (p.kind !== 'esp-ok' && p.kind !== 'plain') return;
    // With an IPv4 packet inside IPv6 (or the reverse) tshark still shows the outer header's
    // family, which our output no longer has: compare a family's fields only where we have them.
    // In transport mode tshark shows the captured protocol (50 ESP) where we name the payload's.
    const transport = p.sa?.startsWith('transport') ?? false;
    const keep = (row: string[]) =>
      row.filter(
        (_, f) =>
          !(mine[i]![f] === '' && /^ipv?6?\./.test(FIELDS[f]!)) &&
          !(transport && /^(ip\.proto|ipv6\.nxt)$/.test(FIELDS[f]!)),
      );
    assert.deepEqual(keep(mine[i]!), keep(theirs[i]!), `packet ${i + 1} (${p.kind} ${p.sa ?? ''})`);
    assert.ok(
      mine[i]!.some((x, f) => x !== '' && /^ip/.test(FIELDS[f]!)),
      `packet ${i + 1} has no IP fields`,
    );
    compared++;
  });
  assert.ok(compared >= 20);

  // tshark's own integrity verdict: ICV good exactly where we decrypted, bad where we refused.
  const verdicts = execFileSync(
    'tshark',
    [
      '-n',
      '-r',
      join(v.dir, 'ether.pcap'),
      '-o',
      'esp.enable_encryption_decode:TRUE',
      '-o',
      'esp.enable_authentication_check:TRUE',
      '-T',
      'fields',
      '-e',
      'esp.icv_good',
      '-e',
      'esp.icv_bad',
    ],
    { env: { ...process.env, ...wsEnv }, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' },
  )
    .trimEnd()
    .split('\n');
  v.manifest.packets.forEach((p, i) => {
    if (p.kind === 'esp-ok') assert.equal(verdicts[i], '1\t0', `packet ${i + 1} good for tshark`);
    if (p.kind === 'tampered') assert.equal(verdicts[i], '0\t1', `packet ${i + 1} bad for tshark`);
  });
});
