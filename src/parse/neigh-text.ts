import type { Neighbour } from '../snapshot/types.js';
import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';

/**
 * `ip neigh show` (iproute2 and busybox). With `ip neigh show dev X` the lines carry no `dev`;
 * pass it as `defaultDev`.
 */
export function parseIpNeighText(text: string, opts: { defaultDev?: string } = {}): ParseResult<Neighbour[]> {
  const out: Neighbour[] = [];
  const errors: ParseIssue[] = [];
  for (const { n, line } of numberedLines(text)) {
    const t = line.trim().split(/\s+/);
    const dst = t[0] ?? '';
    const after = (k: string): string | null => {
      const i = t.indexOf(k);
      return i > 0 ? (t[i + 1] ?? null) : null;
    };
    const dev = after('dev') ?? opts.defaultDev ?? null;
    if (!/^[0-9a-fA-F.:]+$/.test(dst) || dev === null) {
      errors.push(issue(n, line, dev === null ? 'no "dev" on the line' : 'expected an IP address first'));
      continue;
    }
    const lladdr = after('lladdr');
    // NUD states are the upper-case words: PERMANENT, REACHABLE, STALE, FAILED, NOARP, …
    const state = t.slice(1).filter((w) => /^[A-Z_]+$/.test(w));
    out.push({ dst, dev, lladdr: lladdr?.toLowerCase() ?? null, state });
  }
  return { value: out, errors };
}
