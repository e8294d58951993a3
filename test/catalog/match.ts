/**
 * Exact matching of doctor's findings against a catalog entry: every expected finding and every named consequence
 * must appear exactly `count` times with its check, node, peer and severity, each carrying its evidence pattern,
 * and nothing else may be reported, of any check or severity on any node. Shared by the simulator's fixture and
 * live tests and the lab's e2e tests.
 */
import type { Findings, Role, RunVars } from '../../src/analyzers/fault-catalog/types.js';

export interface ReportedFinding {
  readonly check: string;
  readonly severity: string;
  readonly node: string | null;
  readonly peer?: string | null;
  readonly message: string;
  readonly evidence: readonly string[];
}

const key = (check: string, severity: string, node: string | null, peer: string | null) =>
  `${check} ${severity} on ${node ?? 'cluster'}${peer ? ` toward ${peer}` : ''}`;

const show = (f: ReportedFinding) =>
  `${key(f.check, f.severity, f.node, f.peer ?? null)}: ${f.message} | ${f.evidence.join(' | ')}`;

/** Every way `findings` differ from `spec`; empty when they match exactly. */
export function mismatches(spec: Findings, findings: readonly ReportedFinding[], vars: RunVars): string[] {
  const name = (r: Role | null | undefined) => (r ? vars[r].name : null);
  const problems: string[] = [];
  const claimed = new Set<ReportedFinding>();
  for (const want of [...spec.expect, ...(spec.consequences ?? [])]) {
    const node = name(want.node);
    const peer = name(want.peer);
    const k = key(want.check, want.severity, node, peer);
    const got = findings.filter(
      (f) => f.check === want.check && f.severity === want.severity && f.node === node && (f.peer ?? null) === peer,
    );
    for (const f of got) claimed.add(f);
    const count = want.count ?? 1;
    if (got.length !== count) problems.push(`expected ${count} × ${k}, got ${got.length}`);
    const re = typeof want.evidence === 'function' ? want.evidence(vars) : want.evidence;
    for (const f of got)
      if (![f.message, ...f.evidence].some((e) => re.test(e))) problems.push(`${k}: no line matches ${re}: ${show(f)}`);
  }
  for (const f of findings) if (!claimed.has(f)) problems.push(`unexpected: ${show(f)}`);
  return problems;
}

/** The roles of a run whose nodes are `nodes` in order and whose fault is injected on `on`. */
export function rolesOf(nodes: readonly string[], on: string): Record<Role, string> {
  const i = nodes.indexOf(on);
  if (i < 0) throw new Error(`${on} is not one of ${nodes.join(', ')}`);
  const at = (k: number) => nodes[(i + k) % nodes.length] as string;
  return { node: at(0), peer: at(1), third: at(2) };
}
