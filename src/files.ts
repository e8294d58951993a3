/**
 * Reading user-named files with a size limit, telling whether two paths name one file, and refusing an output
 * path that cannot be written before the work that fills it.
 * Every input has a limit so that a wrong path (/dev/zero, a huge log) is refused with a
 * clear line instead of growing memory until the machine gives up.
 */
import { accessSync, constants, realpathSync, type Stats, statSync } from 'node:fs';
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

/**
 * Throws a UserError naming `flag` and `path` when the file could not be created or replaced there: a missing
 * or non-directory parent, a directory in its place, no write permission. Called before collecting, because a
 * snapshot or bundle is minutes of work on a large cluster, and finding the path wrong at the end loses it.
 * The write itself still reports what this cannot foresee (a full disk).
 */
export function assertWritable(flag: string, path: string): void {
  const target = statOrNull(path, flag, path);
  if (target?.isDirectory()) throw new UserError(`${flag} ${path}: is a directory; name a file in it`);
  if (target) return canWrite(path, `${flag} ${path}: cannot write the file`);
  const dir = dirname(resolve(path));
  const parent = statOrNull(dir, flag, path);
  if (!parent) throw new UserError(`${flag} ${path}: directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw new UserError(`${flag} ${path}: ${dir} is not a directory`);
  canWrite(dir, `${flag} ${path}: cannot write in ${dir}`);
}

/** The same for a file to be created in the current directory under a name chosen later (bundle without -f). */
export function assertCurrentDirectoryWritable(what: string): void {
  canWrite('.', `cannot write ${what} in the current directory ${process.cwd()}`);
}

function canWrite(p: string, message: string): void {
  try {
    accessSync(p, constants.W_OK);
  } catch (e) {
    throw new UserError(
      `${message} (${(e as NodeJS.ErrnoException).code === 'EROFS' ? 'read-only file system' : 'permission denied'})`,
    );
  }
}

function statOrNull(p: string, flag: string, path: string): Stats | null {
  try {
    return statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new UserError(`${flag} ${path}: a part of the path is not a directory`);
    throw new UserError(`${flag} ${path}: ${(e as Error).message}`);
  }
}
