/** Reading the snapshot back out of a support bundle, for `doctor --from bundle.tar.gz`. */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { UserError } from '../errors.js';
import { parseSnapshot } from '../snapshot/io.js';
import type { Snapshot } from '../snapshot/types.js';
import { BUNDLE_SNAPSHOT } from './write.js';

/** The snapshot inside a support bundle, checked as a snapshot file is. */
export async function readBundleSnapshot(path: string): Promise<Snapshot> {
  return parseSnapshot(await snapshotTextFromBundle(path), path);
}

export async function snapshotTextFromBundle(path: string): Promise<string> {
  const ex = extract();
  const input = createReadStream(path).pipe(createGunzip());
  input.on('error', (e) => ex.destroy(e));
  input.pipe(ex);
  try {
    for await (const entry of ex) {
      if (entry.header.name.split('/').pop() === BUNDLE_SNAPSHOT) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(Buffer.from(c as Uint8Array));
        return Buffer.concat(chunks).toString('utf8');
      }
      entry.resume();
    }
  } catch (e) {
    throw new UserError(`${path} is not a readable support bundle: ${(e as Error).message}`);
  }
  throw new UserError(`${path} is a tar.gz without ${BUNDLE_SNAPSHOT}: not a kubectl-flannel support bundle`);
}
