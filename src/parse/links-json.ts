import type { Address, Link, VxlanInfo } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { bool, entryText, type JsonObject, num, obj, parseJsonArray, str, strings } from './json.js';

/**
 * `ip -j -d addr show`: links with their details and addresses in one call.
 * `ip -j -d link show` parses too (links without addresses).
 */
export function parseIpAddrJson(text: string): ParseResult<Link[]> {
  const { items, errors } = parseJsonArray(text);
  const issues: ParseIssue[] = [...errors];
  const links: Link[] = [];
  items.forEach((o, i) => {
    const ifindex = num(o, 'ifindex');
    const name = str(o, 'ifname');
    if (ifindex === null || name === null) {
      issues.push(issue(1, entryText(o), `entry ${i + 1} has no ifindex or ifname`));
      return;
    }
    const linkinfo = obj(o, 'linkinfo');
    const kind = linkinfo ? str(linkinfo, 'info_kind') : null;
    const infoData = linkinfo ? obj(linkinfo, 'info_data') : null;
    links.push({
      ifindex,
      name,
      flags: strings(o, 'flags'),
      mtu: num(o, 'mtu') ?? 0,
      operstate: str(o, 'operstate') ?? 'UNKNOWN',
      mac: macOf(o),
      kind,
      master: str(o, 'master'),
      parent: parentOf(o),
      ...netnsIdOf(o),
      vxlan: kind === 'vxlan' && infoData ? vxlanOf(infoData) : null,
      addresses: addressesOf(o),
    });
  });
  return { value: links, errors: issues };
}

function macOf(o: JsonObject): string | null {
  const t = str(o, 'link_type');
  const a = str(o, 'address');
  // ipip/gre print their tunnel endpoint as `address`; only Ethernet-like types have a MAC.
  if (a === null || (t !== null && t !== 'ether' && t !== 'loopback')) return null;
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(a) ? a.toLowerCase() : null;
}

/** The `@…` of `eth0@if12`: the lower device's name when it is in this netns, else `if<index>`. */
function parentOf(o: JsonObject): string | null {
  const link = str(o, 'link');
  if (link !== null) return link;
  const index = num(o, 'link_index');
  return index !== null ? `if${index}` : null;
}

function netnsIdOf(o: JsonObject): { linkNetnsId?: number } {
  const id = num(o, 'link_netnsid');
  return id === null ? {} : { linkNetnsId: id };
}

function vxlanOf(d: JsonObject): VxlanInfo {
  return {
    id: num(d, 'id') ?? 0,
    local: str(d, 'local') ?? str(d, 'local6'),
    dev: str(d, 'link'),
    // Linux's default VXLAN port when none is given is 8472, the port flannel uses too.
    port: num(d, 'port') ?? 8472,
    learning: bool(d, 'learning') ?? true,
    gbp: bool(d, 'gbp') ?? false,
  };
}

function addressesOf(o: JsonObject): Address[] {
  const list = o['addr_info'];
  if (!Array.isArray(list)) return [];
  const out: Address[] = [];
  for (const a of list) {
    if (a === null || typeof a !== 'object') continue;
    const e = a as JsonObject;
    const family = str(e, 'family');
    const local = str(e, 'local');
    const prefixlen = num(e, 'prefixlen');
    if ((family !== 'inet' && family !== 'inet6') || local === null || prefixlen === null) continue;
    out.push({ family, local, prefixlen, scope: str(e, 'scope') ?? 'global' });
  }
  return out;
}
