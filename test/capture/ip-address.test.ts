import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressBytes, formatAddress } from '../../src/capture/ip-address.js';

test('addresses from ip xfrm state become the bytes found in packet headers', () => {
  assert.deepEqual(addressBytes('172.18.0.3'), Buffer.from([172, 18, 0, 3]));
  assert.deepEqual(addressBytes('10.244.1.0/24'), Buffer.from([10, 244, 1, 0]));
  assert.equal(addressBytes('fd00:56::11')!.toString('hex'), 'fd000056000000000000000000000011');
  assert.equal(addressBytes('::')!.toString('hex'), '0'.repeat(32));
  assert.equal(addressBytes('::ffff:1.2.3.4')!.toString('hex'), '00000000000000000000ffff01020304');
  assert.equal(addressBytes('2001:db8:1:2:3:4:5:6')!.toString('hex'), '20010db8000100020003000400050006');
  assert.equal(addressBytes('not-an-address'), null);
  assert.equal(addressBytes('300.1.1.1'), null);
});

test('formatAddress is the inverse, in RFC 5952 form', () => {
  for (const a of ['172.18.0.3', 'fd00:56::11', '::', '2001:db8:1:2:3:4:5:6', 'fe80::1:0:0:2']) {
    assert.equal(formatAddress(addressBytes(a)!), a);
  }
});
