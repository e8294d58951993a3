import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';

/**
 * Output of the collector's sysctl snippet: `/proc/sys/net/ipv4/ip_forward=1` per readable file
 * and `#absent /proc/sys/…` per missing one. Keys become dotted sysctl names
 * (`net.ipv4.ip_forward`, `net.ipv4.conf.flannel.1.rp_filter`); absent files stay absent keys.
 */
export function parseSysctls(text: string): ParseResult<Record<string, string>> {
  const out: Record<string, string> = {};
  const errors: ParseIssue[] = [];
  for (const { n, line } of numberedLines(text)) {
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const path = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!path.startsWith(PROC_SYS)) {
      errors.push(issue(n, line, `expected ${PROC_SYS}<name>=<value>`));
      continue;
    }
    out[path.slice(PROC_SYS.length).split('/').join('.')] = line.slice(eq + 1).trim();
  }
  return { value: out, errors };
}

const PROC_SYS = '/proc/sys/';
