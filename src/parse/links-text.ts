import type { Address, Link, VxlanInfo } from '../snapshot/types.js';
import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';

/**
 * `ip -d addr show`, `ip addr show`, `ip -d link show` and busybox `ip addr show`.
 * Pass `detailed: false` for output of a command without `-d`.
 * Leading whitespace is optional, so output pasted into tickets (indentation lost) still parses.
 */
export function parseIpAddrText(text: string, opts: { detailed?: boolean } = {}): ParseResult<Link[]> {
  const links: Draft[] = [];
  const errors: ParseIssue[] = [];
  for (const { n, line } of numberedLines(text)) {
    const header = HEADER.exec(line);
    if (header) {
      links.push(startLink(header));
      continue;
    }
    const cur = links.at(-1);
    if (!cur) {
      errors.push(issue(n, line, 'expected a link header like "2: eth0: <…> mtu 1500 …"'));
      continue;
    }
    const tokens = line.trim().split(/\s+/);
    const first = tokens[0] ?? '';
    if (first.startsWith('link/')) {
      cur.mac = MAC.test(tokens[1] ?? '') && first !== 'link/none' ? (tokens[1] ?? '').toLowerCase() : null;
      // Some iproute2 versions print `ipip any remote …` etc. after `link/…` on the next line only.
      cur.seenLinkLine = true;
      // `link-netnsid N` (a peer in a namespace this one has no name for; a named one prints `link-netns NAME`)
      const id = tokens.indexOf('link-netnsid');
      if (id >= 0 && /^\d+$/.test(tokens[id + 1] ?? '')) cur.linkNetnsId = Number(tokens[id + 1]);
    } else if (first === 'inet' || first === 'inet6') {
      const a = addressOf(first, tokens);
      if (a) cur.addresses.push(a);
      else errors.push(issue(n, line, `cannot read the ${first} address`));
    } else if (
      cur.seenLinkLine &&
      cur.kind === undefined &&
      /^[a-z][a-z0-9_-]*$/.test(first) &&
      !NOT_A_KIND.has(first)
    ) {
      // The first details line of `ip -d` starts with the link kind (vxlan, veth, bridge, tun…).
      if (!first.endsWith('_slave')) {
        cur.kind = first;
        if (first === 'vxlan') cur.vxlan = vxlanOf(tokens);
      }
    }
  }
  const value = links.map(finish);
  // Without -d a missing kind line says nothing; mark the links so no one reads null as "plain".
  return {
    value: opts.detailed === false ? value.map((l) => ({ ...l, detailsMissing: true as const })) : value,
    errors,
  };
}

// `7: vethkf0@if2: <BROADCAST,…> mtu 1500 qdisc noqueue master cni0 state UP …`
const HEADER = /^\s*(\d+):\s+([^\s:@]+)(?:@([^\s:]+))?:\s+<([^>]*)>(.*)$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const NOT_A_KIND = new Set([
  'valid_lft',
  'altname',
  'alias',
  'prop',
  'vf',
  'addrgenmode',
  'numtxqueues',
  'numrxqueues',
  'gso_max_size',
  'gso_max_segs',
  'tso_max_size',
  'tso_max_segs',
  'gro_max_size',
  'parentbus',
  'parentdev',
  'portname',
  'portid',
  'switchid',
  'promiscuity',
  'link-netns',
  'link-netnsid',
  'rx',
  'tx',
  'inet6_addr_gen_mode',
]);

interface Draft {
  ifindex: number;
  name: string;
  flags: string[];
  mtu: number;
  operstate: string;
  master: string | null;
  parent: string | null;
  mac: string | null;
  kind: string | null | undefined;
  vxlan: VxlanInfo | null;
  addresses: Address[];
  seenLinkLine: boolean;
  linkNetnsId?: number;
}

function startLink(m: RegExpExecArray): Draft {
  const rest = (m[5] ?? '').trim().split(/\s+/);
  const after = (key: string): string | null => {
    const i = rest.indexOf(key);
    return i >= 0 ? (rest[i + 1] ?? null) : null;
  };
  return {
    ifindex: Number(m[1]),
    name: m[2] ?? '',
    // `@NONE`: a tunnel with no lower device (ipip, gre); JSON says `"link": null`.
    parent: m[3] === undefined || m[3] === 'NONE' ? null : m[3],
    flags: (m[4] ?? '').split(',').filter((f) => f !== ''),
    mtu: Number(after('mtu') ?? 0),
    // busybox prints no `state`; UNKNOWN is what iproute2 says when the driver reports none.
    operstate: after('state') ?? 'UNKNOWN',
    master: after('master'),
    mac: null,
    kind: undefined,
    vxlan: null,
    addresses: [],
    seenLinkLine: false,
  };
}

function finish(d: Draft): Link {
  return {
    ifindex: d.ifindex,
    name: d.name,
    flags: d.flags,
    mtu: d.mtu,
    operstate: d.operstate,
    mac: d.mac,
    kind: d.kind ?? null,
    master: d.master,
    parent: d.parent,
    ...(d.linkNetnsId !== undefined ? { linkNetnsId: d.linkNetnsId } : {}),
    vxlan: d.vxlan,
    addresses: d.addresses,
  };
}

function vxlanOf(tokens: string[]): VxlanInfo {
  const after = (key: string): string | null => {
    const i = tokens.indexOf(key);
    return i >= 0 ? (tokens[i + 1] ?? null) : null;
  };
  const port = after('dstport');
  return {
    id: Number(after('id') ?? 0),
    local: after('local'),
    dev: after('dev'),
    // Linux's default VXLAN port when none is given is 8472, the port flannel uses too.
    port: port !== null ? Number(port) : 8472,
    learning: !tokens.includes('nolearning'),
    gbp: tokens.includes('gbp'),
  };
}

/** `inet 10.244.1.0/32 brd … scope global flannel.1`, `inet 10.8.0.1 peer 10.8.0.2/32 scope global tun0`. */
function addressOf(family: 'inet' | 'inet6', tokens: string[]): Address | null {
  const addr = tokens[1];
  if (!addr) return null;
  const [local, len] = addr.split('/');
  let prefixlen = len !== undefined ? Number(len) : NaN;
  if (len === undefined) {
    const peer = tokens[tokens.indexOf('peer') + 1];
    const peerLen = tokens.includes('peer') ? peer?.split('/')[1] : undefined;
    prefixlen = peerLen !== undefined ? Number(peerLen) : family === 'inet' ? 32 : 128;
  }
  if (!local || !Number.isInteger(prefixlen)) return null;
  const si = tokens.indexOf('scope');
  return { family, local, prefixlen, scope: si >= 0 ? (tokens[si + 1] ?? 'global') : 'global' };
}
