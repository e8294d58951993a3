// The parts of a peer's podCIDR the walk follows one address each of (src/analyzers/path/pod-parts.ts), against the
// kernel: random routes inside a /24 (the peer's podCIDR, itself routed as flanneld routes it) in a network
// namespace this test creates, then `ip route get` for every pod address of the /24. Every distinct answer the
// kernel gives must be the answer for some part's address, and no two parts may share the set of prefixes that
// hold them (one walk per class, no class twice). Reproduce a run with PARTS_SEED=<seed>.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { type Addr, parseAddrPrefix } from '../../src/analyzers/fib/addr.js';
import { podParts } from '../../src/analyzers/path/pod-parts.js';
import { parsePrefix } from '../../src/net/cidr.js';
import { rng, run } from './kernel-support.js';

const root = process.getuid?.() === 0;
const POD_CIDR = parsePrefix('10.244.3.0/24')!;

test('pod parts: a /25 inside a /24 makes two parts, each named by what holds it', () => {
  const inner = [parseAddrPrefix('10.244.3.128/25')!];
  assert.deepEqual(podParts(POD_CIDR, inner, '10.244.3.2'), [
    { addr: '10.244.3.2', label: '10.244.3.0/24 outside 10.244.3.128/25', answerFor: '10.244.3.1' },
    { addr: '10.244.3.128', label: '10.244.3.128/25', answerFor: '10.244.3.254' },
  ]);
});

test('pod parts: nested prefixes make one part per run between their bounds', () => {
  const inner = ['10.244.3.0/25', '10.244.3.64/26', '10.244.3.2/32'].map((p) => parseAddrPrefix(p)!);
  const parts = podParts(POD_CIDR, inner, '10.244.3.2');
  assert.deepEqual(
    parts.map((p) => [p.addr, p.label]),
    [
      ['10.244.3.2', '10.244.3.2/32'],
      ['10.244.3.128', '10.244.3.0/24 outside 10.244.3.0/25'],
      ['10.244.3.64', '10.244.3.64/26'],
      ['10.244.3.3', '10.244.3.0/25 outside 10.244.3.64/26, 10.244.3.2/32'],
    ],
  );
});

test('pod parts: every answer the kernel gives over the podCIDR is the answer for some part', {
  skip: !root && 'needs root',
}, () => {
  const seed = Number(process.env.PARTS_SEED ?? randomBytes(4).readUInt32LE());
  const r = rng(seed);
  const ns = `wpp${randomBytes(3).toString('hex')}`;
  const ip = (...argv: string[]) => {
    const out = run(['ip', '-n', ns, ...argv]);
    assert.equal(out.stderr, '', `ip -n ${ns} ${argv.join(' ')}: ${out.stderr}`);
    return out.stdout;
  };
  assert.equal(run(['ip', 'netns', 'add', ns]).stderr, '');
  try {
    for (const [dev, net] of [
      ['d0', '192.168.0'],
      ['d1', '192.168.1'],
    ] as const) {
      // a veth pair (this kernel has no dummy devices): routes need only a device that is up
      ip('link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
      ip('addr', 'add', `${net}.1/24`, 'dev', dev);
      ip('link', 'set', `${dev}p`, 'up');
      ip('link', 'set', dev, 'up');
    }
    let rounds = 0;
    for (; rounds < 40; rounds++) {
      ip('route', 'flush', 'table', 'main', 'proto', 'static');
      // flanneld's route to the peer's podCIDR, and 1-4 prefixes inside it that take some addresses elsewhere
      ip('route', 'add', POD_CIDR.text, 'via', '192.168.0.2', 'dev', 'd0', 'proto', 'static');
      const inner: Addr[] = [];
      const count = 1 + Math.floor(r() * 4);
      for (let i = 0; i < count; i++) {
        const length = 25 + Math.floor(r() * 8);
        const start = Math.floor((r() * 256) / 2 ** (32 - length)) * 2 ** (32 - length);
        const text = `10.244.3.${start}/${length}`;
        if (inner.some((p) => `${parseAddrPrefix(text)!.value}/${length}` === `${p.value}/${p.length}`)) continue;
        inner.push(parseAddrPrefix(text)!);
        ip('route', 'add', text, 'via', `192.168.1.${10 + i}`, 'dev', 'd1', 'proto', 'static');
      }
      const batch = Array.from({ length: 253 }, (_, k) => `route get 10.244.3.${k + 2}`).join('\n');
      const out = run(['ip', '-n', ns, '-batch', '-'], `${batch}\n`);
      assert.equal(out.stderr, '', out.stderr);
      const answers = new Map<string, string>();
      for (const line of out.stdout.split('\n')) {
        const m = /^(\S+) via (\S+) dev (\S+)/.exec(line);
        if (m) answers.set(m[1]!, `${m[2]} ${m[3]}`);
      }
      assert.equal(answers.size, 253, `seed ${seed}: the kernel answered for every address`);
      const parts = podParts(POD_CIDR, inner, '10.244.3.2');
      const covered = new Set(parts.map((p) => answers.get(p.addr)));
      const distinct = new Set(answers.values());
      const what = `seed ${seed} round ${rounds}: ${inner.map((p) => `${p.value}/${p.length}`).join(' ')}`;
      assert.deepEqual([...covered].sort(), [...distinct].sort(), `${what}: the parts' answers vs the kernel's`);
      // no two parts are the same class: each holds a different set of prefixes
      const sigs = parts.map((p) => {
        const a = parseAddrPrefix(p.addr)!;
        return inner.map((s) => (a.value >> BigInt(32 - s.length)) << BigInt(32 - s.length) === s.value).join();
      });
      assert.equal(new Set(sigs).size, parts.length, `${what}: two parts of one class`);
    }
    assert.equal(rounds, 40);
  } finally {
    run(['ip', 'netns', 'del', ns]);
  }
});
