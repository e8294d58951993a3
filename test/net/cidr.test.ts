import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  contains,
  covers,
  firstHost,
  normalizeIP,
  overlaps,
  parsePrefix,
  sameIP,
  samePrefix,
} from '../../src/net/cidr.js';

test('prefixes are canonical: host bits cleared, IPv6 compressed', () => {
  assert.equal(parsePrefix('10.244.1.7/24')?.text, '10.244.1.0/24');
  assert.equal(parsePrefix('fd00:10:244:0001:0::/64')?.text, 'fd00:10:244:1::/64');
  assert.equal(parsePrefix('10.244.1.0')?.text, '10.244.1.0/32');
  for (const bad of ['10.244.1.0/33', '10.244.1/24', 'fd00::/129', 'eth0', '', '10.244.1.0/-1'])
    assert.equal(parsePrefix(bad), null, bad);
});

test('first host is what flannel writes as FLANNEL_SUBNET and the bridge puts on cni0', () => {
  assert.equal(firstHost(parsePrefix('10.244.1.0/24')!), '10.244.1.1');
  assert.equal(firstHost(parsePrefix('fd00:10:244:1::/64')!), 'fd00:10:244:1::1');
  assert.equal(firstHost(parsePrefix('10.244.255.255/32')!), '10.245.0.0');
});

test('containment and overlap across families', () => {
  const net = parsePrefix('10.244.0.0/16')!;
  assert.ok(covers(net, parsePrefix('10.244.3.0/24')!));
  assert.ok(!covers(net, parsePrefix('10.224.3.0/24')!));
  assert.ok(!covers(parsePrefix('10.244.3.0/24')!, net));
  assert.ok(overlaps(parsePrefix('10.244.0.0/23')!, parsePrefix('10.244.1.0/24')!));
  assert.ok(!overlaps(parsePrefix('10.244.2.0/24')!, parsePrefix('10.244.1.0/24')!));
  assert.ok(contains(net, '10.244.200.1'));
  assert.ok(!contains(net, 'fd00::1'), 'families never mix');
});

test('addresses compare canonically, IPv4-mapped IPv6 included', () => {
  assert.ok(sameIP('fd00:56::12', 'fd00:56:0:0::12'));
  assert.ok(sameIP('::ffff:10.0.0.1', '10.0.0.1'));
  assert.ok(!sameIP('10.0.0.1', '10.0.0.2'));
  assert.ok(!sameIP(null, '10.0.0.1'));
  assert.equal(normalizeIP('not-an-ip'), null);
  assert.ok(samePrefix('10.244.1.1/24', '10.244.1.0/24'), 'same network');
});

test('covers and contains agree with a BigInt model on every prefix length, both families', () => {
  const toBig = (bytes: readonly number[]) => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
  const inside = (outer: NonNullable<ReturnType<typeof parsePrefix>>, addr: bigint, bits: number) => {
    const shift = BigInt(bits - outer.length);
    return addr >> shift === toBig(outer.bytes) >> shift;
  };
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (const [bits, make] of [
    [32, () => Array.from({ length: 4 }, () => rand(256)).join('.')],
    [128, () => Array.from({ length: 8 }, () => rand(65536).toString(16)).join(':')],
  ] as const) {
    for (let i = 0; i < 2000; i++) {
      const base = make();
      const outer = parsePrefix(`${base}/${rand(bits + 1)}`)!;
      // Half the time an inner prefix sharing outer's leading bits, to exercise the bit just past the byte.
      const inner = parsePrefix(`${rand(2) ? base : make()}/${rand(bits + 1)}`)!;
      const addr = toBig(inner.bytes);
      assert.equal(
        covers(outer, inner),
        inner.length >= outer.length && inside(outer, addr, bits),
        `${outer.text} ⊇ ${inner.text}`,
      );
      assert.equal(contains(outer, inner.network), inside(outer, addr, bits), `${outer.text} ∋ ${inner.network}`);
    }
  }
});
