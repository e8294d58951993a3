/**
 * The human report: a one-line verdict first, then per severity one headline per root cause
 * (findings grouped by src/analyzers/group.ts) and the remaining findings by node, each with its
 * evidence and fix, then the node-pair matrix when it fits the width (else a summary of the pairs).
 * No line is wider than `width`: long ones wrap under their own indentation.
 */
import { table } from 'table';
import type { Finding, Severity } from '../analyzers/finding.js';
import type { FindingGroup } from '../analyzers/group.js';
import { neutraliseAll } from '../neutralise.js';
import { compactNames } from './names.js';
import type { DoctorReport } from './report.js';
import type { Style } from './style.js';

const HEADINGS: Record<Severity, string> = { error: 'Errors', warning: 'Warnings', info: 'Info' };
/** Width when the output is not a terminal. */
export const DEFAULT_WIDTH = 120;

export function renderText(unsafe: DoctorReport, style: Style, width = DEFAULT_WIDTH): string {
  // Messages and evidence carry collected data: no control character of theirs reaches the terminal.
  const report = neutraliseAll(unsafe);
  const out: string[] = [];
  const put = (indent: number, text: string, hang = 2) => out.push(...wrap(' '.repeat(indent) + text, width, hang));
  for (const l of incompleteLine(report, style)) put(0, l);
  put(0, verdictLine(report, style));
  out.push('');
  const grouped = new Set(report.groups.flatMap((g) => g.findings));
  for (const severity of ['error', 'warning', 'info'] as const) {
    const all = report.findings.filter((f) => f.severity === severity);
    if (all.length === 0) continue;
    const colour = severity === 'error' ? style.red : severity === 'warning' ? style.yellow : style.blue;
    const mark = colour(severity === 'error' ? '✖' : severity === 'warning' ? '⚠' : 'ℹ');
    const groups = report.groups.filter((g) => g.severity === severity);
    const causes = groups.length ? `, ${groups.length} shared cause${groups.length === 1 ? '' : 's'}` : '';
    put(0, style.bold(colour(`${HEADINGS[severity]} (${all.length}${causes})`)));
    for (const g of groups) renderGroup(g, report.findings, mark, style, put, (...l) => out.push(...l), width);
    const single = report.findings.filter((f, i) => f.severity === severity && !grouped.has(i));
    for (const [node, findings] of groupBy(single, (f) => f.node ?? '(cluster)')) {
      put(2, style.bold(node));
      for (const f of findings) {
        put(4, `${mark} ${f.message} ${style.dim(`[${f.check}]`)}`);
        for (const e of f.evidence) put(8, `${style.dim('│')} ${e}`);
        put(8, `${style.dim('fix:')} ${f.fix}`);
      }
    }
    out.push('');
  }
  const pairs = pairSection(report.findings, report.nodes, width, style);
  if (pairs) out.push(...pairs);
  return out.join('\n').replace(/\n+$/, '\n');
}

function renderGroup(
  g: FindingGroup,
  findings: readonly Finding[],
  mark: string,
  style: Style,
  put: (indent: number, text: string, hang?: number) => void,
  out: (...lines: string[]) => void,
  width: number,
): void {
  const example = findings[g.example]!;
  const budget = Math.max(40, width - 24) * 2;
  put(2, `${mark} ${g.cause} ${style.dim(`[${g.check}]`)}`);
  if (g.kind === 'same') put(6, `${style.dim('on')} ${g.nodes.length} nodes: ${compactNames(g.nodes, budget)}`);
  else put(6, `${style.dim('for')} ${g.peers.length} peers: ${compactNames(g.peers, budget)}`);
  // A `same` group's members all say what the headline says; a `node` group's differ by peer.
  const what = g.kind === 'node' ? `: ${example.message}` : ':';
  put(6, style.dim(`example, ${example.node}${example.peer ? ` → ${example.peer}` : ''}${what}`));
  for (const e of example.evidence) put(8, `${style.dim('│')} ${e}`);
  if (g.fix.startsWith('kubectl ')) {
    // A command is copied whole: on lines of its own, continued with a backslash.
    put(6, style.dim(`fix for all ${g.findings.length}, one command:`));
    out(...wrapCommand(g.fix, width, 8));
  } else put(6, `${style.dim(`fix for all ${g.findings.length}:`)} ${g.fix}`);
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
  for (const i of items) {
    const k = key(i);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  }
  return m;
}

const SGR = /\u001b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(SGR, '').length;

/** `line` cut at spaces into lines of at most `width` columns, continuations indented `hang` deeper. */
export function wrap(line: string, width: number, hang = 2): string[] {
  if (visible(line) <= width) return [line];
  const indent = /^ */.exec(line)![0].length;
  const pad = ' '.repeat(Math.min(indent + hang, Math.floor(width / 2)));
  const words = line.slice(indent).split(' ');
  const lines: string[] = [];
  let cur = ' '.repeat(indent);
  let curLen = indent;
  let fresh = true;
  for (let word of words) {
    while (true) {
      const len = visible(word);
      if (curLen + (fresh ? 0 : 1) + len <= width) {
        cur += (fresh ? '' : ' ') + word;
        curLen += (fresh ? 0 : 1) + len;
        fresh = false;
        break;
      }
      if (!fresh) {
        lines.push(cur);
        cur = pad;
        curLen = pad.length;
        fresh = true;
        continue;
      }
      // A word longer than a whole line: cut it (plain text only; styled words are short).
      const room = width - curLen;
      lines.push(cur + word.slice(0, room));
      word = word.slice(room);
      cur = pad;
      curLen = pad.length;
    }
  }
  if (!fresh) lines.push(cur);
  return lines;
}

/** A shell command in lines of at most `width` columns, each but the last ending in ` \\`. */
export function wrapCommand(command: string, width: number, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  let cur = '';
  for (const word of command.split(' ')) {
    if (cur && pad.length + cur.length + 1 + word.length + 2 > width) {
      lines.push(`${pad}${cur} \\`);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  lines.push(pad + cur);
  return lines;
}

/** The node-pair matrix when it fits in `width`; otherwise the pairs summarised by peer. */
function pairSection(findings: readonly Finding[], nodes: readonly string[], width: number, style: Style) {
  const paired = findings.filter((f) => f.node && f.peer && f.severity !== 'info');
  if (paired.length === 0) return null;
  // Large clusters: only the nodes involved, so the matrix stays readable.
  const involved = [...new Set(paired.flatMap((f) => [f.node!, f.peer!]))];
  const names = (nodes.length <= 12 ? [...new Set([...nodes, ...involved])] : involved).sort();
  // Each column takes at least 3 + the longest name: no need to draw what cannot fit.
  const longest = Math.max(...names.map((n) => n.length), 3);
  if ((names.length + 1) * (longest + 3) + 1 <= width) {
    const count = new Map<string, number>();
    for (const f of paired) count.set(`${f.node}\0${f.peer}`, (count.get(`${f.node}\0${f.peer}`) ?? 0) + 1);
    const rows = names.map((row) => [
      row,
      ...names.map((col) => {
        if (row === col) return '·';
        const n = count.get(`${row}\0${col}`);
        return n ? `✖ ${n}` : 'ok';
      }),
    ]);
    const drawn = table([['', ...names], ...rows], {
      drawHorizontalLine: (i, size) => i === 0 || i === 1 || i === size,
    });
    if (drawn.split('\n').every((l) => visible(l) <= width))
      return [style.bold('Problems between node pairs (row: node where the entry is wrong, column: peer)'), drawn];
  }
  const out = [
    ...wrap(
      style.bold(
        `Problems between node pairs: ${paired.length} findings, ${involved.length} nodes involved (the matrix would not fit ${width} columns)`,
      ),
      width,
    ),
  ];
  const byPeer = [...groupBy(paired, (f) => f.peer!)].sort((a, b) => b[1].length - a[1].length);
  const budget = Math.max(40, width - 40);
  for (const [peer, fs] of byPeer.slice(0, 10)) {
    const from = [...new Set(fs.map((f) => f.node!))];
    const checks = [...groupBy(fs, (f) => f.check)].map(([c, l]) => `${c} ×${l.length}`).join(', ');
    out.push(...wrap(`  ${from.length} node(s) → ${peer} (${checks}): ${compactNames(from, budget)}`, width, 4));
  }
  if (byPeer.length > 10) out.push(`  … and ${byPeer.length - 10} more peers (-o json lists every pair)`);
  out.push('');
  return out;
}
