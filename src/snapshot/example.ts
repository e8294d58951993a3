/**
 * The bundled example (`doctor --example`): fixtures/example/broken-vxlan.json, a simulated 3-node vxlan cluster
 * with five faults. The bundle (scripts/bundle.mjs) carries its text, so the single executable needs no file;
 * from dist/src it is read from the repository.
 */
import { readFileSync } from 'node:fs';
import { parseSnapshot } from './io.js';
import type { Snapshot } from './types.js';

/** The example's JSON text, set by scripts/bundle.mjs; absent when running from dist/src. */
declare const KUBECTL_FLANNEL_EXAMPLE: string | undefined;

export const EXAMPLE_NAME = 'the bundled example (fixtures/example/broken-vxlan.json)';

/** Validated like any snapshot file, so the example can never drift from what doctor accepts. */
export function exampleSnapshot(): Snapshot {
  const text =
    typeof KUBECTL_FLANNEL_EXAMPLE === 'string'
      ? KUBECTL_FLANNEL_EXAMPLE
      : readFileSync(new URL('../../../fixtures/example/broken-vxlan.json', import.meta.url), 'utf8');
  return parseSnapshot(text, EXAMPLE_NAME);
}
