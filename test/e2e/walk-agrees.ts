/**
 * Issue 9's "Done when" in the lab: with a fault in place, the pair-wide walk alone (`doctor --from FILE --check
 * pod-path`, so no other check's finding hides a break through Report.unless) and `trace --from FILE` must agree
 * with real pings between every ordered pair of test pods. Both run offline on the snapshot doctor already saved
 * (no second collection), in-process through the same functions the CLI calls, so a fault costs one round of
 * parallel pings and a few milliseconds of analysis.
 *
 * Ground truth is the pings, not a table: small echoes for every fault, and for faults that drop big packets also
 * DF echoes as large as the source's FLANNEL_MTU (the largest packet a pod sends, which the walk and trace follow).
 * A ping needs the request and the reply, so pairs are compared unordered, as path-coverage does on the simulator.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PREMISE_CHECKS } from '../../src/analyzers/checks/pod-path.js';
import type { Findings, Role } from '../../src/analyzers/fault-catalog/types.js';
import { buildModel } from '../../src/analyzers/model.js';
import { type TraceResult, trace } from '../../src/analyzers/trace/trace.js';
import { analyzeFromFile } from '../../src/commands/analyze-from.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import { nodePairsOf, pairsOf, unordered } from '../catalog/walk-pairs.js';
import { type LabPod, pingAsync, run } from './lab.js';

/**
 * Faults that break pod traffic in a way no node's collected state holds: the walk and trace must stay silent on
 * the plain snapshot (the test fails when they start seeing one, so the list stays true), and the fault's own
 * `trace --probe` / `doctor --probe` subtests are where the lab proves it is found.
 */
export const NOT_IN_THE_SNAPSHOT: Readonly<Record<string, string>> = {
  'underlay-drop':
    "the drop is an nft rule on the lab's underlay bridge, in the root netns, which is no node's: only packets show it (doctor --probe)",
};

/** A role's node, or the sender of the traced direction. */
type At = Role | 'source';

/**
 * Where the walk and trace say the packet dies, when it is not (only) the node `lab break` changed: the fault
 * changes one node's state and the break is, or is also, in another node's tables.
 */
export const BREAKS_ON: Readonly<
  Record<string, { readonly walk?: readonly Role[]; readonly trace?: readonly At[]; readonly reason: string }>
> = {
  'duplicate-vtepmac': {
    walk: ['node', 'third'],
    trace: ['node'],
    reason:
      "the third node's fdb for the shared MAC now sends the peer's frames to the node: the walk stops the third's packets to the peer there; trace follows them to the node, which drops a frame not for its MAC",
  },
  'public-ip-wrong': {
    trace: ['source'],
    reason:
      "the peers' fdb sends the node's frames to the lease's public-ip, which no node holds: trace stops on the sender, the walk on the node whose lease names it",
  },
};

/**
 * pod-path's premise findings that say the lease itself is wrong or absent: the walk follows the lease's addresses,
 * where no pod lives (or there is no lease to follow), so that node's pairs say nothing about its pods' pings and are
 * not compared. The other premises (cni0-address, subnet-env, …) leave the lease right, and their pairs are compared.
 */
const LEASE_PREMISES = PREMISE_CHECKS.filter((c) => c.startsWith('podcidr-') || c === 'node-not-registered');

/**
 * Faults whose lease change the peers' flanneld does not act on in some lab (the catalog's effectOnDual says the
 * traffic still flows): the walk follows the lease, the peers' kernels keep their old entries, so the walk's verdict
 * on that node's pairs is about the lease, not about the pings, and those pairs are not compared for the walk.
 * trace follows the peers' real fdb and routes, so it is still compared on every pair.
 */
const LEASE_NOT_FOLLOWED: Readonly<Record<string, { readonly applies: (r: WalkRun) => boolean; reason: string }>> = {
  'public-ip-wrong': {
    applies: (r) => r.pods.some((p) => p.ip6 !== ''),
    reason:
      'dual-stack flanneld v0.28.9 ignores a Node update that changes only the IPv4 lease: the peers keep the fdb toward the real InternalIP',
  },
};

export interface WalkRun {
  readonly fault: string;
  /** the catalog's findings for this lab (its premise findings say which nodes' leases are wrong) */
  readonly spec: Findings;
  readonly roles: Record<Role, string>;
  readonly pods: readonly LabPod[];
  readonly nodes: readonly string[];
  /** the snapshot doctor saved while the fault was in place */
  readonly file: string;
  /** the pings taken while doctor collected */
  readonly pings: Pings;
}

const pair = (a: string, b: string) => [a, b].sort().join(' <-> ');

/** The pod's eth0 MTU: the largest packet the pod sends (CNI sets it to its node's FLANNEL_MTU; a fault may not). */
function podMtu(p: LabPod): number | null {
  const n = Number(run('ip', ['netns', 'exec', p.netns, 'cat', '/sys/class/net/eth0/mtu']).stdout.trim());
  return Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * The node's FLANNEL_MTU: its subnet.env (the lab bind-mounts each node's /run/flannel from `$LAB_RUN/nodes/<node>`),
 * else cni0's MTU, which CNI set from it (trace and the walk stand in the same way). Not a pod's eth0: a fault may
 * have changed that one.
 */
function flannelMtuOf(labRun: string, node: string): number | null {
  const env = run('cat', [join(labRun, 'nodes', node, 'run-flannel', 'subnet.env')]).stdout;
  const m = /^FLANNEL_MTU=(\d+)$/m.exec(env);
  const n = m
    ? Number(m[1])
    : Number(run('ip', ['netns', 'exec', node, 'cat', '/sys/class/net/cni0/mtu']).stdout.trim());
  return Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * The largest packet a node sends to another node's pod: what its route's device takes, no more than FLANNEL_MTU,
 * as the kernel sizes a node's own traffic and trace follows it.
 */
function nodeMtu(node: string, to: LabPod, flannelMtu: number | null): number | null {
  const dev = (JSON.parse(run('ip', ['-n', node, '-j', 'route', 'get', to.ip]).stdout || '[]') as { dev?: string }[])[0]
    ?.dev;
  const mtu = dev ? Number(run('ip', ['netns', 'exec', node, 'cat', `/sys/class/net/${dev}/mtu`]).stdout.trim()) : NaN;
  return Number.isInteger(mtu) && mtu > 0 && flannelMtu ? Math.min(mtu, flannelMtu) : null;
}

type Family = 'ipv4' | 'ipv6';

/**
 * The unordered node pairs whose pods' pings fail (any size, either family), per family; the ordered node pairs
 * (`A -> B`) whose node-to-pod pings fail (A's own echo to B's pods, small, either family); each failing ping.
 */
export interface Pings {
  readonly pairs: ReadonlySet<string>;
  readonly byFamily: Readonly<Record<Family, ReadonlySet<string>>>;
  readonly nodeToPod: Readonly<Record<Family, ReadonlySet<string>>>;
  /** The ordered node pairs whose node's largest DF echo fails (only for faults that drop big packets; IPv4). */
  readonly nodeToPodBig: ReadonlySet<string>;
  readonly log: readonly string[];
}

/**
 * Started as doctor collects: the snapshot and the pings must see one state. On dual-stack every pair is pinged over
 * IPv6 too (small echoes), since the walk and trace judge both families.
 */
export async function failingPairs(pods: readonly LabPod[], bigPackets: boolean, labRun: string): Promise<Pings> {
  const jobs: Promise<{ a: LabPod; b: LabPod; family: Family; what: string } | null>[] = [];
  // a lab node's netns is named after the node: its own packets to another node's pods, the walk's `node` class
  const nodeJobs: Promise<{ a: string; b: LabPod; family: Family; big?: number } | null>[] = [];
  for (const a of new Set(pods.map((p) => p.node))) {
    const flannelMtu = bigPackets ? flannelMtuOf(labRun, a) : null;
    for (const b of pods) {
      if (b.node === a) continue;
      nodeJobs.push(pingAsync({ netns: a }, b).then((ok) => (ok ? null : { a, b, family: 'ipv4' })));
      if (b.ip6)
        nodeJobs.push(pingAsync({ netns: a }, b, { ipv6: true }).then((ok) => (ok ? null : { a, b, family: 'ipv6' })));
      const big = bigPackets ? nodeMtu(a, b, flannelMtu) : null;
      if (big)
        nodeJobs.push(
          pingAsync({ netns: a }, b, { size: big - 28, dontFragment: true }).then((ok) =>
            ok ? null : { a, b, family: 'ipv4', big },
          ),
        );
    }
  }
  for (const a of pods)
    for (const b of pods) {
      if (a === b) continue;
      jobs.push(pingAsync(a, b).then((ok) => (ok ? null : { a, b, family: 'ipv4', what: 'small' })));
      if (a.ip6 && b.ip6)
        jobs.push(
          pingAsync(a, b, { ipv6: true }).then((ok) => (ok ? null : { a, b, family: 'ipv6', what: 'small, IPv6' })),
        );
      const mtu = bigPackets ? podMtu(a) : null;
      if (mtu)
        jobs.push(
          pingAsync(a, b, { size: mtu - 28, dontFragment: true }).then((ok) =>
            ok ? null : { a, b, family: 'ipv4', what: `${mtu} bytes, DF` },
          ),
        );
    }
  const [failed, nodeFailed] = await Promise.all([
    Promise.all(jobs).then((xs) => xs.filter((x) => x !== null)),
    Promise.all(nodeJobs).then((xs) => xs.filter((x) => x !== null)),
  ]);
  // A DF echo that met a smaller MTU taught its pod that path MTU (kept 600 s): forgotten here, so later pings test
  // the path, not the pod's memory of it.
  // The nodes' own DF echoes teach them too, and a node's cache also holds what its pods' forwarded echoes met.
  if (bigPackets)
    for (const netns of [...pods.map((p) => p.netns), ...new Set(pods.map((p) => p.node))])
      run('ip', ['netns', 'exec', netns, 'ip', 'route', 'flush', 'cache']);
  const of = (family: Family) =>
    new Set(failed.filter((f) => f.family === family).map((f) => pair(f.a.node, f.b.node)));
  const nodeOf = (family: Family) =>
    new Set(nodeFailed.filter((f) => f.family === family && !f.big).map((f) => `${f.a} -> ${f.b.node}`));
  return {
    pairs: new Set(failed.map((f) => pair(f.a.node, f.b.node))),
    byFamily: { ipv4: of('ipv4'), ipv6: of('ipv6') },
    nodeToPod: { ipv4: nodeOf('ipv4'), ipv6: nodeOf('ipv6') },
    nodeToPodBig: new Set(nodeFailed.filter((f) => f.big).map((f) => `${f.a} -> ${f.b.node}`)),
    log: [
      ...failed.map((f) => `${f.a.node} -> ${f.b.node} (${f.what})`),
      ...nodeFailed.map(
        (f) =>
          `node ${f.a} -> ${f.b.node}'s pod (${f.big ? `${f.big} bytes, DF` : 'small'}${f.family === 'ipv6' ? ', IPv6' : ''})`,
      ),
    ],
  };
}

function show(t: TraceResult): string {
  if (t.brokenAt === null) return `reaches${t.via.length ? `, via ${t.via.join(', ')}` : ''}`;
  const h = t.hops[t.brokenAt]!;
  return `breaks on ${h.node ?? '(no node)'} at "${h.step}": ${h.note} | ${h.entry ?? ''}`;
}

/**
 * Asserts that the walk alone and trace agree with the pings. `lines` gathers what the test's diagnostics show, the
 * caller's array so that a failed assertion still shows them.
 */
export async function walkAgrees(r: WalkRun, lines: string[]): Promise<void> {
  const snapshot = await readSnapshot(r.file);
  const pings = r.pings;
  // A premise naming a peer (podcidr-overlap) is about both leases: the peer's range is the one two nodes share.
  const premise = new Set(
    r.spec.expect
      .filter((e) => e.node && LEASE_PREMISES.includes(e.check))
      .flatMap((e) => [r.roles[e.node!], ...(e.peer ? [r.roles[e.peer]] : [])]),
  );
  const compared = (p: string) => !p.split(' <-> ').some((n) => premise.has(n));
  const ignored = LEASE_NOT_FOLLOWED[r.fault]?.applies(r) ? r.roles.node : null;
  const walkCompared = (p: string) => compared(p) && !p.split(' <-> ').includes(ignored ?? '');
  const failing = [...pings.pairs].filter(compared).sort();

  const { result } = await analyzeFromFile(r.file, { only: ['pod-path'], skip: [] });
  const walkFindings = result.findings.filter((f) => f.check === 'pod-path');
  const walkPairs = walkFindings.flatMap((f) => pairsOf(f, r.nodes));
  const walked = unordered(walkPairs).filter(walkCompared);
  const showWalk = walkFindings.map((f) => `${f.severity} ${f.node}: ${f.message}`).join('\n  ');
  lines.push(`pings fail: ${pings.log.join(', ') || 'none'}`, `walk: ${showWalk || 'nothing'}`);

  const silent = NOT_IN_THE_SNAPSHOT[r.fault];
  const on = BREAKS_ON[r.fault];
  const walkAt = (on?.walk ?? ['node']).map((x) => r.roles[x]);
  const traceAt = (from: string) => (on?.trace ?? ['node']).map((x) => (x === 'source' ? from : r.roles[x]));
  if (silent) {
    assert.notDeepEqual(failing, [], `${r.fault} is listed as not in the snapshot (${silent}), but every ping passes`);
    assert.deepEqual(walked, [], `${r.fault} is listed as not in the snapshot (${silent}), but the walk reports it`);
  } else {
    if (ignored) lines.push(`walk: ${ignored}'s pairs not compared (${LEASE_NOT_FOLLOWED[r.fault]!.reason})`);
    assert.deepEqual(
      walked,
      failing.filter(walkCompared),
      `${r.fault}: pairs the walk alone reports broken vs the pairs whose pings fail\n  ${showWalk}`,
    );
    for (const f of walkFindings)
      if (pairsOf(f, r.nodes).some((p) => walkCompared(pair(p.from, p.to))))
        assert.ok(
          walkAt.includes(f.node ?? ''),
          `${r.fault}: the walk names another node than ${walkAt.join(' or ')}: ${f.message}`,
        );
  }

  // A node's own echo to another node's pods: the walk's `node` class. Its reply is a pod's packet to that node,
  // so a failing node ping is explained by the walk's node pair, or by its pod pair back toward the node.
  const nodeWalked = new Set(walkFindings.flatMap((f) => nodePairsOf(f, r.nodes)).map((p) => `${p.from} -> ${p.to}`));
  const podWalked = new Set(walkPairs.map((p) => `${p.from} -> ${p.to}`));
  const nodeFailing = [...new Set([...pings.nodeToPod.ipv4, ...pings.nodeToPod.ipv6])];
  const ends = (p: string) => p.split(' -> ') as [string, string];
  const orderedCompared = (p: string) => walkCompared(pair(...ends(p)));
  if (silent)
    assert.deepEqual(
      [...nodeWalked],
      [],
      `${r.fault} is listed as not in the snapshot (${silent}), but the walk reports it`,
    );
  else {
    for (const p of [...nodeWalked].filter(orderedCompared))
      assert.ok(
        nodeFailing.includes(p),
        `${r.fault}: the walk says node ${ends(p)[0]}'s packets to ${ends(p)[1]}'s pods stop, but its pings pass\n  ${showWalk}`,
      );
    for (const p of nodeFailing.filter(orderedCompared)) {
      const [a, b] = ends(p);
      assert.ok(
        nodeWalked.has(p) || podWalked.has(`${b} -> ${a}`),
        `${r.fault}: node ${a}'s pings to ${b}'s pods fail, but the walk reports neither ${a}'s packets to ${b}'s pods nor ${b}'s pods' packets to ${a}\n  ${showWalk || 'nothing'}`,
      );
    }
    for (const f of walkFindings)
      if (nodePairsOf(f, r.nodes).some((p) => orderedCompared(`${p.from} -> ${p.to}`)))
        assert.ok(
          walkAt.includes(f.node ?? ''),
          `${r.fault}: the walk names another node than ${walkAt.join(' or ')}: ${f.message}`,
        );
  }

  // One trace against its pings: where they pass it must reach; where it breaks, on the node the packet dies on.
  const judge = (t: TraceResult, what: string, pingsFail: boolean, sender: string) => {
    if (!pingsFail)
      return assert.equal(
        t.brokenAt,
        null,
        `${what}: the pings pass${silent ? ` (or ${silent})` : ''}, but trace ${show(t)}`,
      );
    if (t.brokenAt === null) return;
    const at = traceAt(sender);
    assert.ok(
      at.includes(t.hops[t.brokenAt]!.node ?? ''),
      `${what}: the packet dies on ${at.join(' or ')}, but trace ${show(t)}`,
    );
  };

  // trace runs per family, against that family's pings
  const traces = new Map<string, TraceResult>();
  const families: Family[] = r.pods.every((p) => p.ip6) ? ['ipv4', 'ipv6'] : ['ipv4'];
  for (const family of families)
    for (const a of r.pods)
      for (const b of r.pods) {
        if (a === b || !compared(pair(a.node, b.node))) continue;
        const [from, to] = family === 'ipv6' ? [a.ip6, b.ip6] : [a.ip, b.ip];
        const t = trace(snapshot, from, to);
        traces.set(`${family} ${a.node} -> ${b.node}`, t);
        const what = `${r.fault}: trace ${from} (${a.node}) -> ${to} (${b.node})`;
        lines.push(`${what}: ${show(t)}`);
        judge(t, what, !silent && pings.byFamily[family].has(pair(a.node, b.node)), a.node);
      }
  // trace <node IP> <pod>, as a user types it: from the node's InternalIP of the family to each other node's pods
  const model = buildModel(snapshot);
  for (const family of families)
    for (const a of new Set(r.pods.map((p) => p.node))) {
      const from = model.byName.get(a)?.kube.internalIPs.find((ip) => ip.includes(':') === (family === 'ipv6'));
      if (!from) continue;
      for (const b of r.pods) {
        if (b.node === a || !compared(pair(a, b.node))) continue;
        const to = family === 'ipv6' ? b.ip6 : b.ip;
        const t: TraceResult = trace(snapshot, from, to);
        const what: string = `${r.fault}: trace ${from} (node ${a}) -> ${to} (${b.node})`;
        lines.push(`${what}: ${show(t)}`);
        // trace follows the node's largest packet, which the big echo tests where the fault drops big packets
        const fails =
          pings.nodeToPod[family].has(`${a} -> ${b.node}`) ||
          (family === 'ipv4' && pings.nodeToPodBig.has(`${a} -> ${b.node}`));
        judge(t, what, !silent && fails, a);
        if (silent || !fails) continue;
        const back = traces.get(`${family} ${b.node} -> ${a}`);
        assert.ok(
          t.brokenAt !== null || (back !== undefined && back.brokenAt !== null),
          `${what}: the node's pings fail, but trace says its packets reach and ${b.node}'s pods' packets to ${a} do too`,
        );
      }
    }

  // every failing pair: at least one of its two one-way traces is broken (both reaching would be a silent miss)
  if (!silent)
    for (const family of families)
      for (const p of [...pings.byFamily[family]].filter(compared)) {
        const [x, y] = p.split(' <-> ');
        assert.ok(
          [`${family} ${x} -> ${y}`, `${family} ${y} -> ${x}`].some((k) => traces.get(k)?.brokenAt != null),
          `${r.fault}: the ${family} pings between ${p} fail, but trace says both directions reach`,
        );
      }
}
