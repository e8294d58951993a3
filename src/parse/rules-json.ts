import type { RoutingRule } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { entryText, type JsonObject, num, parseJsonArray, str } from './json.js';
import type { Family } from './route-common.js';

/**
 * `ip -4 -j rule` / `ip -6 -j rule`. The rule is kept as the text `ip rule` prints after the
 * priority, rebuilt from the JSON fields, so JSON and text collection give equal values.
 */
export function parseIpRuleJson(text: string, family: Family): ParseResult<RoutingRule[]> {
  const { items, errors } = parseJsonArray(text);
  const issues: ParseIssue[] = [...errors];
  const rules: RoutingRule[] = [];
  items.forEach((o, i) => {
    const priority = num(o, 'priority');
    if (priority === null) {
      issues.push(issue(1, entryText(o), `entry ${i + 1} has no priority`));
      return;
    }
    rules.push({ family, priority, text: ruleText(o) });
  });
  return { value: rules, errors: issues };
}

function prefix(o: JsonObject, key: string, lenKey: string): string | null {
  const v = str(o, key);
  if (v === null) return null;
  const len = num(o, lenKey);
  return len !== null ? `${v}/${len}` : v;
}

/** The order follows iproute2's `print_rule`. */
function ruleText(o: JsonObject): string {
  const parts: string[] = [];
  if (o['not'] === null || o['not'] === true) parts.push('not');
  parts.push('from', prefix(o, 'src', 'srclen') ?? 'all');
  const to = prefix(o, 'dst', 'dstlen');
  if (to !== null) parts.push('to', to);
  const tos = str(o, 'tos');
  if (tos !== null) parts.push('tos', tos);
  const fwmark = str(o, 'fwmark');
  if (fwmark !== null) {
    const mask = str(o, 'fwmask');
    parts.push('fwmark', mask !== null && mask !== '0xffffffff' ? `${fwmark}/${mask}` : fwmark);
  }
  const iif = str(o, 'iif');
  if (iif !== null) parts.push('iif', iif);
  const oif = str(o, 'oif');
  if (oif !== null) parts.push('oif', oif);
  const uidrange = str(o, 'uid_start');
  if (uidrange !== null) parts.push('uidrange', `${uidrange}-${str(o, 'uid_end') ?? uidrange}`);
  const ipproto = str(o, 'ipproto');
  if (ipproto !== null) parts.push('ipproto', ipproto);
  for (const [key, word] of [
    ['sport', 'sport'],
    ['dport', 'dport'],
  ] as const) {
    const v = num(o, key) ?? str(o, key);
    if (v !== null) parts.push(word, String(v));
  }
  const table = str(o, 'table');
  // iproute2 prints a goto's target as `goto` (`target` in some releases).
  const target = num(o, 'goto') ?? num(o, 'target');
  if (table !== null) parts.push('lookup', table);
  else if (target !== null) parts.push('goto', String(target));
  const spl = num(o, 'suppress_prefixlen');
  if (spl !== null) parts.push('suppress_prefixlength', String(spl));
  const action = str(o, 'action');
  if (table === null && target === null && action !== null) parts.push(action);
  return parts.join(' ');
}
