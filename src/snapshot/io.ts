/**
 * Reading and writing snapshot files, with errors that name the file and what is wrong.
 * A support bundle is read by src/bundle/read.ts, which hands its snapshot.json to parseSnapshot.
 */
import { writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { LIMITS, readBounded } from '../files.js';
import { SCHEMA_VERSION, type Snapshot } from './types.js';
import { validateSnapshot } from './validate.js';

export async function readSnapshot(path: string): Promise<Snapshot> {
  let text: string;
  try {
    text = (await readBounded(path, LIMITS.snapshotBytes, 'snapshot')).toString('utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new UserError(
      `cannot read snapshot ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message}`,
    );
  }
  return parseSnapshot(text, path);
}

/** Parses and validates: what this returns has every field the schema names, of its type. */
export function parseSnapshot(text: string, name: string): Snapshot {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${name} is not a snapshot: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new UserError(`${name} is not a snapshot: expected a JSON object`);
  const o = v as Record<string, unknown>;
  if (!('schemaVersion' in o))
    throw new UserError(
      `${name} is not a snapshot: it has no schemaVersion (make one with \`kubectl flannel doctor --save FILE\`)`,
    );
  if (o.schemaVersion !== SCHEMA_VERSION)
    throw new UserError(
      `${name} has snapshot schemaVersion ${JSON.stringify(o.schemaVersion)}; this kubectl-flannel reads version ${SCHEMA_VERSION}`,
    );
  return validateSnapshot(v, name);
}

export async function writeSnapshot(path: string, snapshot: Snapshot): Promise<void> {
  try {
    await writeFile(path, JSON.stringify(snapshot, null, 1) + '\n', { mode: 0o600 });
  } catch (e) {
    throw new UserError(`cannot write snapshot to ${path}: ${(e as Error).message}`);
  }
}
