/**
 * The human report: a one-line verdict first, then findings grouped by severity and node
 * with their evidence and fix, then a node-pair matrix when problems sit between pairs.
 */
import { table } from 'table';
import type { Finding, Severity } from '../analyzers/finding.js';
import { neutraliseAll } from '../neutralise.js';
import type { DoctorReport } from './report.js';
import type { Style } from './style.js';

const HEADINGS: Record<Severity, string> = { error: 'Errors', warning: 'Warnings', info: 'Info' };

export function renderText(unsafe: DoctorReport, style: Style): string {
  // Messages and evidence carry collected data: no control character of theirs reaches the terminal.
  const report = neutraliseAll(unsafe);
  const out: string[] = [...incompleteLine(report, style), verdictLine(report, style), ''];
  for (const severity of ['error', 'warning', 'info'] as const) {
    const group = report.findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    const colour = severity === 'error' ? style.red : severity === 'warning' ? style.yellow : style.blue;
    out.push(style.bold(colour(`${HEADINGS[severity]} (${group.length})`)));
    for (const [node, findings] of groupBy(group, (f) => f.node ?? '(cluster)')) {
      out.push(`  ${style.bold(node)}`);
      for (const f of findings) {
        out.push(
          `    ${colour(severity === 'error' ? '✖' : severity === 'warning' ? '⚠' : 'ℹ')} ${f.message} ${style.dim(`[${f.check}]`)}`,
        );
        for (const e of f.evidence) out.push(`        ${style.dim('│')} ${e}`);
        out.push(`        ${style.dim('fix:')} ${f.fix}`);
      }
    }
    out.push('');
  }
  const matrix = pairMatrix(report.findings, report.nodes);
  if (matrix)
    out.push(style.bold('Problems between node pairs (row: node where the entry is wrong, column: peer)'), matrix);
  return out.join('\n').replace(/\n+$/, '\n');
}

/** An incomplete analysis says so before anything else, with what it could not cover. */
function incompleteLine(r: DoctorReport, style: Style): string[] {
  const gaps = r.summary.incomplete;
  if (gaps.length === 0) return [];
  const shown = gaps.slice(0, 3).join('; ') + (gaps.length > 3 ? `; and ${gaps.length - 3} more` : '');
  return [
    `${style.yellow('!')} ${style.bold(`Incomplete analysis (${gaps.length} gap${gaps.length > 1 ? 's' : ''})`)}: ${shown}`,
  ];
}

function verdictLine(r: DoctorReport, style: Style): string {
  const s = r.summary;
  const scope = `${s.nodesCollected}/${s.nodes} nodes collected, backend ${s.backend ?? 'unknown'}, ${s.checksRun} checks`;
  if (r.verdict === 'clean') return `${style.green('✔')} ${style.bold('No problems found')} (${scope})`;
  if (s.errors === 0 && s.warnings === 0)
    return `${style.yellow('!')} ${style.bold('No problems found in what was analysed')} (${scope})`;
  const affected = new Set(r.findings.filter((f) => f.severity !== 'info').map((f) => f.node ?? '(cluster)')).size;
  const parts = [
    s.errors ? style.red(`${s.errors} error${s.errors > 1 ? 's' : ''}`) : '',
    s.warnings ? style.yellow(`${s.warnings} warning${s.warnings > 1 ? 's' : ''}`) : '',
  ].filter(Boolean);
  return `${s.errors ? style.red('✖') : style.yellow('⚠')} ${style.bold(parts.join(', '))} on ${affected} node${affected === 1 ? '' : 's'} (${scope})`;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) m.set(key(i), [...(m.get(key(i)) ?? []), i]);
  return m;
}

/** Rows: node holding the wrong entry; columns: the peer it concerns; cells: count of findings. */
function pairMatrix(findings: readonly Finding[], nodes: readonly string[]): string | null {
  const paired = findings.filter((f) => f.node && f.peer && f.severity !== 'info');
  if (paired.length === 0) return null;
  // Large clusters: only the nodes involved, so the matrix stays readable.
  const involved = [...new Set(paired.flatMap((f) => [f.node!, f.peer!]))];
  const names = (nodes.length <= 12 ? [...new Set([...nodes, ...involved])] : involved).sort();
  const rows = names.map((row) => [
    row,
    ...names.map((col) => {
      if (row === col) return '·';
      const n = paired.filter((f) => f.node === row && f.peer === col).length;
      return n ? `✖ ${n}` : 'ok';
    }),
  ]);
  return table([['', ...names], ...rows], { drawHorizontalLine: (i, size) => i === 0 || i === 1 || i === size });
}
