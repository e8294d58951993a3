import type { RouteDecision } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { parseIpRouteJson } from './routes-json.js';
import { parseIpRouteText } from './routes-text.js';

/** One line of the batch: the query `route get <dst> [from <src> iif cni0]`. */
export interface RouteQuery {
  readonly dst: string;
  readonly as: 'node' | 'pod';
  readonly src: string | null;
}

export const STDERR_MARKER = '#stderr';

/**
 * The output of `ip [-j] -force -batch -` of `route get` lines, then `#stderr` and what ip wrote
 * there. ip prints one answer per successful line (a JSON array, or a text route with indented
 * `cache` lines) and `Command failed -:<line>` after each failure's message, so answers are
 * matched to queries by position.
 */
export function parseRouteBatch(
  text: string,
  queries: readonly RouteQuery[],
  json: boolean,
): ParseResult<RouteDecision[]> {
  const at = text.lastIndexOf(`\n${STDERR_MARKER}\n`);
  if (at < 0) return { value: [], errors: [issue(1, text.slice(0, 80), `no ${STDERR_MARKER} marker`)] };
  const out = text.slice(0, at);
  const err = text.slice(at + STDERR_MARKER.length + 2).split('\n');
  const failed = new Map<number, string>();
  err.forEach((l, i) => {
    const m = /^Command failed -:(\d+)\s*$/.exec(l);
    if (m) failed.set(Number(m[1]), (err[i - 1] ?? '').replace(/^RTNETLINK answers:\s*/, '').trim());
  });
  const answers = json ? out.split('\n').filter((l) => l.startsWith('[')) : textAnswers(out);
  const errors: ParseIssue[] = [];
  const value: RouteDecision[] = [];
  let k = 0;
  for (const [i, q] of queries.entries()) {
    const base = { dst: q.dst, as: q.as, src: q.src };
    const e = failed.get(i + 1);
    if (e !== undefined) {
      value.push({ ...base, type: null, dev: null, gateway: null, table: null, prefsrc: null, error: e || 'failed' });
      continue;
    }
    const a = answers[k++];
    const family = q.dst.includes(':') ? 'inet6' : 'inet';
    const parsed = a === undefined ? null : json ? parseIpRouteJson(a, family) : parseIpRouteText(a, family);
    const r = parsed?.value[0];
    if (!parsed || !r || parsed.errors.length > 0) {
      errors.push(issue(i + 1, a ?? '', `no answer for route get ${q.dst}${q.src ? ` from ${q.src} iif cni0` : ''}`));
      continue;
    }
    value.push({
      ...base,
      type: r.type,
      dev: r.dev,
      gateway: r.gateway,
      table: r.table,
      prefsrc: r.prefsrc,
      error: null,
    });
  }
  if (k < answers.length) errors.push(issue(1, answers[k] ?? '', `${answers.length - k} answers more than queries`));
  return { value, errors };
}

/** Text answers: a route line, then indented continuation lines (`cache …`). */
function textAnswers(out: string): string[] {
  const answers: string[] = [];
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line) && answers.length > 0) answers[answers.length - 1] += `\n${line}`;
    else answers.push(line);
  }
  return answers;
}
