import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SYSCTLS } from '../../src/collectors/node/commands.js';
import { localRunner } from '../../src/collectors/node/local.js';
import { iptablesBackendOf, parseIptablesSave } from '../../src/parse/iptables-save.js';
import { redactCommandOutput as redactSecrets } from '../../src/parse/redact/command-output.js';
import { redactWgDump } from '../../src/parse/redact/wireguard.js';
import { ABSENT_MARKER, parseSubnetEnv } from '../../src/parse/subnet-env.js';
import { parseSysctls } from '../../src/parse/sysctl.js';
import { parseWgDump } from '../../src/parse/wireguard.js';
import { raw } from './fixtures.js';

test('subnet.env: dual-stack file, absent marker, bad values named by line', () => {
  assert.deepEqual(parseSubnetEnv(raw('subnet-env/dual-stack.env')).value, {
    network: '10.244.0.0/16',
    subnet: '10.244.1.1/24',
    ipv6Network: 'fd00:10:244::/56',
    ipv6Subnet: 'fd00:10:244:1::1/64',
    mtu: 1450,
    ipMasq: true,
  });
  assert.deepEqual(parseSubnetEnv(`${ABSENT_MARKER} /run/flannel/subnet.env\n`), { value: null, errors: [] });
  const bad = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nthis is not a var\nFLANNEL_MTU=abc\n');
  assert.deepEqual(
    bad.errors.map((e) => [e.line, e.message]),
    [
      [2, 'expected KEY=value'],
      [3, 'FLANNEL_MTU is not a number'],
    ],
  );
  assert.equal(bad.value?.network, '10.244.0.0/16');
});

test('sysctls: the collector snippet on this host gives what /proc/sys holds; absent files are absent keys', async () => {
  const form = SYSCTLS.forms[0];
  const res = await localRunner().run(form.argv);
  assert.equal(res.exitCode, 0, res.stderr);
  const { value, errors } = parseSysctls(res.stdout);
  assert.deepEqual(errors, []);
  assert.equal(value['net.ipv4.ip_forward'], readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim());
  assert.equal(
    value['net.ipv4.conf.lo.rp_filter'],
    readFileSync('/proc/sys/net/ipv4/conf/lo/rp_filter', 'utf8').trim(),
  );
  const parsedAbsent = parseSysctls(
    '/proc/sys/net/ipv4/ip_forward=1\n#absent /proc/sys/net/bridge/bridge-nf-call-iptables\n',
  );
  assert.deepEqual(parsedAbsent.value, { 'net.ipv4.ip_forward': '1' });
  assert.equal(parseSysctls('garbage\n').errors[0]?.line, 1);
});

// Hand-made: this kernel has no wireguard module, so `wg show all dump` cannot run here. The
// fixture follows the documented dump format (see fixtures/raw/README.md).
test('wg show all dump: devices and peers; private key dropped, preshared key only a boolean', () => {
  const text = raw('wireguard/wg-show-all-dump.txt');
  const privateKey = text.split('\n')[0]?.split('\t')[1] ?? '';
  const psk = text.split('\n')[1]?.split('\t')[2] ?? '';
  const { value, errors } = parseWgDump(text);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    value.map((d) => [d.name, d.listenPort, d.peers.length]),
    [
      ['flannel-wg', 51820, 2],
      ['flannel-wg-v6', 51821, 1],
    ],
  );
  const [live, stale] = value[0]?.peers ?? [];
  assert.deepEqual(
    { ...live, publicKey: '' },
    {
      publicKey: '',
      presharedKey: true,
      endpoint: '192.168.56.12:51820',
      allowedIPs: ['10.244.2.0/24'],
      latestHandshake: 1763778000,
      persistentKeepalive: 25,
    },
  );
  assert.deepEqual(
    { ...stale, publicKey: '' },
    {
      publicKey: '',
      presharedKey: false,
      endpoint: null,
      allowedIPs: [],
      latestHandshake: 0,
      persistentKeepalive: null,
    },
  );
  assert.equal(value[1]?.peers[0]?.endpoint, '[fd00:56::12]:51821');
  const json = JSON.stringify(value);
  assert.ok(!json.includes(privateKey) && !json.includes(psk));
  const redacted = redactWgDump(text);
  assert.ok(!redacted.includes(privateKey) && !redacted.includes(psk));
  assert.ok(redacted.includes(value[0]?.publicKey ?? '?'), 'public keys stay');
  assert.ok(!redactWgDump(`broken\t${privateKey}\n`).includes(privateKey), 'keys on malformed lines are hidden too');
});

test('iptables-save: flannel chains and rules in order, same in legacy and nft backends', () => {
  const legacy = parseIptablesSave(raw('iptables/iptables-legacy-save.txt'), 'legacy', 'inet');
  const nft = parseIptablesSave(raw('iptables/iptables-nft-save.txt'), 'nft', 'inet');
  assert.deepEqual(legacy.errors, []);
  assert.deepEqual(nft.errors, []);
  const nat = legacy.value.tables['nat'];
  assert.equal(nat?.chains['POSTROUTING']?.policy, 'ACCEPT');
  assert.equal(nat?.chains['FLANNEL-POSTRTG']?.policy, '-');
  assert.deepEqual(
    nat?.rules
      .filter((r) => r.chain === 'FLANNEL-POSTRTG')
      .map((r) => r.spec.replace(/ -m comment --comment "flanneld masq"/, '')),
    [
      '-m mark --mark 0x4000/0x4000 -j RETURN',
      '-s 10.244.1.0/24 -d 10.244.0.0/16 -j RETURN',
      '-s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN',
      '! -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN',
      '-s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully',
      '! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE --random-fully',
    ],
  );
  assert.equal(legacy.value.tables['filter']?.chains['FORWARD']?.policy, 'DROP');
  assert.deepEqual(nft.value.tables, legacy.value.tables);
  assert.equal(nft.value.backend, 'nft');
  assert.deepEqual(parseIptablesSave(raw('iptables/ip6tables-legacy-save.txt'), 'legacy', 'inet6').value.tables, {});
  const v6 = parseIptablesSave(raw('iptables/ip6tables-nft-save.txt'), 'nft', 'inet6').value;
  assert.deepEqual(
    v6.tables['filter']?.rules.map((r) => r.chain),
    ['FORWARD', 'FLANNEL-FWD'],
  );
});

test('iptables-save: backend of a plain iptables-save from its header; stray lines are issues', () => {
  assert.equal(iptablesBackendOf(raw('iptables/iptables-nft-save.txt')), 'nft');
  assert.equal(iptablesBackendOf(raw('iptables/iptables-legacy-save.txt')), 'legacy');
  const r = parseIptablesSave('-A FORWARD -j ACCEPT\n*filter\n:INPUT ACCEPT [0:0]\nbogus\nCOMMIT\n', 'legacy', 'inet');
  assert.deepEqual(
    r.errors.map((e) => e.line),
    [1, 4],
  );
});

test('redactSecrets hides PSK-like assignments and keeps the rest', () => {
  const input = '"PSK": "hunter2hunter2",\nPresharedKey = abc123=\npassword=s3cret x\nBackend type vxlan\n';
  const out = redactSecrets(input);
  for (const s of ['hunter2hunter2', 'abc123=', 's3cret']) assert.ok(!out.includes(s), s);
  assert.match(out, /Backend type vxlan/);
  assert.match(out, /"PSK": "<redacted>"/);
});

// Hand-made from iproute2's documented ipip format (flannel-internals.md §7.3): this kernel
// has no ipip module, so flannel.ipip cannot be created here.
test('ip -d addr text: an ipip device has kind ipip, no MAC and no parent', async () => {
  const { parseIpAddrText } = await import('../../src/parse/links-text.js');
  const text = [
    '5: flannel.ipip@NONE: <NOARP,UP,LOWER_UP> mtu 1480 qdisc noqueue state UNKNOWN group default qlen 1000',
    '    link/ipip 192.168.56.11 brd 0.0.0.0 promiscuity 0 minmtu 0 maxmtu 0',
    '    ipip any remote any local 192.168.56.11 ttl inherit nopmtudisc numtxqueues 1 numrxqueues 1',
    '    inet 10.244.1.0/32 scope global flannel.ipip',
    '       valid_lft forever preferred_lft forever',
  ].join('\n');
  const { value, errors } = parseIpAddrText(text);
  assert.deepEqual(errors, []);
  assert.deepEqual([value[0]?.kind, value[0]?.mac, value[0]?.parent, value[0]?.mtu], ['ipip', null, null, 1480]);
  assert.deepEqual(value[0]?.addresses, [{ family: 'inet', local: '10.244.1.0', prefixlen: 32, scope: 'global' }]);
});
