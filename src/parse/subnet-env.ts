import type { SubnetEnv } from '../snapshot/types.js';
import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';

/** What the collector's snippet prints instead of the file when it does not exist. */
export const ABSENT_MARKER = '#kubectl-flannel:absent';

/**
 * `/run/flannel/subnet.env`. Returns null when the snippet reported the file absent. Unknown
 * keys are ignored (flanneld's own reader ignores them too); a bad value is an issue.
 */
export function parseSubnetEnv(text: string): ParseResult<SubnetEnv | null> {
  if (text.trim().startsWith(ABSENT_MARKER)) return { value: null, errors: [] };
  const vars = new Map<string, { n: number; line: string; value: string }>();
  const errors: ParseIssue[] = [];
  for (const { n, line } of numberedLines(text)) {
    if (line.trim().startsWith('#')) continue;
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      errors.push(issue(n, line, 'expected KEY=value'));
      continue;
    }
    vars.set(m[1] ?? '', { n, line, value: (m[2] ?? '').trim().replace(/^"(.*)"$/, '$1') });
  }
  const get = (k: string): string | null => vars.get(k)?.value ?? null;
  const mtuVar = vars.get('FLANNEL_MTU');
  let mtu: number | null = null;
  if (mtuVar) {
    if (/^\d+$/.test(mtuVar.value)) mtu = Number(mtuVar.value);
    else errors.push(issue(mtuVar.n, mtuVar.line, 'FLANNEL_MTU is not a number'));
  }
  const masqVar = vars.get('FLANNEL_IPMASQ');
  let ipMasq: boolean | null = null;
  if (masqVar) {
    if (masqVar.value === 'true' || masqVar.value === 'false') ipMasq = masqVar.value === 'true';
    else errors.push(issue(masqVar.n, masqVar.line, 'FLANNEL_IPMASQ is not true or false'));
  }
  return {
    value: {
      network: get('FLANNEL_NETWORK'),
      subnet: get('FLANNEL_SUBNET'),
      ipv6Network: get('FLANNEL_IPV6_NETWORK'),
      ipv6Subnet: get('FLANNEL_IPV6_SUBNET'),
      mtu,
      ipMasq,
    },
    errors,
  };
}
