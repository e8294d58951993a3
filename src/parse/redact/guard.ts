/**
 * The guard run on a whole snapshot before it leaves the process (`--save`, `bundle`): every field
 * that holds collected text goes through its format's redactor once more. Collection already did
 * this, so on a snapshot from this version it changes nothing; it catches a snapshot saved by an
 * older version (which stored the CNI config as it was) and any field a future collector forgets.
 * xfrm keys stay only when the user asked for them (--decrypt-esp) and the output is not a bundle.
 */
import type {
  Collected,
  FlannelInstall,
  FlannelPod,
  HostState,
  RawCommand,
  Snapshot,
  XfrmKey,
  XfrmState,
} from '../../snapshot/types.js';
import { redactCniConf } from './cni.js';
import { redactCommandOutput } from './command-output.js';
import { redactArgv } from './free-text.js';
import { redactLogLine } from './log-line.js';
import { redactNetConf } from './netconf.js';
import { redactMessage, redactRawOutput } from './raw.js';

export interface GuardOptions {
  readonly keepXfrmKeys: boolean;
}

const message = (t: string): string => redactMessage('', t);

function collected<T>(c: Collected<T>, f: (data: T) => T): Collected<T> {
  return c.status === 'ok' ? { status: 'ok', data: f(c.data) } : { status: c.status, error: message(c.error) };
}

function install(f: FlannelInstall): FlannelInstall {
  return {
    ...f,
    daemonSet: f.daemonSet ? { ...f.daemonSet, args: redactArgv(f.daemonSet.args) } : null,
    netConf: collected(f.netConf, (nc) => ({ ...nc, warnings: nc.warnings.map(message) })),
    netConfRaw: f.netConfRaw === null ? null : redactNetConf(f.netConfRaw).text,
    cniConfRaw: f.cniConfRaw === null ? null : redactCniConf(f.cniConfRaw),
  };
}

function pod(p: FlannelPod): FlannelPod {
  return { ...p, logTail: p.logTail.map(redactLogLine) };
}

function raw(r: RawCommand): RawCommand {
  const id = r.id.split(':')[0] ?? r.id;
  return {
    ...r,
    stdout: redactRawOutput(id, r.stdout),
    stderr: redactMessage(id, r.stderr),
    ...(r.fallbackReason !== undefined ? { fallbackReason: redactMessage(id, r.fallbackReason) } : {}),
  };
}

function key(k: XfrmKey | null, keep: boolean): XfrmKey | null {
  if (k === null || keep || k.hex === undefined) return k;
  const { hex: _hex, ...rest } = k;
  return rest;
}

function host(h: HostState, o: GuardOptions): HostState {
  const sa = (s: XfrmState): XfrmState => ({
    ...s,
    aead: key(s.aead, o.keepXfrmKeys),
    enc: key(s.enc, o.keepXfrmKeys),
    auth: key(s.auth, o.keepXfrmKeys),
  });
  const id = <T>(x: T): T => x;
  return {
    ...h,
    links: collected(h.links, id),
    routes: collected(h.routes, id),
    rules: collected(h.rules, id),
    neighbours: collected(h.neighbours, id),
    fdb: collected(h.fdb, id),
    xfrmStates: collected(h.xfrmStates, (states) => states.map(sa)),
    xfrmPolicies: collected(h.xfrmPolicies, id),
    wireguard: collected(h.wireguard, id),
    subnetEnv: collected(h.subnetEnv, id),
    sysctls: collected(h.sysctls, id),
    firewall: collected(h.firewall, id),
    ...(h.cni ? { cni: collected(h.cni, id) } : {}),
    routeGets: collected(h.routeGets, id),
    raw: h.raw.map(raw),
  };
}

export function guardSnapshot(s: Snapshot, o: GuardOptions): Snapshot {
  const c = s.cluster;
  return {
    ...s,
    source: { ...s.source, keysIncluded: s.source.keysIncluded && o.keepXfrmKeys },
    cluster: {
      ...c,
      flannel: collected(c.flannel, install),
      nodes: collected(c.nodes, (n) => n),
      flannelPods: collected(c.flannelPods, (ps) => ps.map(pod)),
      networkPolicies: collected(c.networkPolicies, (n) => n),
    },
    hosts: Object.fromEntries(Object.entries(s.hosts).map(([n, h]) => [n, collected(h, (d) => host(d, o))])),
    errors: s.errors.map((e) => ({ ...e, error: message(e.error) })),
    ...(s.underlaySamples
      ? {
          // Only counts, times and node names, and the reasons a node has no samples (free text from the node).
          underlaySamples: collected(s.underlaySamples, (d) => ({
            ...d,
            sources: d.sources.map((x) => ({ ...x, error: x.error === null ? null : message(x.error) })),
          })),
        }
      : {}),
  };
}

/**
 * A text file built from a guarded snapshot (a report): one last pass over it as free text. Not the
 * xfrm pass: reports quote WireGuard public keys, which look like key material and must stay.
 */
export function guardText(text: string): string {
  return redactCommandOutput(text);
}
