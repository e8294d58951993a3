/**
 * Finding a pod's network namespace by its IP, against real network namespaces made here
 * (the same /var/run/netns layout containerd and CRI-O use), run through the local runner
 * instead of a helper pod. The helper-pod path is exercised in lab.test.ts.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { localRunner } from '../../src/collectors/node/local.js';
import { findPodNetns, netnsRunner } from '../../src/collectors/node/pod-runner.js';

const isRoot = process.getuid?.() === 0;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

test('findPodNetns finds the namespace holding a pod IP, and netnsRunner runs commands inside it', {
  skip: isRoot ? false : 'needs root to create network namespaces',
}, async (t) => {
  const id = randomBytes(3).toString('hex');
  const a = `kf${id}a`;
  const b = `kf${id}b`;
  // Unique addresses so namespaces other tests create at the same time cannot match.
  const octet = 1 + (parseInt(id.slice(0, 2), 16) % 250);
  const ipA = `10.213.${octet}.10`;
  const ipB = `10.213.${octet}.11`;
  t.after(() => {
    for (const ns of [a, b]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  });
  ip('netns', 'add', a);
  ip('netns', 'add', b);
  ip('link', 'add', `kv${id}a`, 'type', 'veth', 'peer', 'name', `kv${id}b`);
  ip('link', 'set', `kv${id}a`, 'netns', a);
  ip('link', 'set', `kv${id}b`, 'netns', b);
  ip('-n', a, 'addr', 'add', `${ipA}/24`, 'dev', `kv${id}a`);
  ip('-n', b, 'addr', 'add', `${ipB}/24`, 'dev', `kv${id}b`);

  const host = localRunner();
  assert.equal(await findPodNetns(host, ipA), `/var/run/netns/${a}`);
  assert.equal(await findPodNetns(host, ipB), `/var/run/netns/${b}`);
  // A prefix of an address is not the address.
  assert.equal(await findPodNetns(host, `10.213.${octet}.1`), null);

  const inA = netnsRunner(host, `/var/run/netns/${a}`);
  const r = await inA.run(['ip', '-o', '-4', 'addr', 'show']);
  assert.equal(r.exitCode, 0);
  assert.match(r.stdout, new RegExp(`inet ${ipA.replace(/\./g, '\\.')}/24`));
  assert.doesNotMatch(r.stdout, new RegExp(ipB.replace(/\./g, '\\.')));
  assert.match(inA.description, /netns \/var\/run\/netns\/kf/);

  await assert.rejects(findPodNetns(host, '10.0.0.1; rm -rf /'), /not an IP address/);
});
