/** The doctor report: findings plus what was looked at. JSON and YAML output are this object. */
import type { Finding } from '../analyzers/finding.js';
import { type FindingGroup, groupFindings } from '../analyzers/group.js';
import type { AnalysisResult } from '../analyzers/run.js';
import type { SnapshotHead } from '../snapshot/types.js';

export interface DoctorReport {
  /** `incomplete`: no errors found, but something was not analysed (summary.incomplete says what). */
  readonly verdict: 'clean' | 'warnings' | 'errors' | 'incomplete';
  readonly summary: {
    readonly errors: number;
    readonly warnings: number;
    readonly info: number;
    readonly backend: string | null;
    readonly nodes: number;
    readonly nodesCollected: number;
    readonly checksRun: number;
    readonly source: string;
    readonly collectedAt: string;
    /** What the analysis could not cover; empty when complete. */
    readonly incomplete: readonly string[];
  };
  readonly findings: readonly Finding[];
  /** Findings sharing a root cause; each points at its members in `findings` by index. */
  readonly groups: readonly FindingGroup[];
  readonly checks: readonly string[];
  /** Every Node in the snapshot, for the node-pair matrix. */
  readonly nodes: readonly string[];
}

/** What the report reads of a snapshot: its head and each host's status (a streamed analysis keeps no more). */
export type ReportSnapshot = SnapshotHead & { readonly hosts: Readonly<Record<string, { readonly status: string }>> };

export function buildReport(snapshot: ReportSnapshot, result: AnalysisResult): DoctorReport {
  const count = (s: Finding['severity']) => result.findings.filter((f) => f.severity === s).length;
  const flannel = snapshot.cluster.flannel.status === 'ok' ? snapshot.cluster.flannel.data : null;
  const netConf = flannel?.netConf.status === 'ok' ? flannel.netConf.data : null;
  // With --local no Node objects are read: the collected hosts are the nodes.
  const nodes =
    snapshot.cluster.nodes.status === 'ok'
      ? snapshot.cluster.nodes.data
      : snapshot.source.kind === 'local'
        ? Object.keys(snapshot.hosts).map((name) => ({ name }))
        : [];
  const errors = count('error');
  const warnings = count('warning');
  return {
    verdict: errors ? 'errors' : result.incomplete.length ? 'incomplete' : warnings ? 'warnings' : 'clean',
    summary: {
      errors,
      warnings,
      info: count('info'),
      backend: netConf ? (netConf.backend.type === 'other' ? netConf.backend.name : netConf.backend.type) : null,
      nodes: nodes.length,
      nodesCollected: nodes.filter((n) => snapshot.hosts[n.name]?.status === 'ok').length,
      checksRun: result.checksRun.length,
      source: snapshot.source.description,
      collectedAt: snapshot.collectedAt,
      incomplete: result.incomplete,
    },
    findings: result.findings,
    groups: groupFindings(result.findings, snapshot),
    checks: result.checksRun,
    nodes: nodes.map((n) => n.name),
  };
}
