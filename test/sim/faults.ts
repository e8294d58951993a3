/**
 * The catalog's simulator faults (src/analyzers/fault-catalog), each joined with its injection (inject.ts): used
 * to generate the broken fixtures, by the live tests and by the trace tests.
 */
import { FAULT_CATALOG } from '../../src/analyzers/fault-catalog/catalog.js';
import type { FaultEntry, SimPackaging } from '../../src/analyzers/fault-catalog/types.js';
import type { Snapshot } from '../../src/snapshot/types.js';
import { rolesOf } from '../catalog/match.js';
import type { SimBackend, SimCluster } from './cluster.js';
import { SIM_ADD_TO_SNAPSHOT, SIM_INJECT } from './inject.js';

/** Pod traffic the fault breaks, by node name (test/analyzers/sim-live.test.ts proves it). */
export interface Breaks {
  readonly from: string;
  readonly to: string;
  /** ICMP payload bytes, sent with DF set; default 56. */
  readonly size?: number;
  /** ping the pod's IPv6 address */
  readonly ipv6?: true;
  /** ping this address of the destination's podCIDR (added to its pod first), not the pod's own .2 */
  readonly toHost?: number;
}

export interface Fault {
  readonly id: string;
  readonly backend: SimBackend;
  readonly description: string;
  readonly sim: SimPackaging;
  readonly breaks?: readonly Breaks[];
  apply(c: SimCluster): void;
  /** the probe results doctor --probe would add, for faults only packets reveal */
  readonly addToSnapshot?: (s: Snapshot) => Snapshot;
  /** the snapshot carries bundle's tcpdump samples (test/sim/samples.ts), taken after the fault is applied */
  readonly sampled?: true;
}

const SIM_NODES = ['node1', 'node2', 'node3'];

export const FAULTS: readonly Fault[] = FAULT_CATALOG.filter(
  (e): e is FaultEntry & { sim: SimPackaging } => e.sim !== undefined,
).map((e) => {
  const apply = SIM_INJECT[e.id];
  if (!apply) throw new Error(`fault catalog: ${e.id} has a sim packaging but test/sim/inject.ts has no injection`);
  const roles = rolesOf(SIM_NODES, e.sim.on);
  const breaks = e.sim.breaks?.map((b) => ({
    from: roles[b.from],
    to: roles[b.to],
    size: b.size,
    ipv6: b.ipv6,
    toHost: b.toHost,
  }));
  const addToSnapshot = SIM_ADD_TO_SNAPSHOT[e.id];
  return {
    id: e.id,
    backend: e.sim.backend,
    description: e.changes,
    sim: e.sim,
    breaks,
    apply,
    addToSnapshot,
    ...(e.sim.sampled ? { sampled: true as const } : {}),
  };
});
