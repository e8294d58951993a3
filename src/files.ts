/**
 * Reading user-named files with a size limit, and telling whether two paths name one file.
 * Every input has a limit so that a wrong path (/dev/zero, a huge log) is refused with a
 * clear line instead of growing memory until the machine gives up.
 */
import { realpathSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from './errors.js';

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;

export const LIMITS = {
  /** A snapshot file or bundle entry: V8 cannot hold a longer string, so JSON.parse could not read it. */
  snapshotBytes: 512 * MiB,
  /** Any other entry of a support bundle. */
  bundleEntryBytes: 512 * MiB,
  /** A support bundle as compressed on disk. */
  bundleBytes: 512 * MiB,
  /** `ip xfrm state` text for capture: tens of thousands of SAs fit in a few MiB. */
  xfrmStateBytes: 64 * MiB,
} as const;

export function formatBytes(n: number): string {
  return n >= MiB ? `${Math.round(n / MiB)} MiB` : `${n} bytes`;
}

/**
 * The file's bytes, refused past `max` without reading more than max+1 bytes: works on pipes
 * and devices, whose size stat does not know.
 */
export async function readBounded(path: string, max: number, what: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, max + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > max) throw new UserError(`${what} ${path} is larger than ${formatBytes(max)}, the most it may be`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}

/**
 * The file's bytes in chunks, as readBounded reads them and refused past `max` with the same error, for a
 * reader that handles them as they come (a snapshot analysed while it is read).
 */
export async function* boundedChunks(path: string, max: number, what: string): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, max + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      total += bytesRead;
      if (total > max) throw new UserError(`${what} ${path} is larger than ${formatBytes(max)}, the most it may be`);
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** The real path of `p`, or of its directory joined with its name when `p` does not exist yet. */
function realOrPlanned(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(p))), basename(p));
    } catch {
      return resolve(p);
    }
  }
}

/** True when the two paths name the same file (through symlinks, `..` and relative paths). */
export function sameFile(a: string, b: string): boolean {
  if (realOrPlanned(a) === realOrPlanned(b)) return true;
  try {
    // Hard links: one inode under two names.
    const [sa, sb] = [statSync(a), statSync(b)];
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
