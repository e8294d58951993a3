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
/** After the marker: `pod-iif <family> <source> <device>`, what forwarded pod traffic was asked with. */
export const POD_IIF = 'pod-iif';

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
  // The source and device the node's shell asked pod traffic with: cni0, or a cali veth and its pod on Canal.
  const asked = new Map<string, { src: string; iif: string }>();
  for (const l of err) {
    const m = /^pod-iif (inet6?) (\S+) (\S+)$/.exec(l);
    if (m && m[2] !== '-') asked.set(m[1]!, { src: m[2]!, iif: m[3]! });
  }
  const answers = json ? out.split('\n').filter((l) => l.startsWith('[')) : textAnswers(out);
  const errors: ParseIssue[] = [];
  const value: RouteDecision[] = [];
  let k = 0;
  for (const [i, q] of queries.entries()) {
    const pod = q.as === 'pod' ? asked.get(q.dst.includes(':') ? 'inet6' : 'inet') : undefined;
    // cni0 is the default and left out, so snapshots keep their shape; another device is recorded with its source.
    const base =
      pod && pod.iif !== 'cni0'
        ? { dst: q.dst, as: q.as, src: pod.src, iif: pod.iif }
        : { dst: q.dst, as: q.as, src: q.src };
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
      errors.push(
        issue(
          i + 1,
          a ?? '',
          `no answer for route get ${q.dst}${base.src ? ` from ${base.src} iif ${pod?.iif ?? 'cni0'}` : ''}`,
        ),
      );
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
