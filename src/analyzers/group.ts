/**
 * Findings that share a root cause, grouped after analysis: one headline instead of one finding
 * per node. Pure: a function of the findings (in the runner's order) and the snapshot they came
 * from; every finding stays in the result, a group only points at its members.
 *
 * Two kinds of cause, tried in this order:
 * - `same`: the same finding on many nodes: one peer's lease seen stale by every node that
 *   programs it, the same config or the same missing rule everywhere. Key: check, severity, peer
 *   and the message with the node's own name taken out.
 * - `node`: one node wrong about many peers in the same way (its flanneld stopped programming).
 *   Key: check, severity, node and the message with names and addresses taken out.
 */
import type { FlannelPod, SnapshotHead } from '../snapshot/types.js';
import type { Finding, Severity } from './finding.js';

export interface FindingGroup {
  readonly kind: 'same' | 'node';
  readonly check: string;
  readonly severity: Severity;
  /** One line naming the cause. */
  readonly cause: string;
  /** Nodes where the findings were made, sorted; one for a `node` group. */
  readonly nodes: readonly string[];
  /** Peers the findings concern, sorted; at most one for a `same` group. */
  readonly peers: readonly string[];
  /** Index into the findings of the one shown as the example. */
  readonly example: number;
  /** Indexes into the findings of every member, the example included. */
  readonly findings: readonly number[];
  /** One fix covering every member. */
  readonly fix: string;
}

/** Fewer findings than this sharing a key are shown one by one. */
const MIN_GROUP = 2;
/** Up to this many pods are restarted by name; beyond, by naming the few nodes left out. */
const LIST_PODS = 6;

export function groupFindings(findings: readonly Finding[], snapshot: SnapshotHead): FindingGroup[] {
  const groups: FindingGroup[] = [];
  const taken = new Set<number>();
  const same = bucket(findings, (f) =>
    f.node === null ? null : [f.check, f.severity, f.peer ?? '', withoutName(f.message, f.node, '<node>')].join('\0'),
  );
  for (const members of same.values()) {
    if (members.length < MIN_GROUP) continue;
    for (const i of members) taken.add(i);
    groups.push(makeGroup('same', members, findings, snapshot));
  }
  const byNode = bucket(findings, (f, i) =>
    taken.has(i) || f.node === null || f.peer === null
      ? null
      : [f.check, f.severity, f.node, shape(withoutName(f.message, f.peer, '<peer>'))].join('\0'),
  );
  for (const members of byNode.values()) {
    if (members.length < MIN_GROUP) continue;
    groups.push(makeGroup('node', members, findings, snapshot));
  }
  return groups.sort((a, b) => a.findings[0]! - b.findings[0]!);
}

function bucket(findings: readonly Finding[], key: (f: Finding, i: number) => string | null): Map<string, number[]> {
  const m = new Map<string, number[]>();
  findings.forEach((f, i) => {
    const k = key(f, i);
    if (k === null) return;
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  });
  return m;
}

function makeGroup(
  kind: FindingGroup['kind'],
  members: number[],
  findings: readonly Finding[],
  snapshot: SnapshotHead,
): FindingGroup {
  const first = findings[members[0]!]!;
  const all = members.map((i) => findings[i]!);
  const nodes = sortNames(new Set(all.map((f) => f.node!)));
  const peers = sortNames(new Set(all.flatMap((f) => (f.peer ? [f.peer] : []))));
  const cause =
    kind === 'same'
      ? first.peer
        ? `${nodes.length} nodes hold the same wrong state about ${first.peer}: ${first.message}`
        : `the same on ${nodes.length} nodes: ${withoutName(first.message, first.node!, 'the node')}`
      : `${first.node} is wrong about ${peers.length} peers: ${first.message} (and ${peers.length - 1} more like it)`;
  return {
    kind,
    check: first.check,
    severity: first.severity,
    cause,
    nodes,
    peers,
    example: members[0]!,
    findings: members,
    fix: groupFix(all, nodes, snapshot),
  };
}

/** The per-node fixes flanneld's restart covers start with this; the rest is the by-hand way. */
const RESTART = (node: string) => `Restart the flannel pod on ${node}`;

function groupFix(all: readonly Finding[], nodes: readonly string[], snapshot: SnapshotHead): string {
  if (all.every((f) => f.fix.startsWith(RESTART(f.node!)))) {
    const restart = restartCommand(nodes, snapshot);
    if (restart) return restart;
  }
  // A fix names its node's flannel pod (packaging.ts podCommandsFor): one template for all takes both names out.
  const pods = snapshot.cluster.flannelPods.status === 'ok' ? snapshot.cluster.flannelPods.data : [];
  const templates = new Set(
    all.map((f) =>
      pods
        .filter((p) => p.node === f.node)
        .reduce((t, p) => withoutName(t, p.name, '<pod>'), withoutName(f.fix, f.node!, '<node>')),
    ),
  );
  if (templates.size === 1) {
    const [t] = templates as Set<string> & [string];
    if (t.startsWith('On <node>: ') && !t.slice(11).includes('<node>')) return `On each of them: ${t.slice(11)}`;
    return t.includes('<node>') ? `On each of them (as <node>): ${t}` : t;
  }
  return `${all[0]!.fix} (each of the ${all.length} findings' own fix is in -o json)`;
}

/**
 * The one command that restarts the flannel pods on exactly `nodes`: by pod name when few, else by
 * naming the few nodes whose pods stay (the pods' DaemonSet name keeps other pods of the namespace out).
 */
export function restartCommand(nodes: readonly string[], snapshot: SnapshotHead): string | null {
  const pods = snapshot.cluster.flannelPods.status === 'ok' ? snapshot.cluster.flannelPods.data : null;
  if (!pods) return null;
  const wanted = new Set(nodes);
  const hit = pods.filter((p) => p.node !== null && wanted.has(p.node));
  if (hit.length === 0) return null;
  const namespaces = new Set(hit.map((p) => p.namespace));
  if (namespaces.size !== 1) return null;
  const [ns] = namespaces;
  const without = nodes.filter((n) => !hit.some((p) => p.node === n));
  const missing = without.length ? ` (no flannel pod on ${without.length} of them: ${without.join(', ')})` : '';
  const kept = pods.filter((p) => p.namespace === ns && !(p.node !== null && wanted.has(p.node)));
  const ds = daemonSetOf(hit, snapshot);
  if (hit.length > LIST_PODS && ds && kept.length <= LIST_PODS && kept.every((p) => p.node !== null)) {
    const keep = kept.map((p) => `spec.nodeName!=${p.node}`).join(',');
    const select = keep ? ` --field-selector ${keep}` : '';
    return `kubectl -n ${ns} get pod -o name${select} | grep '^pod/${ds}-' | xargs kubectl -n ${ns} delete${missing}`;
  }
  return `kubectl -n ${ns} delete pod ${hit.map((p) => p.name).join(' ')}${missing}`;
}

/** The DaemonSet the pods belong to, when every one of them is named after it. */
function daemonSetOf(pods: readonly FlannelPod[], snapshot: SnapshotHead): string | null {
  const flannel = snapshot.cluster.flannel.status === 'ok' ? snapshot.cluster.flannel.data : null;
  const ds = flannel?.daemonSet?.name;
  return ds && pods.every((p) => p.name.startsWith(`${ds}-`)) ? ds : null;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `text` with whole-word occurrences of `name` (node names contain `-` and `.`) replaced. */
function withoutName(text: string, name: string, by: string): string {
  return text.replace(new RegExp(`(?<![\\w.-])${escapeRegExp(name)}(?![\\w-]|\\.\\w)`, 'g'), by);
}

/** The message's shape: addresses, prefixes and MACs stand for any value. */
function shape(message: string): string {
  return message
    .replace(/\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b/gi, '<mac>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?\b/g, '<ip>')
    .replace(/\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\/\d{1,3})?/gi, '<ip6>');
}

/** Names in natural order (node-2 before node-10). */
export function sortNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}
