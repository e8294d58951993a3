import type { Neighbour } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { entryText, parseJsonArray, str, strings } from './json.js';

/** `ip -j neigh show` (both families). `defaultDev` fills in `dev` for `ip -j neigh show dev X`. */
export function parseIpNeighJson(text: string, opts: { defaultDev?: string } = {}): ParseResult<Neighbour[]> {
  const { items, errors } = parseJsonArray(text);
  const issues: ParseIssue[] = [...errors];
  const out: Neighbour[] = [];
  items.forEach((o, i) => {
    const dst = str(o, 'dst');
    const dev = str(o, 'dev') ?? opts.defaultDev ?? null;
    if (dst === null || dev === null) {
      issues.push(issue(1, entryText(o), `entry ${i + 1} has no dst or dev`));
      return;
    }
    const lladdr = str(o, 'lladdr');
    out.push({ dst, dev, lladdr: lladdr?.toLowerCase() ?? null, state: strings(o, 'state') });
  });
  return { value: out, errors: issues };
}
