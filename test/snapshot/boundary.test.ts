// The snapshot boundary: every snapshot read from a file or a bundle is validated against the schema,
// field by field, and every input has a size limit. Each reproducer of issue 8 is one case here.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { snapshotTextFromBundle } from '../../src/bundle/read.js';
import { UserError } from '../../src/errors.js';
import { LIMITS } from '../../src/files.js';
import { parseSnapshot } from '../../src/snapshot/io.js';

const dir = mkdtempSync(join(tmpdir(), 'kf-boundary-'));
const HEALTHY = 'fixtures/snapshots/vxlan/healthy.json';
// biome-ignore lint/suspicious/noExplicitAny: mutating arbitrary JSON
type Json = any;
const healthy = (): Json => JSON.parse(readFileSync(HEALTHY, 'utf8'));
const cli = (args: string[]) =>
  spawnSync('bin/kubectl-flannel', args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

function rejects(mutate: (s: Json) => void, message: string): void {
  const s = healthy();
  mutate(s);
  assert.throws(
    () => parseSnapshot(JSON.stringify(s), 'snapshot.json'),
    (e: unknown) => e instanceof UserError && e.message === `snapshot.json is not a valid snapshot: ${message}`,
  );
}

test('the healthy fixtures of every backend pass the schema', () => {
  for (const b of ['vxlan', 'host-gw', 'udp', 'ipip', 'ipsec', 'wireguard', 'vxlan-directrouting', 'vxlan-dualstack'])
    parseSnapshot(readFileSync(`fixtures/snapshots/${b}/healthy.json`, 'utf8'), b);
});

test('reproducers: each wrong field is named by its JSON path with what was expected', () => {
  rejects((s) => {
    s.hosts.node1 = null;
  }, 'hosts.node1: expected object, got null');
  rejects((s) => {
    s.cluster.nodes.data[0] = null;
  }, 'cluster.nodes.data[0]: expected object, got null');
  rejects((s) => {
    s.cluster.nodes.data[0].podCIDRs = null;
  }, 'cluster.nodes.data[0].podCIDRs: expected array, got null');
  rejects((s) => {
    delete s.cluster.flannel.data.netConf;
  }, 'cluster.flannel.data.netConf: missing');
  rejects((s) => {
    s.cluster.flannel.data.netConf.data.network = {};
  }, 'cluster.flannel.data.netConf.data.network: expected string or null, got object');
  rejects((s) => {
    s.hosts.node1 = {};
  }, 'hosts.node1.status: missing (expected one of "ok", "failed", "timeout", "skipped", "unavailable")');
  rejects((s) => {
    s.hosts.node2.data.routes.data[3].dst = null;
  }, 'hosts.node2.data.routes.data[3].dst: expected string, got null');
  rejects((s) => {
    s.cluster.flannel.data.netConf.data.backend.type = 'vxlan2';
  }, 'cluster.flannel.data.netConf.data.backend.type: expected one of "vxlan", "host-gw", "udp", "ipip", "wireguard", "ipsec", "other", got string "vxlan2"');
  rejects((s) => {
    s.hosts['node 1'] = structuredClone(s.hosts.node1);
    s.hosts['node 1'].data.sysctls.data['net.ipv4.ip_forward'] = 1;
  }, 'hosts["node 1"].data.sysctls.data["net.ipv4.ip_forward"]: expected string, got number 1');
});

test('through the CLI: a bad snapshot is one line naming the file and the field, exit 3', () => {
  const s = healthy();
  s.hosts.node1 = null;
  const file = join(dir, 'host-null.json');
  writeFileSync(file, JSON.stringify(s));
  const r = cli(['doctor', '--from', file]);
  assert.equal(r.status, 3);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `kubectl-flannel: ${file} is not a valid snapshot: hosts.node1: expected object, got null\n`);
});

test('doctor --from /dev/zero is refused at the size limit, not read forever', () => {
  const r = cli(['doctor', '--from', '/dev/zero']);
  assert.equal(r.status, 3);
  assert.equal(r.stderr, 'kubectl-flannel: snapshot /dev/zero is larger than 512 MiB, the most it may be\n');
});

test('a bundle whose snapshot.json inflates to 700 MB is refused with bounded memory', async () => {
  const file = join(dir, 'bomb.tar.gz');
  const size = 700 * 1024 * 1024;
  const tar = pack();
  const entry = tar.entry({ name: 'flannel-bundle-x/snapshot.json', size, mode: 0o600 });
  const zeros = Buffer.alloc(1 << 20, 0x20);
  const done = pipeline(tar, createGzip({ level: 1 }), createWriteStream(file));
  await pipeline(
    Readable.from(
      (function* () {
        for (let i = 0; i < size / zeros.length; i++) yield zeros;
      })(),
    ),
    entry,
  );
  tar.finalize();
  await done;
  const before = process.memoryUsage();
  await assert.rejects(
    snapshotTextFromBundle(file),
    (e: unknown) =>
      e instanceof UserError &&
      e.message ===
        `${file}: bundle entry flannel-bundle-x/snapshot.json is larger than 512 MiB, the most it may be; refused`,
  );
  const after = process.memoryUsage();
  assert.ok(after.arrayBuffers - before.arrayBuffers < 64 << 20, 'inflated bytes were not held');
  assert.ok(after.rss - before.rss < 256 << 20, `rss grew by ${(after.rss - before.rss) >> 20} MiB`);
  const r = cli(['doctor', '--from', file]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /^kubectl-flannel: .*bomb\.tar\.gz: bundle entry .*snapshot\.json is larger than 512 MiB/);
  assert.equal(LIMITS.snapshotBytes, 512 * 1024 * 1024);
});
