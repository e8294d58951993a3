// The secrets corpus over a bundle with tcpdump samples: packets carrying secret markers in their payload (a VXLAN
// datagram, an ESP packet) captured by the real tcpdump at the samples' snaplen in namespaces made here, written as
// the samples' pcapng, and a snapshot whose samples record the corpus' secrets as the reasons nodes have none. No
// marker may appear in any file of the bundle, the pcapng included; the same capture without the snaplen does hold
// them (so the markers were on the wire and it is the snaplen that keeps them out).

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { bundleFiles } from '../../src/bundle/write.js';
import type { CapturedPacket } from '../../src/capture/packet.js';
import { CaptureReader } from '../../src/capture/pcap-reader.js';
import { PcapngWriter } from '../../src/capture/pcapng-writer.js';
import { sampleSnaplen } from '../../src/live/samples.js';
import { guardSnapshot } from '../../src/parse/redact/guard.js';
import { buildReport } from '../../src/render/report.js';
import { renderJSON } from '../../src/render/structured.js';
import { styleFor } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import type { Backend, Snapshot } from '../../src/snapshot/types.js';
import { cli } from '../capture/helpers.js';
import { findLeak, LOG_LINES, marker, STDERR_LINE } from './corpus.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const id = randomBytes(3).toString('hex');
const nsA = `kfsa${id}`;
const nsB = `kfsb${id}`;
const dir = mkdtempSync(join(tmpdir(), 'kf-samples-secrets-'));
const skip = process.getuid?.() === 0 ? false : 'needs root to create network namespaces';

const VXLAN_PAYLOAD_MARKER = marker('samples-vxlan-payload', 'alnum', 32);
const ESP_PAYLOAD_MARKER = marker('samples-esp-payload', 'hex', 64);

before(() => {
  if (skip) return;
  execFileSync('ip', ['netns', 'add', nsA]);
  execFileSync('ip', ['netns', 'add', nsB]);
  execFileSync('ip', ['-n', nsA, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nsB]);
  for (const [ns, dev, ip] of [
    [nsA, 'va', '10.77.0.1/24'],
    [nsB, 'vb', '10.77.0.2/24'],
  ] as const) {
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    execFileSync('ip', ['-n', ns, 'addr', 'add', ip, 'dev', dev]);
    execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
});
after(() => {
  spawnSync('ip', ['netns', 'del', nsA]);
  spawnSync('ip', ['netns', 'del', nsB]);
  rmSync(dir, { recursive: true, force: true });
});

/** tcpdump in B while A sends a VXLAN-port datagram and an ESP packet with the markers past their headers. */
async function capture(snaplen: number, filter: string, file: string, count: number): Promise<void> {
  const dump = spawn(
    'ip',
    [
      'netns',
      'exec',
      nsB,
      'tcpdump',
      '-U',
      '-n',
      '-i',
      'vb',
      '-s',
      String(snaplen),
      '-c',
      String(count),
      '-w',
      file,
      filter,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  dump.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise((r) => dump.on('exit', r));
  while (!err.includes('listening on')) await new Promise((r) => setTimeout(r, 20));
  // VXLAN: 8-byte header, inner Ethernet, IPv4 and a 32-byte TCP header (74 bytes), then the secret.
  // ESP: SPI, sequence number and 24 bytes of IV and ciphertext, then the secret.
  const py = `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
e = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
for _ in range(2):
    u.sendto(b"\\x08" + b"\\x00" * 73 + ${JSON.stringify(VXLAN_PAYLOAD_MARKER)}.encode(), ("10.77.0.2", 8472))
    e.sendto(b"\\x00\\x00\\x10\\x01" + b"\\x00\\x00\\x00\\x01" + b"\\x55" * 24 + bytes.fromhex(${JSON.stringify(ESP_PAYLOAD_MARKER)}), ("10.77.0.2", 0))
`;
  execFileSync('ip', ['netns', 'exec', nsA, 'python3', '-c', py]);
  const timer = setTimeout(() => dump.kill('SIGINT'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function packets(file: string): Promise<CapturedPacket[]> {
  const out: CapturedPacket[] = [];
  for await (const b of new CaptureReader(createReadStream(file), file))
    out.push(...b.map((p) => ({ ...p, data: Buffer.from(p.data) })));
  return out;
}

function text(files: readonly { name: string; content: string | Buffer }[]): { name: string; text: string }[] {
  return files.map((f) => ({
    name: f.name,
    text: typeof f.content === 'string' ? f.content : f.content.toString('latin1'),
  }));
}

test('a bundle with samples holds no secret: not in the packets (snaplen), not in the reasons nodes have none', {
  skip,
}, async () => {
  const vxlan = sampleSnaplen({ type: 'vxlan' } as Backend);
  const routed = sampleSnaplen(null);
  // Two tcpdumps as bundle runs them: the vxlan port at vxlan's snaplen, ESP at the ipsec backend's.
  await capture(vxlan, 'udp port 8472', join(dir, 'vxlan.pcap'), 2);
  await capture(routed, 'esp', join(dir, 'esp.pcap'), 2);
  await capture(0, 'udp port 8472 or esp', join(dir, 'full.pcap'), 4);
  const full = (await packets(join(dir, 'full.pcap'))).map((p) => p.data.toString('latin1')).join('');
  assert.notEqual(findLeak(full + Buffer.from(full, 'latin1').toString('hex')), null, 'the markers were on the wire');

  const chunks: Buffer[] = [];
  const writer = new PcapngWriter(
    new Writable({
      write: (c: Buffer, _e, cb) => {
        chunks.push(c);
        cb();
      },
    }),
  );
  await writer.begin();
  for (const [name, file, snaplen] of [
    ['node2/eth0', 'vxlan.pcap', vxlan],
    ['node3/eth0', 'esp.pcap', routed],
  ] as const) {
    const ps = await packets(join(dir, file));
    assert.equal(ps.length, 2, `${file}: both packets captured`);
    const iface = await writer.addInterface({ name, linkType: ps[0]!.linkType, snaplen, nanosecond: false });
    await writer.write(ps.map((packet) => ({ iface, packet })));
  }
  const pcapng = Buffer.concat(chunks);

  const base = await readSnapshot(join(ROOT, 'fixtures/snapshots/vxlan/healthy.json'));
  const source = (node: string, error: string | null) => ({
    node,
    iface: 'eth0',
    role: 'uplink' as const,
    family: null,
    listeningMs: error ? null : 1,
    endedMs: 2,
    cappedAtMs: null,
    receivedByFilter: null,
    droppedByKernel: null,
    packets: error ? 0 : 2,
    error,
    flows: [],
  });
  const leaky: Snapshot = {
    ...base,
    underlaySamples: {
      status: 'ok',
      data: {
        what: 'UDP 8472 (vxlan)',
        durationMs: 5000,
        snaplen: vxlan,
        file: 'samples/overlay.pcapng',
        sources: [
          source('node1', `exec failed: ${STDERR_LINE}`),
          source('node2', null),
          source('node3', LOG_LINES[0]!),
        ],
      },
    },
  };
  assert.notEqual(findLeak(JSON.stringify(leaky)), null, 'the leaky snapshot does hold secrets');
  const snap = guardSnapshot(leaky, { keepXfrmKeys: false });
  const report = buildReport(snap, analyze(snap));
  const files = text(
    bundleFiles(snap, renderText(report, styleFor({ isTTY: false }, {}, true)), renderJSON(report), pcapng),
  );
  assert.ok(files.some((f) => f.name.endsWith('samples/overlay.pcapng')));
  assert.ok(
    files.some(
      (f) => f.name.endsWith('samples/sources.txt') && f.text.includes('node1/eth0: not sampled: exec failed'),
    ),
  );
  for (const f of files) {
    const leak = findLeak(f.name.endsWith('.pcapng') ? f.text + Buffer.from(f.text, 'latin1').toString('hex') : f.text);
    assert.equal(leak, null, `bundle file ${f.name}: ${leak}`);
  }

  // And through the CLI: bundle --from a snapshot that still holds them.
  const file = join(dir, 'leaky.json');
  writeFileSync(file, JSON.stringify(leaky));
  const out = join(dir, 'leaky.tar.gz');
  const r = cli(['bundle', '--from', file, '-f', out]);
  assert.equal(r.status, 0, r.stderr.toString());
  const x = mkdtempSync(join(dir, 'x-'));
  execFileSync('tar', ['xzf', out, '-C', x]);
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  const extracted = walk(x);
  assert.ok(extracted.some((p) => p.endsWith('samples/sources.txt')));
  for (const p of extracted) assert.equal(findLeak(readFileSync(p, 'utf8')), null, p);
});
