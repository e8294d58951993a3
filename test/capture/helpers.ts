/** Shared by the capture tests: scapy vectors, running the CLI, reading pcaps back. */
import { execFileSync, type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'bin/kubectl-flannel');
// Debian's python3 (with python3-scapy), not whatever python3 comes first on PATH.
export const PYTHON = '/usr/bin/python3';

export interface Vectors {
  readonly dir: string;
  readonly manifest: {
    packets: { kind: string; sa: string | null }[];
    sas: { name: string; spi: number; src: string; dst: string }[];
  };
  cleanup(): void;
}

export function makeVectors(extraArgs: string[] = []): Vectors {
  const dir = mkdtempSync(join(tmpdir(), 'kf-esp-'));
  execFileSync(PYTHON, [join(ROOT, 'test/capture/make_vectors.py'), dir, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    dir,
    manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function cli(args: string[], opts: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(CLI, args, { input: opts.input, env: { ...process.env, ...opts.env }, maxBuffer: 1 << 28 });
}

export interface PcapRecord {
  readonly sec: number;
  readonly frac: number;
  readonly origLen: number;
  readonly data: Buffer;
}

/** A deliberately naive whole-file pcap reader for assertions (independent of src/capture). */
export function readPcapFile(path: string): { magic: number; linkType: number; records: PcapRecord[] } {
  const b = readFileSync(path);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const records: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const caplen = u32(off + 8);
    records.push({
      sec: u32(off),
      frac: u32(off + 4),
      origLen: u32(off + 12),
      data: b.subarray(off + 16, off + 16 + caplen),
    });
    off += 16 + caplen;
  }
  return { magic: u32(0), linkType: u32(20), records };
}
