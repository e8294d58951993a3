// The arrival-drop fix against the real kernel: two network namespaces this test creates, a sender (node2's
// address) and a receiver (node3's) joined by a veth pair named eth0 on both ends. The receiver gets an nftables
// netdev ingress chain on eth0, as the lab's arrival-drop fault writes it (a rule for another sender first, then
// the overlay's UDP 8472 from node2), and its ruleset is read back as the collector reads it (`nft -j list
// ruleset`). With that ruleset on node3 of the vxlan snapshot and doctor --probe's answer for the pair (the probe
// arrived on node3's uplink, never reached flannel.1), underlay-probe must print the one nft command that deletes
// the dropping rule; the test sends real datagrams before (none arrive) and after running the command as printed
// (they arrive), and the other rule is still there.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { trace } from '../../src/analyzers/trace/trace.js';
import type { Snapshot } from '../../src/snapshot/types.js';

const root = process.getuid?.() === 0;
const sh = (argv: string[]) =>
  execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const SENDER = '192.168.56.12';
const RECEIVER = '192.168.56.13';

/** Datagrams to RECEIVER:8472 from the sender's netns; the receiver counts what arrives. */
async function delivered(sender: string, count: () => number): Promise<number> {
  const before = count();
  sh([
    'ip',
    'netns',
    'exec',
    sender,
    process.execPath,
    '-e',
    `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>s.send('probe',8472,'${RECEIVER}',()=>{if(++n<3)setTimeout(go,50);else s.close()});go();`,
  ]);
  await new Promise((r) => setTimeout(r, 400));
  return count() - before;
}

test('arrival-drop: underlay-probe names the nft ingress rule that drops the overlay, and deleting it as printed lets it in', {
  skip: !root && 'needs root for network namespaces',
  timeout: 60_000,
}, async () => {
  const tag = `kfar${randomBytes(3).toString('hex')}`;
  const [A, B] = [`${tag}a`, `${tag}b`];
  const table = `${tag}_arrival`;
  let receiver: ChildProcess | null = null;
  try {
    for (const ns of [A, B]) sh(['ip', 'netns', 'add', ns]);
    sh(['ip', 'link', 'add', `${tag}x`, 'netns', A, 'type', 'veth', 'peer', `${tag}y`, 'netns', B]);
    for (const [ns, dev, ip] of [
      [A, `${tag}x`, SENDER],
      [B, `${tag}y`, RECEIVER],
    ] as const) {
      sh(['ip', '-n', ns, 'link', 'set', dev, 'name', 'eth0']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    const nft = (...args: string[]) => sh(['ip', 'netns', 'exec', B, 'nft', ...args]);
    nft('add', 'table', 'netdev', table);
    nft('add', 'chain', 'netdev', table, 'arrival', '{ type filter hook ingress device eth0 priority 0; }');
    nft('add', 'rule', 'netdev', table, 'arrival', 'ip', 'saddr', '192.168.56.99', 'drop');
    nft('add', 'rule', 'netdev', table, 'arrival', 'ip', 'saddr', SENDER, 'udp', 'dport', '8472', 'drop');
    let got = 0;
    receiver = spawn(
      'ip',
      [
        'netns',
        'exec',
        B,
        process.execPath,
        '-e',
        `const s=require('dgram').createSocket('udp4');s.on('message',()=>console.log('got'));s.bind(8472,()=>console.log('ready'));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) =>
      receiver!.stdout!.on('data', (d: Buffer) => {
        got += (d.toString().match(/got/g) ?? []).length;
        if (d.toString().includes('ready')) resolve();
      }),
    );
    assert.equal(await delivered(A, () => got), 0, 'the ingress rule drops the overlay before the fix');

    const s = JSON.parse(readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8')) as Snapshot;
    const h = s.hosts['node3'];
    assert.ok(h?.status === 'ok' && h.data.firewall.status === 'ok');
    const firewall = {
      ...h.data.firewall.data,
      nftRuleset: nft('list', 'ruleset'),
      nftJson: nft('-j', 'list', 'ruleset'),
    };
    const pair = (from: string, fromIP: string, to: string, toIP: string, delivered: number) => ({
      from,
      to,
      fromIP,
      toIP,
      sent: 2,
      seen: 2,
      delivered,
      deliveredOn: 'flannel.1',
      error: null,
    });
    const probed: Snapshot = {
      ...s,
      hosts: { ...s.hosts, node3: { status: 'ok', data: { ...h.data, firewall: { status: 'ok', data: firewall } } } },
      underlayProbe: {
        status: 'ok',
        data: {
          what: 'UDP 8472 (vxlan)',
          sampled: false,
          pairs: [pair('node2', SENDER, 'node3', RECEIVER, 0), pair('node3', RECEIVER, 'node2', SENDER, 2)],
        },
      },
    };
    const handle = /handle (\d+)/.exec(
      nft('-a', 'list', 'chain', 'netdev', table, 'arrival')
        .split('\n')
        .find((l) => l.includes(`ip saddr ${SENDER} udp dport 8472 drop`)) ?? '',
    )?.[1];
    assert.ok(handle);
    // Without the probe the ruleset alone says it: the walk and trace read the uplink's ingress hook (the lab's
    // faults.test found both passing node2's overlay to node3 while the pings failed).
    const plain: Snapshot = { ...probed, underlayProbe: undefined };
    const walked = analyze(plain, { only: ['pod-path'] }).findings;
    assert.deepEqual(
      walked.map((f) => [f.node, f.peer, f.severity, f.message.replace(/: dropped.*/, '')]),
      [['node3', 'node2', 'error', 'pod and node traffic from node2 stops at eth0 ingress (outer)']],
    );
    assert.match(walked[0]!.fix, new RegExp(`^On node3: nft delete rule netdev ${table} arrival handle ${handle} `));
    const t = trace(plain, '10.244.2.2', '10.244.3.2');
    assert.notEqual(t.brokenAt, null, 'trace says node2 -> node3 reaches');
    assert.deepEqual([t.hops[t.brokenAt!]!.node, t.hops[t.brokenAt!]!.step], ['node3', 'ingress']);
    assert.equal(trace(plain, '10.244.3.2', '10.244.2.2').brokenAt, null, 'node3 -> node2 is not filtered');
    // with the probe's evidence, underlay-probe names the cause on node3 and the walk does not repeat it
    assert.deepEqual(
      analyze(probed)
        .findings.filter((f) => f.check === 'pod-path')
        .map((f) => f.message),
      [],
    );
    const found = analyze(probed).findings.filter((f) => f.check === 'underlay-probe');
    assert.deepEqual(
      found.map((f) => [f.node, f.peer, f.fix]),
      [
        [
          'node3',
          'node2',
          `On node3: nft delete rule netdev ${table} arrival handle ${handle} (on eth0 ingress it drops the overlay's UDP 8472 from ${SENDER}: nft netdev ${table} arrival handle ${handle}: ip saddr ${SENDER} udp dport 8472 drop)`,
        ],
      ],
    );
    // run it as an operator would: the command after "On node3:", without the remark
    const command = /^On node3: (.*?) \([^()]*\)$/.exec(found[0]!.fix)?.[1];
    assert.ok(command);
    sh(['ip', 'netns', 'exec', B, 'sh', '-c', command]);
    assert.equal(await delivered(A, () => got), 3, 'after the printed fix the overlay arrives');
    assert.match(
      nft('list', 'chain', 'netdev', table, 'arrival'),
      /ip saddr 192\.168\.56\.99 drop/,
      'nothing else deleted',
    );
  } finally {
    receiver?.kill();
    for (const ns of [A, B])
      try {
        sh(['ip', 'netns', 'del', ns]);
      } catch {}
  }
});
