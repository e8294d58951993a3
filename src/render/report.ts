/** The doctor report: findings plus what was looked at. JSON and YAML output are this object. */
import type { Finding } from '../analyzers/finding.js';
import { type FindingGroup, groupFindings } from '../analyzers/group.js';
import type { AnalysisResult } from '../analyzers/run.js';
import type { Snapshot } from '../snapshot/types.js';

export interface DoctorReport {
  readonly verdict: 'clean' | 'warnings' | 'errors';
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
  };
  readonly findings: readonly Finding[];
  /** Findings sharing a root cause; each points at its members in `findings` by index. */
  readonly groups: readonly FindingGroup[];
  readonly checks: readonly string[];
  /** Every Node in the snapshot, for the node-pair matrix. */
  readonly nodes: readonly string[];
}

export function buildReport(snapshot: Snapshot, result: AnalysisResult): DoctorReport {
  const count = (s: Finding['severity']) => result.findings.filter((f) => f.severity === s).length;
  const flannel = snapshot.cluster.flannel.status === 'ok' ? snapshot.cluster.flannel.data : null;
  const netConf = flannel?.netConf.status === 'ok' ? flannel.netConf.data : null;
  const nodes = snapshot.cluster.nodes.status === 'ok' ? snapshot.cluster.nodes.data : [];
  const errors = count('error');
  const warnings = count('warning');
  return {
    verdict: errors ? 'errors' : warnings ? 'warnings' : 'clean',
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
    },
    findings: result.findings,
    groups: groupFindings(result.findings, snapshot),
    checks: result.checksRun,
    nodes: nodes.map((n) => n.name),
  };
}
