import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { redactXfrmStateText } from '../../src/parse/redact/xfrm.js';
import { parseXfrmPolicy, parseXfrmState } from '../../src/parse/xfrm.js';

const fx = (name: string): string => readFileSync(new URL(`../../../fixtures/xfrm/${name}`, import.meta.url), 'utf8');
const digest = (hex: string): string => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 16);

test('seed 000: collapsed `ip x s` of a flannel IPsec cluster gives all 8 SAs with their GCM keys', () => {
  const { states, errors } = parseXfrmState(fx('seed-000-state-collapsed.txt'), { keepKeys: true });
  assert.equal(states.length, 8);
  const first = states[0]!;
  assert.deepEqual(
    { src: first.src, dst: first.dst, proto: first.proto, spi: first.spi, reqid: first.reqid, mode: first.mode },
    { src: '172.18.0.3', dst: '172.18.0.2', proto: 'esp', spi: 0xcfba8c29, reqid: 11, mode: 'tunnel' },
  );
  assert.deepEqual(first.aead, {
    name: 'rfc4106(gcm(aes))',
    keyBits: 160,
    icvBits: 128,
    digest: digest('5c6d833362f6676e74520fbb6074495753293433'),
    hex: '0x5c6d833362f6676e74520fbb6074495753293433',
  });
  assert.equal(states[7]!.spi, 0xc01b7d3d);
  assert.equal(states[7]!.aead?.hex, '0x4ed4c68a03a6445e219a889c7d9feb1ff358017a');
  // The shell prompt glued after the last record is not an SA field; it is ignored, not misread.
  assert.deepEqual(errors, []);
});

test('keys are dropped unless asked for, and the digest still identifies them', () => {
  const { states } = parseXfrmState(fx('seed-000-state-collapsed.txt'), { keepKeys: false });
  for (const s of states) {
    assert.equal(s.aead?.hex, undefined);
    assert.match(s.aead!.digest, /^[0-9a-f]{16}$/);
  }
  assert.ok(!JSON.stringify(states).includes('5c6d833362f6676e'));
});

test('iproute2 6.x layout: GCM with NAT-T encap, CBC with auth-trunc, IPv6 transport with esn', () => {
  const { states, errors } = parseXfrmState(fx('state-iproute2-6-handwritten.txt'), { keepKeys: true });
  assert.deepEqual(errors, []);
  assert.equal(states.length, 3);
  const [gcm, cbc, v6] = states as [(typeof states)[0], (typeof states)[0], (typeof states)[0]];
  assert.deepEqual(gcm.encap, { type: 'espinudp', sport: 4500, dport: 4500 });
  assert.deepEqual(gcm.selector, { src: '0.0.0.0/0', dst: '0.0.0.0/0' });
  assert.equal(cbc.enc?.name, 'cbc(aes)');
  assert.equal(cbc.enc?.keyBits, 128);
  assert.equal(cbc.enc?.icvBits, null);
  assert.deepEqual([cbc.auth?.name, cbc.auth?.keyBits, cbc.auth?.icvBits], ['hmac(sha256)', 256, 128]);
  assert.equal(cbc.aead, null);
  assert.equal(cbc.encap, null);
  assert.deepEqual([v6.src, v6.dst, v6.mode, v6.reqid], ['fd00:56::11', 'fd00:56::12', 'transport', 12]);
  assert.deepEqual([v6.aead?.keyBits, v6.aead?.icvBits], [288, 96]);
  assert.deepEqual(v6.selector, { src: 'fd00:56::11/128', dst: 'fd00:56::12/128' });
});

test('`ip -s xfrm state` layout: numbers with parenthesised forms, lifetime and stats blocks', () => {
  const { states, errors } = parseXfrmState(fx('state-iproute2-6-stats-handwritten.txt'), { keepKeys: false });
  assert.deepEqual(errors, []);
  assert.equal(states.length, 1);
  assert.equal(states[0]!.spi, 0xc1a2b3c4);
  assert.equal(states[0]!.reqid, 11);
  assert.deepEqual([states[0]!.auth?.name, states[0]!.auth?.icvBits], ['hmac(sha1)', 96]);
  assert.equal(states[0]!.enc?.keyBits, 192);
});

test('malformed records yield issues naming the line, never a throw, and never quote a key', () => {
  const text = [
    'src 10.0.0.1 dst 10.0.0.2',
    '\tproto esp spi 0xzz reqid 1 mode tunnel',
    '\taead rfc4106(gcm(aes)) 0x00112233445566778899aabbccddeeff00112233 128',
    'src 10.0.0.2 dst 10.0.0.1',
    '\tproto esp spi 0x10 reqid 1 mode tunnel',
    '\taead rfc4106(gcm(aes)) 0x00112233445566778899aabbccddeeff0011223 128',
    'src nonsense',
    'src 10.0.0.3 dst 10.0.0.4',
    '\tproto esp spi 0x11 reqid 1 mode tunnel',
    '\tauth-trunc hmac(sha256) 0xaabbccddeeff00112233445566778899aabbccddeeff00112233445566778899',
    'src 10.0.0.3 dst 10.0.0.4 proto esp spi 0x12 reqid 1 mode tunnel',
  ].join('\n');
  const { states, errors } = parseXfrmState(text, { keepKeys: false });
  assert.deepEqual(
    states.map((s) => s.spi),
    [0x12],
  );
  // Each issue names its line and shows the line's outline only: vocabulary, every value a `…`,
  // nothing after an algorithm name. The bad spi itself (`0xzz`) is not quoted either.
  assert.deepEqual(errors, [
    { line: 2, message: '"spi" is not followed by a 32-bit number', text: 'proto esp spi … reqid … mode tunnel' },
    {
      line: 6,
      message: 'aead rfc4106(gcm(aes)): key has an odd number of hex digits',
      text: 'aead rfc4106(gcm(aes)) …',
    },
    { line: 7, message: '"src" is not followed by an address', text: 'src …' },
    {
      line: 10,
      message: 'auth-trunc hmac(sha256): no truncation length in bits (up to 512) after the key',
      text: 'auth-trunc hmac(sha256) …',
    },
  ]);
  assert.doesNotThrow(() => parseXfrmState('\u0000\u0001garbage {{{\nsrc\nsrc 1.2.3.4 dst', { keepKeys: true }));
});

test('a key cut by a newline: no piece of it is quoted or stored, even one of only decimal digits (fuzz seed 835539408)', () => {
  // The seed page's first SA key, cut after 24 hex digits: its tail, 6074495753293433, is all
  // decimal digits and looks like a counter, an SPI or an ICV length wherever it lands.
  const key = '5c6d833362f6676e74520fbb6074495753293433';
  const [head, tail] = [key.slice(0, 24), key.slice(24)];
  const sa = (spi: string) => `src 172.18.0.2 dst 172.18.0.3 proto esp spi ${spi} reqid 11 mode tunnel`;
  const text = [
    // 1-3: the SA with its `src` lost: all of it is outside any record.
    '172.18.0.3 dst 172.18.0.2 proto esp spi 0xcfba8c29 reqid 11 mode tunnel',
    `\treplay-window 0 flag af-unspec aead rfc4106(gcm(aes)) 0x${head}`,
    `${tail} 128 anti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000`,
    // 4-6: the tail where the ICV length goes.
    sa('0xcfba8c2a'),
    `\taead rfc4106(gcm(aes)) 0x${head}`,
    `${tail} 128`,
    // 7-8: an odd-length key with the tail beside it.
    sa('0xcfba8c2b'),
    `\taead rfc4106(gcm(aes)) 0x${head}6 ${tail}`,
    // 9-10: the tail where the algorithm name goes.
    sa('0xcfba8c2c'),
    `\tenc ${tail} 0x${head}`,
    // 11: the tail where the SPI goes.
    sa(tail),
  ].join('\n');
  const { states, errors } = parseXfrmState(text, { keepKeys: false });
  assert.deepEqual(states, []);
  const stray = 'text outside any xfrm record (a record starts with "src")';
  assert.deepEqual(errors, [
    { line: 1, message: stray, text: '… dst … proto esp spi … reqid … mode tunnel' },
    { line: 2, message: stray, text: 'replay-window … flag af-unspec aead rfc4106(gcm(aes)) …' },
    { line: 3, message: stray, text: '… anti-replay context: …' },
    {
      line: 5,
      message: 'aead rfc4106(gcm(aes)): no ICV length in bits (up to 512) after the key',
      text: 'aead rfc4106(gcm(aes)) …',
    },
    {
      line: 8,
      message: 'aead rfc4106(gcm(aes)): key has an odd number of hex digits',
      text: 'aead rfc4106(gcm(aes)) …',
    },
    { line: 10, message: '"enc" without an algorithm name', text: 'enc …' },
    {
      line: 11,
      message: '"spi" is not followed by a 32-bit number',
      text: 'src … dst … proto esp spi … reqid … mode tunnel',
    },
  ]);
});

test('an algorithm name the kernel never prints is not quoted: it may be a mangled key', () => {
  // Shaped like a name (so the SA still parses when nothing else is wrong), but not one of the kernel's.
  const text = [
    'src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1 reqid 1 mode tunnel',
    '\taead gcm(aesq0011223344556677) 0x0011223344 128',
    'src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2 reqid 1 mode tunnel',
    '\tenc cbc(aesq0011223344556677) 0x00112',
  ].join('\n');
  const { states, errors } = parseXfrmState(text, { keepKeys: false });
  assert.deepEqual(
    states.map((s) => s.aead?.name),
    ['gcm(aesq0011223344556677)'],
  );
  assert.deepEqual(errors, [
    { line: 4, message: 'enc (unlisted algorithm): key has an odd number of hex digits', text: 'enc …' },
  ]);
});

test('redactXfrmStateText replaces every key with its digest and keeps everything else', () => {
  const raw = fx('seed-000-state-collapsed.txt') + fx('state-iproute2-6-handwritten.txt');
  const red = redactXfrmStateText(raw);
  const parsed = parseXfrmState(raw, { keepKeys: true }).states;
  for (const s of parsed) {
    for (const k of [s.aead, s.enc, s.auth]) {
      if (!k) continue;
      assert.ok(!red.includes(k.hex!.slice(2)), `key ${k.digest} still present`);
      assert.ok(red.includes(`<redacted sha256:${k.digest}>`));
    }
  }
  assert.ok(red.includes('spi 0xcfba8c29'));
  // Redacted text still parses to the same SAs and digests, so snapshots can be re-parsed.
  const again = parseXfrmState(red, { keepKeys: false });
  assert.deepEqual(again.errors, []);
  assert.deepEqual(
    again.states.map((s) => s.aead?.digest ?? s.enc?.digest),
    parsed.map((s) => s.aead?.digest ?? s.enc?.digest),
  );
});

test("seed 000: collapsed `ip x p` gives flannel's fwd/in/out policies with reqid 11 templates", () => {
  const { policies, errors } = parseXfrmPolicy(fx('seed-000-policy-collapsed.txt'));
  assert.deepEqual(errors, []);
  assert.deepEqual(
    policies.map((p) => p.dir),
    ['fwd', 'in', 'out', 'fwd', 'in', 'out'],
  );
  assert.deepEqual(policies[2], {
    src: '10.244.2.0/24',
    dst: '10.244.1.0/24',
    dir: 'out',
    priority: 0,
    action: 'allow',
    templates: [{ src: '172.18.0.3', dst: '172.18.0.4', proto: 'esp', reqid: 11, mode: 'tunnel' }],
  });
});

test('real iproute2 policy output (plain, -s, -o) parses to the same policies', () => {
  const plain = parseXfrmPolicy(fx('policy-netns-plain.txt'));
  const stats = parseXfrmPolicy(fx('policy-netns-stats.txt'));
  const oneline = parseXfrmPolicy(fx('policy-netns-oneline.txt'));
  assert.deepEqual(plain.errors, []);
  assert.equal(plain.policies.length, 6);
  assert.deepEqual(stats.policies, plain.policies);
  assert.deepEqual(oneline.policies, plain.policies);
  const block = plain.policies.find((p) => p.action === 'block');
  assert.deepEqual(block?.templates, []);
  const v6 = plain.policies.find((p) => p.src.includes(':'));
  assert.equal(v6?.priority, 100);
});

test('live: policies added in a fresh netns parse back exactly (real kernel, real iproute2)', (t) => {
  const ns = `kfx${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  const ip = (...a: string[]): string => execFileSync('ip', ['-n', ns, ...a], { encoding: 'utf8' });
  ip(
    'xfrm',
    'policy',
    'add',
    'src',
    '10.244.1.0/24',
    'dst',
    '10.244.2.0/24',
    'dir',
    'out',
    'tmpl',
    'src',
    '192.168.56.11',
    'dst',
    '192.168.56.12',
    'proto',
    'esp',
    'reqid',
    '11',
    'mode',
    'tunnel',
  );
  ip(
    'xfrm',
    'policy',
    'add',
    'src',
    '10.244.2.0/24',
    'dst',
    '10.244.1.0/24',
    'dir',
    'in',
    'priority',
    '7',
    'tmpl',
    'src',
    '192.168.56.12',
    'dst',
    '192.168.56.11',
    'proto',
    'esp',
    'reqid',
    '11',
    'mode',
    'tunnel',
  );
  const { policies, errors } = parseXfrmPolicy(ip('xfrm', 'policy'));
  assert.deepEqual(errors, []);
  const byDir = Object.fromEntries(policies.map((p) => [p.dir, p]));
  assert.equal(byDir.in?.priority, 7);
  assert.deepEqual(byDir.out?.templates, [
    { src: '192.168.56.11', dst: '192.168.56.12', proto: 'esp', reqid: 11, mode: 'tunnel' },
  ]);
});

test('live: an SA added in a fresh netns parses back (skipped where the kernel lacks ESP)', (t) => {
  const ns = `kfx${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  const key = '0x' + '11'.repeat(20);
  const add = spawnSync(
    'ip',
    [
      '-n',
      ns,
      'xfrm',
      'state',
      'add',
      'src',
      '10.1.0.1',
      'dst',
      '10.1.0.2',
      'proto',
      'esp',
      'spi',
      '0x1234',
      'reqid',
      '11',
      'mode',
      'tunnel',
      'aead',
      'rfc4106(gcm(aes))',
      key,
      '128',
    ],
    { encoding: 'utf8' },
  );
  if (add.status !== 0) {
    t.skip(`kernel refused the SA: ${add.stderr.trim()}`);
    return;
  }
  const out = execFileSync('ip', ['-n', ns, 'xfrm', 'state'], { encoding: 'utf8' });
  const { states, errors } = parseXfrmState(out, { keepKeys: true });
  assert.deepEqual(errors, []);
  assert.equal(states[0]?.aead?.hex, key);
});

test('collapsed CBC records: a key glued to `encap`/`anti-replay` gives the hex letters back to the keyword', () => {
  const text =
    'src 172.18.0.4 dst 172.18.0.3proto esp spi 0x0000b002 reqid 11 mode tunnelreplay-window 32 flag af-unspec' +
    'auth-trunc hmac(sha256) 0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20 128' +
    'enc cbc(aes) 0x000102030405060708090a0b0c0d0e0fencap type espinudp sport 4500 dport 4500 addr 0.0.0.0' +
    'anti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n' +
    'src 172.18.0.3 dst 172.18.0.4proto esp spi 0x0000a001 reqid 11 mode tunnelreplay-window 32 flag af-unspec' +
    'enc cbc(aes) 0x00112233445566778899aabbccddeeffanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n';
  const { states, errors } = parseXfrmState(text, { keepKeys: true });
  assert.deepEqual(errors, []);
  assert.equal(states[0]!.enc?.hex, '0x000102030405060708090a0b0c0d0e0f');
  assert.deepEqual(states[0]!.encap, { type: 'espinudp', sport: 4500, dport: 4500 });
  assert.equal(states[1]!.enc?.hex, '0x00112233445566778899aabbccddeeff');
  // And after redaction the same text still parses, with the digests kept.
  const red = parseXfrmState(redactXfrmStateText(text), { keepKeys: true });
  assert.deepEqual(red.errors, []);
  assert.deepEqual(
    red.states.map((s) => [s.enc?.digest, s.enc?.hex, s.encap]),
    states.map((s) => [s.enc?.digest, undefined, s.encap]),
  );
});
