/**
 * A support bundle: one .tar.gz to attach to a ticket. It holds the snapshot (the only thing
 * `doctor --from` needs to re-analyse offline) plus the same data laid out for people: the
 * report, each node's command output as files, the Node objects and the flannel pods' logs.
 * Secrets are already out of the snapshot; the bundle adds nothing that is not in it, and runs the
 * redaction guard over the snapshot and the reports once more before anything is written.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { guardSnapshot, guardText } from '../parse/redact/guard.js';
import type { Snapshot, UnderlaySamples } from '../snapshot/types.js';

export const BUNDLE_SNAPSHOT = 'snapshot.json';

export const BUNDLE_MANIFEST = 'manifest.json';

export interface BundleFile {
  readonly name: string;
  /** Text, or the samples' pcapng (binary: headers of captured packets, no text to redact). */
  readonly content: string | Buffer;
}

/**
 * Every file of the bundle, in the order they are written, the manifest last. `samples` is the pcapng of
 * bundle's tcpdump samples (its summary is in the snapshot, `underlaySamples`), or null.
 */
export function bundleFiles(
  collected: Snapshot,
  reportText: string,
  reportJSON: string,
  samples: Buffer | null = null,
): BundleFile[] {
  // A bundle is meant to be shared: never keys, whatever the snapshot holds.
  const snapshot = guardSnapshot(collected, { keepXfrmKeys: false });
  const root = `flannel-bundle-${snapshot.collectedAt.replace(/[:.]/g, '-')}`;
  const files: BundleFile[] = [
    { name: 'README.txt', content: readme(snapshot) },
    { name: BUNDLE_SNAPSHOT, content: JSON.stringify(snapshot, null, 1) + '\n' },
    { name: 'report.txt', content: guardText(reportText) },
    { name: 'report.json', content: guardText(reportJSON) },
  ];
  const c = snapshot.cluster;
  if (c.flannel.status === 'ok' && c.flannel.data.netConfRaw !== null)
    files.push({ name: 'cluster/net-conf.json', content: c.flannel.data.netConfRaw + '\n' });
  if (c.nodes.status === 'ok')
    files.push({ name: 'cluster/nodes.json', content: JSON.stringify(c.nodes.data, null, 2) + '\n' });
  if (c.flannelPods.status === 'ok') {
    files.push({
      name: 'cluster/flannel-pods.json',
      content:
        JSON.stringify(
          c.flannelPods.data.map(({ logTail: _l, ...p }) => p),
          null,
          2,
        ) + '\n',
    });
    for (const p of c.flannelPods.data)
      files.push({ name: `cluster/flannel-logs/${safe(p.name)}.log`, content: p.logTail.join('\n') + '\n' });
  }
  for (const [node, h] of Object.entries(snapshot.hosts)) {
    if (h.status !== 'ok') {
      files.push({ name: `nodes/${safe(node)}/NOT-COLLECTED.txt`, content: `${h.status}: ${h.error}\n` });
      continue;
    }
    for (const r of h.data.raw) {
      const head = `$ ${r.argv.join(' ')}\n# exit ${r.exitCode ?? 'none'}, ${r.durationMs} ms${'fallbackReason' in r && r.fallbackReason ? `, fallback because: ${String(r.fallbackReason)}` : ''}\n`;
      files.push({
        name: `nodes/${safe(node)}/${safe(r.id)}.txt`,
        content: head + r.stdout + (r.stderr ? `\n--- stderr ---\n${r.stderr}` : ''),
      });
    }
  }
  const u = snapshot.underlaySamples;
  if (u) files.push({ name: 'samples/sources.txt', content: guardText(samplesText(u)) });
  if (u?.status === 'ok' && u.data.file && samples) files.push({ name: u.data.file, content: samples });
  files.push({ name: BUNDLE_MANIFEST, content: manifest(snapshot, files) });
  return files.map((f) => ({ name: `${root}/${f.name}`, content: f.content }));
}

/** What every file is (size and SHA-256), and which node interfaces have tcpdump samples or why not. */
function manifest(s: Snapshot, files: readonly BundleFile[]): string {
  const u = s.underlaySamples;
  return `${JSON.stringify(
    {
      collectedAt: s.collectedAt,
      files: files.map((f) => ({
        name: f.name,
        bytes: Buffer.byteLength(f.content),
        sha256: createHash('sha256').update(f.content).digest('hex'),
      })),
      samples:
        u === undefined
          ? { status: 'not taken' }
          : u.status !== 'ok'
            ? { status: u.status, error: u.error }
            : {
                status: 'ok',
                file: u.data.file,
                what: u.data.what,
                durationMs: u.data.durationMs,
                snaplen: u.data.snaplen,
                interfaces: u.data.sources.map((x) => ({
                  name: `${x.node}/${x.iface}`,
                  packets: x.packets,
                  droppedByKernel: x.droppedByKernel,
                  error: x.error,
                })),
              },
    },
    null,
    2,
  )}\n`;
}

function samplesText(u: NonNullable<Snapshot['underlaySamples']>): string {
  if (u.status !== 'ok') return `no tcpdump samples: ${u.status}: ${u.error}\n`;
  const d: UnderlaySamples = u.data;
  const lines = [
    `tcpdump samples: ${d.what} on each node's uplink, and its flannel device; ${d.durationMs / 1000} s, the first ${d.snaplen} bytes of each packet (headers only)`,
    d.file
      ? `packets: ${d.file} (one interface per node/device; Wireshark and tshark read it)`
      : 'packets: none captured',
    '',
  ];
  for (const x of d.sources)
    lines.push(
      x.error
        ? `${x.node}/${x.iface}: not sampled: ${x.error}`
        : `${x.node}/${x.iface}: ${x.packets} packets, ${x.receivedByFilter ?? 'unknown'} received by filter, ${x.droppedByKernel ?? 'unknown'} dropped by kernel${x.cappedAtMs !== null ? ' (stopped keeping packets at the per-interface bound)' : ''}`,
    );
  return `${lines.join('\n')}\n`;
}

export async function writeBundle(path: string, files: readonly BundleFile[]): Promise<void> {
  // Opened first, so a path that cannot be written fails here, before any tar entry is in flight.
  const fh = await open(path, 'w', 0o600);
  const tar = pack();
  const mtime = new Date();
  // An entry's own error is the pipeline's error; the callback keeps it from being thrown unhandled.
  for (const f of files) tar.entry({ name: f.name, mode: 0o600, mtime }, f.content, () => undefined);
  tar.finalize();
  await pipeline(tar, createGzip(), fh.createWriteStream());
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

function readme(s: Snapshot): string {
  return `kubectl-flannel support bundle
collected: ${s.collectedAt}
source: ${s.source.description}

snapshot.json       everything collected; re-analyse offline with:
                      kubectl flannel doctor --from <this .tar.gz or snapshot.json>
                      kubectl flannel trace --from <this .tar.gz> <src IP> <dst IP>
report.txt, .json   doctor's findings at collection time
manifest.json       every file with its size and SHA-256, and which node interfaces have samples
samples/            a few seconds of tcpdump on every node (the overlay on the uplink, the flannel
                      device), headers only; sources.txt says why a node has none
cluster/            net-conf.json (PSK removed), Node objects, flannel pods and their last log lines
nodes/<node>/       the output of every command run on the node (ip, bridge, ip xfrm, iptables-save, ...)

Secrets were removed at collection: the IPsec and WireGuard PSKs, xfrm keys (replaced by a
SHA-256 digest prefix so SAs on two nodes can still be compared) and WireGuard private keys.
The samples keep only packet headers (payloads are user data); ESP stays encrypted.
`;
}
