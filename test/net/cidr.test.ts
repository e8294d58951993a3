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
