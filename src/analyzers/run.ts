/** Runs the checks over a snapshot, whole or host by host. Pure: the same snapshot always gives the same findings. */

import { UserError } from '../errors.js';
import type { Collected, HostState, Snapshot, SnapshotHead } from '../snapshot/types.js';
import { type Check, toFinding } from './check.js';
import collectionIncomplete from './checks/collection-incomplete.js';
import {
  type ClusterContext,
  type ClusterScope,
  clusterContext,
  emptySummary,
  type NodeSummary,
  nodeContext,
  summarize,
} from './context.js';
import { type Finding, SEVERITY_ORDER } from './finding.js';
import { CHECKS } from './index.js';
import { buildLeaseModel, nodesFromHosts } from './model.js';
import { packagingOf, podCommandsFor, restartFor } from './packaging.js';

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

/** A node finding held back until every finding is in: dropped if a check it names reported on its node or peer. */
interface Deferred {
  readonly finding: Finding;
  readonly unless: readonly string[];
  readonly unlessPeer: readonly string[];
}

/** What one node's phase found; finish() puts every node's in model order. */
export interface NodeOutcome {
  readonly findings: readonly Finding[];
  readonly incomplete: readonly string[];
  readonly deferred: readonly Deferred[];
  readonly summary: NodeSummary;
}

export function analyze(snapshot: Snapshot, opts: RunOptions = {}): AnalysisResult {
  const hosts = new Map(Object.entries(snapshot.hosts));
  const analysis = startAnalysis(snapshot, opts, hosts);
  for (const [name, hostC] of hosts) analysis.host(name, hostC);
  return analysis.finish(snapshot);
}

/**
 * An analysis fed one host at a time, in any order (the order a file holds them): the node phase of a
 * node runs when its host arrives, the cluster phase at finish() (context.ts describes both). The result
 * does not depend on the order: findings and gaps are kept per node and put in model order at the end.
 */
export interface Analysis {
  /** Runs the node phase of the node(s) named `name`; a name no node has is ignored, as analyze() does. */
  host(name: string, hostC: Collected<HostState>): void;
  /**
   * The node phase of the node(s) named `name` (model order), not kept: what another thread's analysis of the
   * same head and options hands to record(). Plain data, so it crosses threads as a structured clone.
   */
  nodePhase(name: string, hostC: Collected<HostState>): NodeOutcome[];
  /** Keeps the outcomes nodePhase() gave for `name`, as host() does with its own. */
  record(name: string, outcomes: readonly NodeOutcome[]): void;
  /** Runs the node phase of every node whose host never came (as not collected), then the cluster phase. */
  finish(rest: Pick<Snapshot, 'errors' | 'underlayProbe' | 'underlaySamples'>): AnalysisResult;
}

/**
 * `hosts` is read only when the nodes are the hosts (nodesFromHosts: a `--local` snapshot without Node
 * objects); then every host must be in it.
 */
export function startAnalysis(
  head: SnapshotHead,
  opts: RunOptions = {},
  hosts: ReadonlyMap<string, Collected<HostState>> = new Map(),
): Analysis {
  const local = nodesFromHosts(head);
  const checks = selectChecks(opts).filter((c) => !(local && JUDGE_API_OBJECTS.has(c.id)));
  const nodeChecks = checks.filter((c) => c.scope === 'node');
  const model = buildLeaseModel(head, hosts);
  const cluster = clusterContext(model);
  const indexes = new Map<string, number[]>();
  model.nodes.forEach((n, i) => {
    const list = indexes.get(n.name);
    if (list) list.push(i);
    else indexes.set(n.name, [i]);
  });
  // Per node, in model order: what its node phase found, and its summary for the cluster phase.
  const nodeFindings: (readonly Finding[])[] = model.nodes.map(() => []);
  const nodeIncomplete: (readonly string[])[] = model.nodes.map(() => []);
  // Node findings whose report named checks that explain it (Report.unless): judged in finish(), once every
  // finding is known, since a cluster check's finding (podcidr-overlap, public-ip-duplicate…) explains them too.
  const deferred: (readonly Deferred[])[] = model.nodes.map(() => []);
  const summaries: (NodeSummary | undefined)[] = model.nodes.map(() => undefined);
  const seen = new Set<string>();

  const runNode = (i: number, hostC: Collected<HostState> | undefined): NodeOutcome => {
    const findings: Finding[] = [];
    const incomplete: string[] = [];
    const later: Deferred[] = [];
    // One node's context at a time: its host, expectations and table indexes are dropped before the next node.
    const ctx = nodeContext(cluster, model.nodes[i]!, hostC);
    for (const check of nodeChecks)
      guarded(check, findings, incomplete, () =>
        check.runNode(ctx, (r) =>
          r.unless?.length || r.unlessPeer?.length
            ? later.push({ finding: toFinding(check, r), unless: r.unless ?? [], unlessPeer: r.unlessPeer ?? [] })
            : findings.push(toFinding(check, r)),
        ),
      );
    let summary: NodeSummary;
    try {
      summary = summarize(ctx);
    } catch (e) {
      incomplete.push(`the summary of ${ctx.node.name} failed: ${(e as Error)?.message ?? String(e)}`);
      summary = emptySummary(ctx.node.name, ctx.node.hostError);
    }
    ctx.release();
    return { findings, incomplete, deferred: later, summary };
  };
  const keep = (i: number, o: NodeOutcome) => {
    nodeFindings[i] = o.findings;
    nodeIncomplete[i] = o.incomplete;
    deferred[i] = o.deferred;
    summaries[i] = o.summary;
  };
  const record = (name: string, outcomes: readonly NodeOutcome[]) => {
    if (seen.has(name)) throw new Error(`host ${name} given twice`);
    const list = indexes.get(name) ?? [];
    if (outcomes.length !== list.length)
      throw new Error(`host ${name}: ${outcomes.length} outcomes for ${list.length} nodes`);
    seen.add(name);
    list.forEach((i, k) => keep(i, outcomes[k]!));
  };

  return {
    host(name, hostC) {
      if (seen.has(name)) throw new Error(`host ${name} given twice`);
      record(
        name,
        (indexes.get(name) ?? []).map((i) => runNode(i, hostC)),
      );
    },
    nodePhase: (name, hostC) => (indexes.get(name) ?? []).map((i) => runNode(i, hostC)),
    record,
    finish(rest) {
      for (const [name, list] of indexes) if (!seen.has(name)) for (const i of list) keep(i, runNode(i, undefined));
      const all = summaries as NodeSummary[];
      const scope: ClusterScope = Object.assign(Object.create(cluster) as ClusterContext, {
        summaries: all,
        summaryOf: new Map(all.map((x) => [x.name, x])),
        errors: rest.errors,
        underlayProbe: rest.underlayProbe,
        underlaySamples: rest.underlaySamples,
      });
      const findings: Finding[] = [];
      const incomplete: string[] = [];
      // Gaps in collection make the run incomplete whether or not their check was selected.
      const gapsCheck = collectionIncomplete;
      if (gapsCheck.scope === 'cluster') {
        const selected = checks.includes(gapsCheck);
        guarded(gapsCheck, findings, incomplete, () =>
          gapsCheck.run(scope, (r) => {
            incomplete.push(r.node ? `${r.node}: ${r.message}` : r.message);
            if (selected) findings.push(toFinding(gapsCheck, r));
          }),
        );
      }
      const seams: Deferred[] = [];
      for (const check of checks) {
        if (check.scope === 'cluster' && check !== collectionIncomplete)
          guarded(check, findings, incomplete, () => check.run(scope, (r) => findings.push(toFinding(check, r))));
        else if (check.scope === 'node' && check.seam)
          guarded(check, findings, incomplete, () =>
            check.seam!(scope, (r) =>
              r.unless?.length || r.unlessPeer?.length
                ? seams.push({ finding: toFinding(check, r), unless: r.unless ?? [], unlessPeer: r.unlessPeer ?? [] })
                : findings.push(toFinding(check, r)),
            ),
          );
      }
      findings.push(...nodeFindings.flat());
      const held = [...deferred.flat(), ...seams];
      // A held finding explains too, whether it is kept or itself explained away (then by what explains it): pod-path
      // leaves a missing route to peer-routes, which an overlap explains in turn. No check names a held one's
      // check in its own unless, so nothing explains itself away in a cycle.
      const named = new Set(findings.map((f) => `${f.node}\n${f.check}`));
      for (const d of held) named.add(`${d.finding.node}\n${d.finding.check}`);
      // unlessPeer asks whether the peer is in a finding of that check at all, as its node or its peer: an overlap
      // is reported once, on the node that moves, and names the node that keeps the range.
      const involved = new Set(named);
      for (const f of findings) if (f.peer) involved.add(`${f.peer}\n${f.check}`);
      for (const d of held)
        if (
          !d.unless.some((id) => named.has(`${d.finding.node}\n${id}`)) &&
          !d.unlessPeer.some((id) => involved.has(`${d.finding.peer}\n${id}`))
        )
          findings.push(d.finding);
      incomplete.push(...nodeIncomplete.flat());
      findings.sort(compareFindings);
      const restart = restartFor(packagingOf(model));
      const podCommands = podCommandsFor(model);
      const fixOf = (f: Finding) => {
        const fix = restart ? restart(f.fix) : f.fix;
        return podCommands ? podCommands(fix, f.node) : fix;
      };
      return {
        findings: restart || podCommands ? findings.map((f) => ({ ...f, fix: fixOf(f) })) : findings,
        checksRun: checks.map((c) => c.id),
        incomplete,
      };
    },
  };
}

function guarded(check: Check, findings: Finding[], incomplete: string[], fn: () => void): void {
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
