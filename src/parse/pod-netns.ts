import type { PodInterface } from '../snapshot/types.js';
import { issue, type ParseIssue, type ParseResult } from './issue.js';
import { parseIpAddrJson } from './links-json.js';
import { parseIpAddrText } from './links-text.js';

/** Printed instead of any section when the node's /var/run/netns is not there (a kube-flannel pod mounts none). */
export const NETNS_ABSENT = '#absent-netns';
/** Printed when `ip netns list` fails (busybox ip has no netns): nothing says which namespaces are the node's. */
export const NETNS_UNLISTED = '#unlisted-netns';
/** Starts one namespace's section: `@@netns <file> <nsid>`, then `ip addr show type veth` inside it. */
export const NETNS_SECTION = '@@netns ';

/**
 * The pod network namespaces' veth ends, from the shell loop of commands.ts (podInterfacesCommand): one section per
 * namespace the node's own namespace has an id for (the others hold no veth of this node's). null when nothing
 * could be read: no /var/run/netns, no `ip netns`, or no namespace could be entered (no CAP_SYS_ADMIN). A section
 * whose namespace could not be entered (the pod went away between the listing and nsenter) is left out.
 */
export function parsePodInterfaces(text: string): ParseResult<PodInterface[] | null> {
  if (text.startsWith(NETNS_ABSENT) || text.startsWith(NETNS_UNLISTED)) return { value: null, errors: [] };
  const out: PodInterface[] = [];
  const errors: ParseIssue[] = [];
  let sections = 0;
  let entered = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i]!;
    if (!head.startsWith(NETNS_SECTION)) {
      if (head.trim() !== '' && sections === 0) errors.push(issue(i + 1, head, 'expected "@@netns <file> <nsid>"'));
      continue;
    }
    const m = /^@@netns (\/\S+) (\d+)$/.exec(head);
    if (!m) {
      errors.push(issue(i + 1, head, 'expected "@@netns <file> <nsid>"'));
      continue;
    }
    sections++;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith(NETNS_SECTION)) end++;
    const body = lines
      .slice(i + 1, end)
      .join('\n')
      .trim();
    i = end - 1;
    // empty: ip's text form for a namespace with no veth (nsenter's failures print something)
    const links =
      body === ''
        ? { value: [], errors: [] }
        : body.startsWith('[')
          ? parseIpAddrJson(body)
          : /^\d+:\s/.test(body)
            ? parseIpAddrText(body)
            : null;
    // nsenter's own complaint (the namespace went away, or no CAP_SYS_ADMIN): nothing to read in it
    if (!links || links.errors.length > 0) continue;
    entered++;
    for (const l of links.value) {
      const peer = /^if(\d+)$/.exec(l.parent ?? '');
      if (!peer) continue;
      out.push({
        netns: m[1]!,
        nsid: Number(m[2]),
        name: l.name,
        ifindex: l.ifindex,
        peerIfindex: Number(peer[1]),
        mtu: l.mtu,
        operstate: l.operstate,
        addresses: l.addresses.filter((a) => a.scope === 'global'),
      });
    }
  }
  if (sections > 0 && entered === 0) return { value: null, errors };
  return { value: out, errors };
}
