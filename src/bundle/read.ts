/** Reading the snapshot back out of a support bundle, for `doctor --from bundle.tar.gz`. */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { UserError } from '../errors.js';
import { formatBytes, LIMITS } from '../files.js';
import { parseSnapshot } from '../snapshot/io.js';
import type { Snapshot } from '../snapshot/types.js';
import { BUNDLE_SNAPSHOT } from './write.js';

/** The snapshot inside a support bundle, checked as a snapshot file is. */
export async function readBundleSnapshot(path: string): Promise<Snapshot> {
  return parseSnapshot(await snapshotTextFromBundle(path), path);
}

/** The bundle's snapshot.json as text (snapshotChunksFromBundle says how sizes are bounded). */
export async function snapshotTextFromBundle(path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of snapshotChunksFromBundle(path)) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The bundle's snapshot.json, inflated chunk by chunk. Sizes are bounded while streaming: an entry whose
 * tar header (or whose inflated bytes) exceed the limit is refused before it is held in memory, so a small
 * bundle that inflates to gigabytes costs no more than the limit.
 */
export async function* snapshotChunksFromBundle(path: string): AsyncGenerator<Buffer> {
  const ex = extract();
  const input = createReadStream(path).pipe(createGunzip());
  input.on('error', (e) => ex.destroy(e));
  input.pipe(ex);
  const tooLarge = (name: string, max: number) =>
    new UserError(`${path}: bundle entry ${name} is larger than ${formatBytes(max)}, the most it may be; refused`);
  try {
    for await (const entry of ex) {
      const name = entry.header.name;
      const isSnapshot = name.split('/').pop() === BUNDLE_SNAPSHOT;
      const max = isSnapshot ? LIMITS.snapshotBytes : LIMITS.bundleEntryBytes;
      if ((entry.header.size ?? 0) > max) throw tooLarge(name, max);
      if (isSnapshot) {
        let total = 0;
        for await (const c of entry) {
          total += (c as Uint8Array).length;
          if (total > max) throw tooLarge(name, max);
          yield Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
        }
        return;
      }
      entry.resume();
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path} is not a readable support bundle: ${(e as Error).message}`);
  } finally {
    input.destroy();
    ex.destroy();
  }
  throw new UserError(`${path} is a tar.gz without ${BUNDLE_SNAPSHOT}: not a kubectl-flannel support bundle`);
}
