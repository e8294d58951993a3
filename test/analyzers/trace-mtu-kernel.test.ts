// The MTU model trace judges the underlay by (mtu-model.ts), against the kernel: two network namespaces joined by a
// veth, a VXLAN device on each created with MTU 1450 over a 1500-byte uplink, then one uplink lowered to 1400 (the
// mtu-underlay fault). A 1450-byte DF packet is sent each way; the receiving VXLAN device's RX counter says whether it
// arrived. The model says: the 1500-byte outer packet leaves the lowered uplink in fragments and arrives (VXLAN's
// outer header has no DF), and the receiver with the lowered uplink drops it on arrival.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fragmentsOuter, outerSize } from '../../src/analyzers/mtu-model.js';
import { parseNetConf } from '../../src/parse/netconf.js';
import { run } from './kernel-support.js';

const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';
// flanneld's VXLAN defaults (VNI 1, port 8472), as its net-conf.json parser reads them
const netConf = parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}');
assert.ok(netConf.ok);
const VXLAN = netConf.netConf.backend;

function ip(...args: string[]): string {
  const r = run(['ip', ...args]);
  if (r.stderr) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const rxPackets = (ns: string) =>
  (JSON.parse(ip('-n', ns, '-s', '-j', 'link', 'show', 'vx')) as { stats64: { rx: { packets: number } } }[])[0]!.stats64
    .rx.packets;

/** Whether a DF packet of `size` bytes sent from `from` to `to` over VXLAN reaches `to`'s VXLAN device. */
function arrives(from: string, to: string, toAddr: string, size: number): boolean {
  const before = rxPackets(to);
  run(['ip', 'netns', 'exec', from, 'ping', '-c', '1', '-W', '1', '-M', 'do', '-s', String(size - 28), toAddr]);
  return rxPackets(to) > before;
}

/** The model's answer: the sender fragments what its uplink cannot carry, the receiver drops what its uplink cannot. */
function modelArrives(inner: number, senderUplink: number, receiverUplink: number): boolean {
  const outer = outerSize(VXLAN, inner, false);
  if (outer > senderUplink && !fragmentsOuter(VXLAN)) return false;
  return Math.min(outer, senderUplink) <= receiverUplink;
}

test('mtu model vs kernel: a VXLAN packet above the sender uplink is fragmented, above the receiver uplink dropped', {
  skip,
}, () => {
  const p = `tm${randomBytes(3).toString('hex')}`;
  const [a, b] = [`${p}a`, `${p}b`];
  try {
    ip('netns', 'add', a);
    ip('netns', 'add', b);
    ip('link', 'add', `${p}va`, 'netns', a, 'type', 'veth', 'peer', 'name', `${p}vb`, 'netns', b);
    const ends = [
      { ns: a, dev: `${p}va`, under: '192.0.2.1', pod: '10.9.1.0' },
      { ns: b, dev: `${p}vb`, under: '192.0.2.2', pod: '10.9.2.0' },
    ] as const;
    for (const e of ends) {
      ip('-n', e.ns, 'addr', 'add', `${e.under}/24`, 'dev', e.dev);
      ip('-n', e.ns, 'link', 'set', e.dev, 'up');
      ip('-n', e.ns, 'link', 'add', 'vx', 'type', 'vxlan', 'id', '1', 'local', e.under, 'dev', e.dev);
      ip('-n', e.ns, 'link', 'set', 'vx', 'mtu', '1450', 'up');
      ip('-n', e.ns, 'addr', 'add', `${e.pod}/32`, 'dev', 'vx');
    }
    const macOf = (ns: string) =>
      (JSON.parse(ip('-n', ns, '-j', 'link', 'show', 'vx')) as { address: string }[])[0]!.address;
    for (const [self, peer] of [
      [ends[0], ends[1]],
      [ends[1], ends[0]],
    ] as const) {
      const mac = macOf(peer.ns);
      ip('-n', self.ns, 'neigh', 'add', peer.pod, 'lladdr', mac, 'dev', 'vx', 'nud', 'permanent');
      ip('-n', self.ns, 'route', 'add', `${peer.pod.replace(/\.0$/, '.0/24')}`, 'via', peer.pod, 'dev', 'vx', 'onlink');
      const r = run(['bridge', '-n', self.ns, 'fdb', 'add', mac, 'dev', 'vx', 'dst', peer.under, 'self', 'permanent']);
      assert.equal(r.stderr, '', r.stderr);
    }
    // the fault: a's uplink lowered after its VXLAN device was created (the kernel refuses 1450 over 1400 otherwise)
    ip('-n', a, 'link', 'set', `${p}va`, 'mtu', '1400');
    assert.ok(arrives(a, b, '10.9.2.0', 84), 'a small packet a -> b arrives');
    const cases = [
      { from: a, to: b, addr: '10.9.2.0', sender: 1400, receiver: 1500 },
      { from: b, to: a, addr: '10.9.1.0', sender: 1500, receiver: 1400 },
    ];
    for (const size of [1350, 1450])
      for (const c of cases)
        assert.equal(
          arrives(c.from, c.to, c.addr, size),
          modelArrives(size, c.sender, c.receiver),
          `${size} bytes from the uplink of mtu ${c.sender} to the one of ${c.receiver}`,
        );
  } finally {
    run(['ip', 'netns', 'del', a]);
    run(['ip', 'netns', 'del', b]);
  }
});
