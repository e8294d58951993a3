import type { FdbEntry } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { entryText, num, parseJsonArray, str, strings } from './json.js';

/** `bridge -j fdb show`. `defaultDev` fills in `dev` for `bridge -j fdb show dev X`. */
export function parseBridgeFdbJson(text: string, opts: { defaultDev?: string } = {}): ParseResult<FdbEntry[]> {
  const { items, errors } = parseJsonArray(text);
  const issues: ParseIssue[] = [...errors];
  const out: FdbEntry[] = [];
  items.forEach((o, i) => {
    const mac = str(o, 'mac');
    const dev = str(o, 'ifname') ?? str(o, 'dev') ?? opts.defaultDev ?? null;
    if (mac === null || dev === null) {
      issues.push(issue(1, entryText(o), `entry ${i + 1} has no mac or ifname`));
      return;
    }
    out.push({
      mac: mac.toLowerCase(),
      dev,
      dst: str(o, 'dst'),
      vlan: num(o, 'vlan'),
      master: str(o, 'master'),
      flags: strings(o, 'flags'),
      state: str(o, 'state') ?? '',
    });
  });
  return { value: out, errors: issues };
}
