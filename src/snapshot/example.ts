/**
 * The bundled example (`doctor --example`): fixtures/example/broken-vxlan.json, a simulated 3-node vxlan cluster
 * with five faults. Imported, not read from disk, so the bundle and the single executable carry it.
 */
import example from '../../fixtures/example/broken-vxlan.json' with { type: 'json' };
import { parseSnapshot } from './io.js';
import type { Snapshot } from './types.js';

export const EXAMPLE_NAME = 'the bundled example (fixtures/example/broken-vxlan.json)';

/** Validated like any snapshot file, so the example can never drift from what doctor accepts. */
export function exampleSnapshot(): Snapshot {
  return parseSnapshot(JSON.stringify(example), EXAMPLE_NAME);
}
