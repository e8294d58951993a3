import type { BridgePort } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { entryText, parseJsonArray, str } from './json.js';

/** `bridge -j link show`: every bridge port with its bridge and STP state (forwarding, disabled, blocking, …). */
export function parseBridgeLinkJson(text: string): ParseResult<BridgePort[]> {
  const { items, errors } = parseJsonArray(text);
  const issues: ParseIssue[] = [...errors];
  const out: BridgePort[] = [];
  items.forEach((o, i) => {
    const dev = str(o, 'ifname');
    if (dev === null) {
      issues.push(issue(1, entryText(o), `entry ${i + 1} has no ifname`));
      return;
    }
    out.push({ dev, master: str(o, 'master'), state: str(o, 'state') ?? '' });
  });
  return { value: out, errors: issues };
}
