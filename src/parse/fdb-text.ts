import type { FdbEntry } from '../snapshot/types.js';
import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';

/**
 * `bridge fdb show`: `6a:2b:0c:11:22:33 dev flannel.1 dst 192.168.56.12 self permanent`.
 * With `bridge fdb show dev X` the lines carry no `dev`; pass it as `defaultDev`.
 */
export function parseBridgeFdbText(text: string, opts: { defaultDev?: string } = {}): ParseResult<FdbEntry[]> {
  const out: FdbEntry[] = [];
  const errors: ParseIssue[] = [];
  for (const { n, line } of numberedLines(text)) {
    const t = line.trim().split(/\s+/);
    const mac = t[0] ?? '';
    if (!MAC.test(mac)) {
      errors.push(issue(n, line, 'expected a MAC address first'));
      continue;
    }
    const e = {
      dev: opts.defaultDev ?? null,
      dst: null as string | null,
      vlan: null as number | null,
      master: null as string | null,
      flags: [] as string[],
      state: '',
    };
    for (let i = 1; i < t.length; i++) {
      const k = t[i] ?? '';
      const v = t[i + 1] ?? null;
      if (k === 'dev') {
        e.dev = v;
        i++;
      } else if (k === 'dst') {
        e.dst = v;
        i++;
      } else if (k === 'vlan') {
        e.vlan = v !== null ? Number(v) : null;
        i++;
      } else if (k === 'master') {
        e.master = v;
        i++;
      } else if (WITH_VALUE.has(k)) i++;
      else if (STATES.has(k)) e.state = k;
      else if (/^[a-z_]+$/.test(k)) e.flags.push(k);
    }
    if (e.dev === null) {
      errors.push(issue(n, line, 'no "dev" on the line'));
      continue;
    }
    out.push({
      mac: mac.toLowerCase(),
      dev: e.dev,
      dst: e.dst,
      vlan: e.vlan,
      master: e.master,
      flags: e.flags,
      state: e.state,
    });
  }
  return { value: out, errors };
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
// `bridge fdb` prints the NUD state as a word; what iproute2's JSON puts in `state`.
const STATES = new Set([
  'permanent',
  'static',
  'stale',
  'noarp',
  'reachable',
  'incomplete',
  'delay',
  'probe',
  'failed',
]);
const WITH_VALUE = new Set(['port', 'vni', 'src_vni', 'via', 'nhid', 'link-netnsid', 'used', 'updated']);
