/** Runs the checks over a snapshot. Pure: the same snapshot always gives the same findings. */

import { UserError } from '../errors.js';
import type { Snapshot } from '../snapshot/types.js';
import { type Check, toFinding } from './check.js';
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
}

export function selectChecks(opts: RunOptions): Check[] {
  const known = new Set(CHECKS.map((c) => c.id));
  for (const id of [...(opts.only ?? []), ...(opts.skip ?? [])]) {
    if (!known.has(id)) throw new UserError(`unknown check ID "${id}"; \`kubectl flannel checks\` lists them`);
  }
  return CHECKS.filter((c) => (!opts.only?.length || opts.only.includes(c.id)) && !opts.skip?.includes(c.id));
}

export function analyze(snapshot: Snapshot, opts: RunOptions = {}): AnalysisResult {
  const checks = selectChecks(opts);
  const model = buildModel(snapshot);
  const findings: Finding[] = [];
  const guarded = (check: Check, fn: () => void) => {
    try {
      fn();
    } catch (e) {
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
  for (const check of checks) {
    if (check.scope === 'cluster') guarded(check, () => check.run(cluster, (r) => findings.push(toFinding(check, r))));
  }
  const nodeChecks = checks.filter((c) => c.scope === 'node');
  for (const node of model.nodes) {
    // One node's context at a time: its expectations and table indexes are dropped before the next node.
    const ctx = nodeContext(cluster, node);
    for (const check of nodeChecks) guarded(check, () => check.runNode(ctx, (r) => findings.push(toFinding(check, r))));
    ctx.release();
  }
  findings.sort(compareFindings);
  return { findings, checksRun: checks.map((c) => c.id) };
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
