import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNetConf } from '../../src/parse/netconf.js';
import { redactNetConf } from '../../src/parse/redact/netconf.js';

const redactNetConfRaw = (t: string): string => redactNetConf(t).text;

import type { NetConf } from '../../src/snapshot/types.js';

function ok(text: string): NetConf {
  const r = parseNetConf(text);
  if (!r.ok) assert.fail(`expected ${text} to parse, got: ${r.error}`);
  return r.netConf;
}

function bad(text: string): string {
  const r = parseNetConf(text);
  if (r.ok) assert.fail(`expected ${text} to be rejected`);
  return r.error;
}

test('the shipped kube-flannel.yml net-conf gets vxlan defaults: VNI 1, port 8472, no learning/GBP/DirectRouting', () => {
  const nc = ok(
    '{\n  "Network": "10.244.0.0/16",\n  "EnableNFTables": false,\n  "Backend": {\n    "Type": "vxlan"\n  }\n}\n',
  );
  assert.deepEqual(nc, {
    network: '10.244.0.0/16',
    ipv6Network: null,
    enableIPv4: true,
    enableIPv6: false,
    enableNFTables: false,
    backend: { type: 'vxlan', vni: 1, port: 8472, gbp: false, learning: false, directRouting: false, mtu: null },
    warnings: [],
  });
});

test('keys match case-insensitively like Go encoding/json, and the last spelling in the document wins', () => {
  const nc = ok('{"network":"10.1.0.0/16","BACKEND":{"type":"VXLAN","directrouting":true,"vni":4,"port":4789}}');
  assert.equal(nc.network, '10.1.0.0/16');
  assert.deepEqual(nc.backend, {
    type: 'vxlan',
    vni: 4,
    port: 4789,
    gbp: false,
    learning: false,
    directRouting: true,
    mtu: null,
  });
  // Go assigns every key to the field it folds to, in document order, so an exact spelling
  // early on is overwritten by a folded one later.
  const exact = ok('{"Network":"10.2.0.0/16","network":"10.3.0.0/16","Backend":{"Type":"host-gw"}}');
  assert.equal(exact.network, '10.3.0.0/16');
  const last = ok('{"NETWORK":"10.2.0.0/16","network":"10.3.0.0/16","Backend":{"Type":"host-gw"}}');
  assert.equal(last.network, '10.3.0.0/16');
});

test('Backend absent means udp (port 8285) with a warning, not vxlan', () => {
  const nc = ok('{"Network":"10.244.0.0/16"}');
  assert.deepEqual(nc.backend, { type: 'udp', port: 8285 });
  assert.match(nc.warnings.join('\n'), /Backend is absent.*udp/);
});

test('ignored keys are warned about, naming where the setting really lives', () => {
  const nc = ok('{"Network":"10.244.0.0/16","ipMasq":false,"SubnetLen":26,"Backend":{"Type":"vxlan","Learnin":true}}');
  const w = nc.warnings.join('\n');
  assert.match(w, /ipMasq is not a net-conf.json setting.*--ip-masq/);
  assert.match(w, /SubnetLen is only used in etcd mode/);
  assert.match(w, /Backend.Learnin is not a vxlan backend setting/);
  assert.equal(nc.backend.type === 'vxlan' && nc.backend.learning, false);
});

test('wrong JSON types are fatal, as they are for flanneld, and the error names the key', () => {
  assert.match(
    bad('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":"1"}}'),
    /Backend.VNI must be an integer, got string "1"/,
  );
  assert.match(
    bad('{"Network":"10.244.0.0/16","EnableIPv6":"yes","Backend":{"Type":"vxlan"}}'),
    /EnableIPv6 must be true or false/,
  );
  assert.match(
    bad('{"Network":"10.244.0.0/33","Backend":{"Type":"vxlan"}}'),
    /Network is not a valid IPv4 CIDR: "10.244.0.0\/33"/,
  );
  assert.match(
    bad('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlam"}}'),
    /Backend.Type "vxlam" is not a flannel backend/,
  );
  assert.match(bad('{"Network":"10.244.0.0/16","Backend":{}}'), /Backend.Type is missing/);
  assert.match(bad('{"Network":'), /not valid JSON/);
  assert.match(bad('[1]'), /must be a JSON object, got array/);
});

test('null leaves a field at its default, like Go', () => {
  const nc = ok('{"Network":"10.244.0.0/16","EnableIPv4":null,"Backend":{"Type":"vxlan","VNI":null}}');
  assert.equal(nc.enableIPv4, true);
  assert.equal(nc.backend.type === 'vxlan' && nc.backend.vni, 1);
});

test('host bits in Network are masked as Go ParseCIDR does, with a warning', () => {
  const nc = ok('{"Network":"10.244.3.7/16","Backend":{"Type":"host-gw"}}');
  assert.equal(nc.network, '10.244.0.0/16');
  assert.match(nc.warnings.join(), /host bits set/);
});

test('wireguard: defaults, PSK recorded as set but never its value', () => {
  const psk = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=';
  const nc = ok(
    JSON.stringify({
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: 'fd00:10:244::/56',
      Backend: { Type: 'wireguard', PSK: psk, Mode: 'auto' },
    }),
  );
  assert.deepEqual(nc.backend, {
    type: 'wireguard',
    listenPort: 51820,
    listenPortV6: 51821,
    mtu: null,
    pskSet: true,
    persistentKeepalive: 0,
    mode: 'auto',
  });
  assert.equal(JSON.stringify(nc).includes(psk), false);
  assert.equal(nc.ipv6Network, 'fd00:10:244::/56');
});

test('ipsec: PSK length only (netconf-invalid judges a short one), never the PSK', () => {
  const psk = 'x'.repeat(40);
  const nc = ok(JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'ipsec', psk, UDPEncap: true } }));
  assert.deepEqual(nc.backend, {
    type: 'ipsec',
    pskLength: 40,
    udpEncap: true,
    espProposal: 'aes128gcm16-sha256-prfsha256-ecp256',
  });
  assert.deepEqual(nc.warnings, [], "a short PSK is the check's error, not a parser warning too");
  assert.equal(JSON.stringify(nc).includes(psk), false);
});

test('EnableIPv6 with a backend that cannot do dual-stack is warned about', () => {
  const nc = ok('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/56","Backend":{"Type":"ipip"}}');
  assert.match(nc.warnings.join(), /EnableIPv6 has no effect with the ipip backend/);
});

test('redactNetConfRaw blanks PSKs at any depth and any key case, keeping the rest byte for byte', () => {
  const psk = 'S3cr3t-PSK-value\\"with quote';
  const raw = `{\n  "Network": "10.244.0.0/16",\n  "Backend": {\n    "Type": "ipsec",\n    "pSk" :  "${psk}",\n    "UDPEncap": false\n  }\n}\n`;
  const red = redactNetConfRaw(raw);
  assert.equal(red.includes('S3cr3t'), false);
  assert.equal(red, raw.replace(`"${psk}"`, '"<redacted: 27 characters>"'));
  // Still valid JSON that parses to the same settings.
  const again = parseNetConf(red);
  assert.ok(again.ok);
  assert.equal(
    redactNetConfRaw('{"Backend":{"Type":"tencent-vpc","AccessKeySecret":"abc"}}'),
    '{"Backend":{"Type":"tencent-vpc","AccessKeySecret":"<redacted: 3 characters>"}}',
  );
  // Broken JSON still gets its secret removed.
  assert.equal(redactNetConfRaw('{"Backend":{"PSK":"topsecret",').includes('topsecret'), false);
  // A value that merely equals the word psk is not a key; the value of a key flanneld does not know is not shown.
  assert.equal(redactNetConfRaw('{"Name":"psk","Other":"x"}'), '{"Name":"psk","Other":"<redacted: 1 character>"}');
});
