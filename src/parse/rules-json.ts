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

/** A scalar as `ip rule` prints it: iproute2 writes some fields as JSON numbers (uid, ports, tun_id), others as strings. */
function scalar(o: JsonObject, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
}

/** iproute2's `print_null` flags (`not`, `nop`, `l3mdev`) are keys with a null value. */
const flag = (o: JsonObject, key: string): boolean => key in o && (o[key] === null || o[key] === true);

/** A port selector: one port, a range (`sport_start`/`sport_end`) or a port with a mask (iproute2 ≥ 6.15). */
function port(o: JsonObject, key: 'sport' | 'dport'): string | null {
  const start = scalar(o, `${key}_start`);
  if (start !== null) return `${start}-${scalar(o, `${key}_end`) ?? start}`;
  const one = scalar(o, key);
  if (one === null) return null;
  const mask = scalar(o, `${key}_mask`);
  return mask !== null && mask !== '0xffff' ? `${hex(one)}/${mask}` : one;
}

/** `%#x`, as iproute2 prints a masked port or DSCP (0 stays `0`; a name stays a name). */
const hex = (v: string): string => {
  const n = Number(v);
  return v.startsWith('0x') || !Number.isInteger(n) ? v : n === 0 ? '0' : `0x${n.toString(16)}`;
};

/**
 * The text `ip rule` prints, field by field in the order of iproute2's `print_rule` (ip/iprule.c),
 * so a rule collected as JSON reads exactly as one collected as text. A field left out here is a
 * selector or an action the FIB model never sees: `{"nop": null}` once came out as a rule with no
 * action, which the model dropped, so a `goto` to it fell through to the wrong rules.
 */
function ruleText(o: JsonObject): string {
  const parts: string[] = [];
  if (flag(o, 'not')) parts.push('not');
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
  if (flag(o, 'l3mdev')) parts.push('lookup', '[l3mdev-table]');
  const uid = scalar(o, 'uid_start');
  if (uid !== null) parts.push('uidrange', `${uid}-${scalar(o, 'uid_end') ?? uid}`);
  const ipproto = str(o, 'ipproto');
  if (ipproto !== null) parts.push('ipproto', ipproto);
  for (const key of ['sport', 'dport'] as const) {
    const v = port(o, key);
    if (v !== null) parts.push(key, v);
  }
  const tunId = scalar(o, 'tun_id');
  if (tunId !== null) parts.push('tun_id', tunId);
  const table = str(o, 'table');
  if (table !== null) {
    parts.push('lookup', table);
    const spl = num(o, 'suppress_prefixlen');
    if (spl !== null) parts.push('suppress_prefixlength', String(spl));
    const group = scalar(o, 'suppress_ifgroup');
    if (group !== null) parts.push('suppress_ifgroup', group);
  }
  const flowTo = str(o, 'flow_to');
  if (flowTo !== null) {
    const flowFrom = str(o, 'flow_from');
    parts.push('realms', flowFrom !== null ? `${flowFrom}/${flowTo}` : flowTo);
  }
  const natGateway = str(o, 'nat_gateway');
  // iproute2 prints a goto's target as `goto` (`target` in some releases), or `goto none`.
  const target = scalar(o, 'goto') ?? scalar(o, 'target');
  const action = str(o, 'action');
  if (natGateway !== null) parts.push('map-to', natGateway);
  else if (flag(o, 'masquerade')) parts.push('masquerade');
  else if (target !== null) parts.push('goto', target);
  else if (flag(o, 'nop')) parts.push('nop');
  else if (table === null && action !== null) parts.push(action);
  const protocol = str(o, 'protocol');
  if (protocol !== null) parts.push('proto', protocol);
  const dscp = str(o, 'dscp');
  if (dscp !== null) {
    const mask = scalar(o, 'dscp_mask');
    parts.push('dscp', mask !== null && mask !== '0x3f' ? `${hex(dscp)}/${mask}` : dscp);
  }
  const flowlabel = str(o, 'flowlabel');
  if (flowlabel !== null) {
    const mask = str(o, 'flowlabel_mask');
    parts.push('flowlabel', mask !== null && mask !== '0xfffff' ? `${flowlabel}/${mask}` : flowlabel);
  }
  return parts.join(' ');
}
