// Bad input never throws and names the line.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBridgeFdbJson } from '../../src/parse/fdb-json.js';
import { parseBridgeFdbText } from '../../src/parse/fdb-text.js';
import { parseIptablesSave } from '../../src/parse/iptables-save.js';
import { parseIpAddrJson } from '../../src/parse/links-json.js';
import { parseIpAddrText } from '../../src/parse/links-text.js';
import { parseIpNeighJson } from '../../src/parse/neigh-json.js';
import { parseIpNeighText } from '../../src/parse/neigh-text.js';
import { parseIpRouteJson } from '../../src/parse/routes-json.js';
import { parseIpRouteText } from '../../src/parse/routes-text.js';
import { parseIpRuleJson } from '../../src/parse/rules-json.js';
import { parseIpRuleText } from '../../src/parse/rules-text.js';
import { parseSubnetEnv } from '../../src/parse/subnet-env.js';
import { parseSysctls } from '../../src/parse/sysctl.js';
import { parseWgDump } from '../../src/parse/wireguard.js';
import { raw } from './fixtures.js';

const parsers: [string, (s: string) => { errors: readonly unknown[] }][] = [
  ['addr json', parseIpAddrJson],
  ['addr text', parseIpAddrText],
  ['route json', (s) => parseIpRouteJson(s, 'inet')],
  ['route text', (s) => parseIpRouteText(s, 'inet')],
  ['rule json', (s) => parseIpRuleJson(s, 'inet')],
  ['rule text', (s) => parseIpRuleText(s, 'inet')],
  ['neigh json', parseIpNeighJson],
  ['neigh text', parseIpNeighText],
  ['fdb json', parseBridgeFdbJson],
  ['fdb text', parseBridgeFdbText],
  ['iptables', (s) => parseIptablesSave(s, 'nft', 'inet')],
  ['subnet.env', parseSubnetEnv],
  ['sysctl', parseSysctls],
  ['wg', parseWgDump],
];

test('every parser survives truncated and garbled real output without throwing', () => {
  const inputs = [
    raw('iproute2-json/addr.json'),
    raw('iproute2-text/addr.txt'),
    raw('iproute2-json/route4.json'),
    raw('iptables/iptables-nft-save.txt'),
  ];
  for (const input of inputs) {
    for (const cut of [1, 17, Math.floor(input.length / 2), input.length - 3]) {
      const garbled = input.slice(0, cut) + '\u0000{]\n:: @@\n' + input.slice(cut + 5);
      for (const [name, parse] of parsers) assert.doesNotThrow(() => parse(garbled), name);
    }
  }
  for (const [name, parse] of parsers) assert.deepEqual(parse('').errors, [], `${name}: empty output is no error`);
});

test('truncated JSON: one issue naming the line where parsing stopped', () => {
  const text = '[{"dst":"10.244.2.0/24",\n"dev":"flannel.1",\n"flags":["onlink"]\n';
  const r = parseIpRouteJson(text, 'inet');
  assert.equal(r.value.length, 0);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]?.line, 3);
  assert.match(r.errors[0]?.message ?? '', /^not valid JSON/);
  assert.match(parseIpAddrJson('{"ifname":"x"}').errors[0]?.message ?? '', /expected a JSON array/);
});

test('text parsers name the bad line and keep the good ones', () => {
  const r = parseIpRouteText(
    'default via 10.0.0.1 dev eth0\nnot-a-route here\n10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink\n',
    'inet',
  );
  assert.equal(r.value.length, 2);
  assert.deepEqual(
    r.errors.map((e) => [e.line, e.text]),
    [[2, 'not-a-route here']],
  );
  const l = parseIpAddrText('    inet 10.0.0.1/24 scope global eth0\n1: lo: <LOOPBACK> mtu 65536\n');
  assert.deepEqual(
    l.errors.map((e) => e.line),
    [1],
  );
  assert.equal(l.value[0]?.name, 'lo');
  assert.deepEqual(
    parseIpNeighText('10.0.0.1 dev eth0 lladdr aa:bb:cc:dd:ee:ff REACHABLE\nbogus\n').errors.map((e) => e.line),
    [2],
  );
  assert.deepEqual(
    parseIpRuleText('0:\tfrom all lookup local\nfrom all\n', 'inet').errors.map((e) => e.line),
    [2],
  );
  assert.deepEqual(parseBridgeFdbJson('[{"mac":"aa:bb:cc:dd:ee:ff"}]').errors.length, 1);
});

test('route text: multipath, "via inet6" and unknown keywords', () => {
  const r = parseIpRouteText(
    '10.96.0.0/12 proto static metric 20 newattr\n\tnexthop via 10.0.0.1 dev eth0 weight 1\n\tnexthop via 10.0.0.2 dev eth1 weight 1\n' +
      '10.1.0.0/16 via inet6 fe80::1 dev eth0 mtu lock 1400 expires 3sec\n',
    'inet',
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.value.map((x) => [x.dst, x.gateway, x.dev, x.metric, x.flags.join(',')]),
    [
      ['10.96.0.0/12', '10.0.0.1', 'eth0', 20, 'multipath'],
      ['10.1.0.0/16', 'fe80::1', 'eth0', null, ''],
    ],
  );
});
