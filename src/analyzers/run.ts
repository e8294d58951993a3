/** Runs the checks over a snapshot. Pure: the same snapshot always gives the same findings. */

import { UserError } from '../errors.js';
import type { Snapshot } from '../snapshot/types.js';
import { type Check, toFinding } from './check.js';
import collectionIncomplete from './checks/collection-incomplete.js';
import { clusterContext, nodeContext } from './context.js';
import { type Finding, SEVERITY_ORDER } from './finding.js';
import { CHECKS } from './index.js';
import { buildModel } from './model.js';

export interface RunOptions {
  /** Run only these check IDs. */
  readonly only?: readonly string[];
  readonly skip?: readonly string[];
}

export interface AnalysisResult {
  readonly findings: readonly Finding[];
  readonly checksRun: readonly string[];
  /**
   * Why the analysis does not cover everything: a check that threw, a node or a part that was
   * not collected. Empty means complete; otherwise no verdict may claim the cluster is clean.
   */
  readonly incomplete: readonly string[];
}

export function selectChecks(opts: RunOptions): Check[] {
  const known = new Set(CHECKS.map((c) => c.id));
  for (const id of [...(opts.only ?? []), ...(opts.skip ?? [])]) {
    if (!known.has(id)) throw new UserError(`unknown check ID "${id}"; \`kubectl flannel checks\` lists them`);
  }
  return CHECKS.filter((c) => (!opts.only?.length || opts.only.includes(c.id)) && !opts.skip?.includes(c.id));
}

/**
 * Checks whose subject is a Node object or a flannel pod. A `--local` snapshot has neither (the
 * API is not read), so they are not run rather than report a Node they cannot see.
 */
const JUDGE_API_OBJECTS: ReadonlySet<string> = new Set([
  'podcidr-unset',
  'node-network-unavailable',
  'node-not-registered',
  'flannel-pod-missing',
]);

export function analyze(snapshot: Snapshot, opts: RunOptions = {}): AnalysisResult {
  const local = snapshot.source.kind === 'local' && snapshot.cluster.nodes.status !== 'ok';
  const checks = selectChecks(opts).filter((c) => !(local && JUDGE_API_OBJECTS.has(c.id)));
  const model = buildModel(snapshot);
  const findings: Finding[] = [];
  const incomplete: string[] = [];
  const guarded = (check: Check, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      incomplete.push(`check ${check.id} failed: ${(e as Error)?.message ?? String(e)}`);
      // A bug in one check must not hide what the others found.
      findings.push({
        check: check.id,
        severity: 'warning',
        node: null,
        peer: null,
        message: `the check itself failed: ${(e as Error).message}`,
        evidence: [],
        fix: 'Report this as a kubectl-flannel bug, with the snapshot (doctor --save).',
      });
    }
  };
  const cluster = clusterContext(model);
  // Gaps in collection make the run incomplete whether or not their check was selected.
  const gapsCheck = collectionIncomplete;
  if (gapsCheck.scope === 'cluster') {
    const selected = checks.includes(gapsCheck);
    guarded(gapsCheck, () =>
      gapsCheck.run(cluster, (r) => {
        incomplete.push(r.node ? `${r.node}: ${r.message}` : r.message);
        if (selected) findings.push(toFinding(gapsCheck, r));
      }),
    );
  }
  for (const check of checks) {
    if (check.scope === 'cluster' && check !== collectionIncomplete)
      guarded(check, () => check.run(cluster, (r) => findings.push(toFinding(check, r))));
  }
  const nodeChecks = checks.filter((c) => c.scope === 'node');
  for (const node of model.nodes) {
    // One node's context at a time: its expectations and table indexes are dropped before the next node.
    const ctx = nodeContext(cluster, node);
    for (const check of nodeChecks) guarded(check, () => check.runNode(ctx, (r) => findings.push(toFinding(check, r))));
    ctx.release();
  }
  findings.sort(compareFindings);
  return { findings, checksRun: checks.map((c) => c.id), incomplete };
}

export function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
    (a.node ?? '').localeCompare(b.node ?? '') ||
    a.check.localeCompare(b.check) ||
    (a.peer ?? '').localeCompare(b.peer ?? '') ||
    a.message.localeCompare(b.message)
  );
}
