/**
 * What several commands share besides the cluster options (cluster-options.ts): where the snapshot
 * comes from. Commands import this module, never each other.
 */
import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { readBundleSnapshot } from '../bundle/read.js';
import { EXIT, UserError } from '../errors.js';
import { readSnapshot } from '../snapshot/io.js';
import type { Snapshot } from '../snapshot/types.js';

/** How a command gets a snapshot when not reading one from a file; set by the live collection module. */
export type SnapshotSource = (cmd: Command) => Promise<Snapshot>;

/** The snapshot a command works on: a saved file (snapshot or bundle) with --from, else collected live. */
export async function obtainSnapshot(
  from: string | undefined,
  cmd: Command,
  live: SnapshotSource | undefined,
): Promise<Snapshot> {
  if (from) return readSnapshotFile(from);
  if (!live) throw new UserError('live collection is not available in this build; use --from FILE', EXIT.usage);
  return live(cmd);
}

/** A saved snapshot or a support bundle, read whole. */
export async function readSnapshotFile(path: string): Promise<Snapshot> {
  return (await isGzip(path)) ? readBundleSnapshot(path) : readSnapshot(path);
}

/** A support bundle is a .tar.gz; a file that cannot be opened is left to readSnapshot, which names the reason. */
export async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}
