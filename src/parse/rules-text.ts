import type { RoutingRule } from '../snapshot/types.js';
import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';
import type { Family } from './route-common.js';

/** `ip rule` / `ip -6 rule` (iproute2 and busybox): `100:\tfrom 10.244.1.0/24 lookup 100`. */
export function parseIpRuleText(text: string, family: Family): ParseResult<RoutingRule[]> {
  const rules: RoutingRule[] = [];
  const errors: ParseIssue[] = [];
  for (const { n, line } of numberedLines(text)) {
    const m = /^\s*(\d+):\s*(.*?)\s*$/.exec(line);
    if (!m) {
      errors.push(issue(n, line, 'expected "<priority>: <selector> <action>"'));
      continue;
    }
    rules.push({ family, priority: Number(m[1]), text: (m[2] ?? '').split(/\s+/).join(' ') });
  }
  return { value: rules, errors };
}
