// Issue 9 item 5, the simulator half: for every simulator fault of the catalog, the fixes doctor prints restore
// traffic and cut nothing that worked. Each test builds a fresh cluster of network namespaces, pings every ordered
// pod pair (and family), injects the fault, collects and analyses as doctor does, runs every printed fix as an
// operator would (the commands in the node's namespace, parsed exactly as the lab proof parses them, then each named
// flannel pod restarted: SimCluster.restartFlanneld re-runs what flanneld does at start), pings every pair again and
// collects once more: every pair that worked before the fault works, and doctor reports nothing at any severity.
// Where the simulator cannot ping (udp, ipip, WireGuard and IPsec stand-ins: no flanneld forwards flannel0, and the
// kernel has no ipip, wireguard or ESP), the proof is the fresh collection alone, and the test says so.
// A fix that is the operator's change outside the nodes (OPERATOR) is applied as the fix names it; a fault the
// simulator cannot prove is listed in CANNOT with its reason, and the test fails when the reason no longer holds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { Finding } from '../../src/analyzers/finding.js';
import { analyze } from '../../src/analyzers/run.js';
import type { Snapshot } from '../../src/snapshot/types.js';
import { fixActions } from '../catalog/fix-actions.js';
import { canSimulate, NETWORK, netConfFor, SimCluster as Sim, type SimCluster, sh } from '../sim/cluster.js';
import { FAULTS, type Fault } from '../sim/faults.js';
import { RING, sampleCluster } from '../sim/samples.js';

const skip = canSimulate() ? false : 'needs root to create network namespaces';

/** Backends whose pods the simulator cannot ping across nodes (see the file comment and path-coverage.test.ts). */
const WITHOUT_PINGS = new Set(['udp', 'ipip', 'wireguard', 'ipsec']);

/** An operator's change a prose fix names, applied to the simulator as the fix says. */
interface Operator {
  /** every prose fix of the fault this change answers (the fix text, matched) */
  readonly fixes: readonly RegExp[];
  readonly apply: (c: SimCluster) => void;
}

const restartAll = (c: SimCluster) => {
  for (const n of c.nodes) c.restartFlanneld(n);
};

const OPERATOR: Readonly<Record<string, Operator>> = {
  // "Allow UDP 8472 (vxlan) from node2 to node3 in the network between them": the switch's filter that drops it goes
  'underlay-drops-vxlan-samples': {
    fixes: [/^Allow UDP 8472 \(vxlan\) from node2 to node3 in the network between them/],
    apply: (c) => {
      const listed = sh(
        'ip',
        'netns',
        'exec',
        c.sw,
        'nft',
        '-a',
        'list',
        'chain',
        'bridge',
        'kfl_underlay',
        'filter_fwd',
      );
      const rule = /iifname "e2" oifname "e3" udp dport 8472 drop # handle (\d+)/.exec(listed);
      assert.ok(rule, `the switch's filter is not where the fault put it:\n${listed}`);
      sh(
        'ip',
        'netns',
        'exec',
        c.sw,
        'nft',
        'delete',
        'rule',
        'bridge',
        'kfl_underlay',
        'filter_fwd',
        'handle',
        rule[1]!,
      );
    },
  },
  // "Edit the ConfigMap …, then restart the flannel pods": the finding names the short PSK; a 96-character one
  'ipsec-psk-short': {
    fixes: [/^Edit the ConfigMap \(kubectl -n kube-flannel edit cm kube-flannel-cfg\), then restart the flannel pods/],
    apply: (c) => {
      c.netConfText = netConfFor('ipsec');
      restartAll(c);
    },
  },
  // "Choose a Network that overlaps nothing real": the nodes' podCIDRs are in 10.244.0.0/16, which overlaps nothing
  'network-overlaps-lan': {
    fixes: [
      /^Choose a Network that overlaps nothing real/,
      /^Make kube-flannel-cfg net-conf.json Network equal the cluster CIDR .* rollout restart ds\/kube-flannel-ds\.$/,
    ],
    apply: (c) => {
      c.netConfText = JSON.stringify({ Network: NETWORK, Backend: { Type: 'host-gw' } });
      restartAll(c);
    },
  },
};

/** A fix that says to do nothing on this node (the finding explains another one's fix). */
const NO_ACTION = /^Keep this entry; /;
/** "Restart every flannel pod …: kubectl -n <ns> rollout restart ds/<name>" restarts flanneld on every node. */
const ROLLOUT = /^Restart every flannel pod\b.*\brollout restart ds\/\S+/;

/**
 * The faults whose fixes the simulator cannot prove, with the reason; each is still run, and its test fails when
 * the run succeeds (the entry is stale) or when the reason's text no longer matches what stops it.
 */
const CANNOT: Readonly<Record<string, string>> = {};

interface Pair {
  readonly from: string;
  readonly to: string;
  readonly addr: string;
}

/** Every ordered pod pair in every family the cluster has, and the extra destination addresses the fault names. */
function pairsOf(c: SimCluster, fault: Fault): Pair[] {
  const out: Pair[] = [];
  for (const a of c.nodes)
    for (const b of c.nodes) {
      if (a === b) continue;
      if (c.v4) out.push({ from: a.name, to: b.name, addr: b.podIP });
      if (c.v6) out.push({ from: a.name, to: b.name, addr: `${b.podNet6}2` });
    }
  for (const br of fault.breaks ?? []) {
    if (!br.toHost) continue;
    const to = c.node(br.to);
    const addr = to.podNet.replace(/\.0$/, `.${br.toHost}`);
    sh('ip', 'netns', 'exec', to.podNs, 'ip', 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    out.push({ from: br.from, to: br.to, addr });
  }
  return out;
}

const pairText = (p: Pair) => `${p.from} -> ${p.to} (${p.addr})`;

function pings(c: SimCluster, p: Pair): boolean {
  const argv = ['netns', 'exec', c.node(p.from).podNs, 'ping', '-c', '1', '-W', '1', p.addr];
  // a fresh path's first echo can wait for neighbour discovery longer than ping's 1 s: three tries
  for (let i = 0; i < 3; i++) if (spawnSync('ip', argv, { stdio: 'ignore' }).status === 0) return true;
  return false;
}

async function collect(c: SimCluster, fault: Fault, injected: boolean): Promise<Snapshot> {
  let s = await c.snapshot(`simulated ${fault.backend} cluster, fault ${fault.id}${injected ? '' : ', fixed'}`);
  // the probe counts are the fault itself (doctor --probe's answer while it is in place)
  if (injected && fault.addToSnapshot) s = fault.addToSnapshot(s);
  if (fault.sampled) s = { ...s, underlaySamples: { status: 'ok', data: await sampleCluster(c, s, RING) } };
  return s;
}

/**
 * wg(8) and the ESP SAs are stand-ins (no wireguard or ESP in this kernel): a printed `wg set … peer <key> remove`
 * or `ip xfrm state delete … spi <spi>` is applied to the text the stand-in reports. Anything else runs for real.
 */
function runOnNode(c: SimCluster, node: string, command: string): string | null {
  const wg = /^wg set flannel-wg peer (\S+) remove$/.exec(command);
  if (wg && c.backend === 'wireguard') {
    const dump = c.wgDump.get(node) ?? '';
    if (!dump.includes(`\t${wg[1]}\t`)) return `wg: no peer ${wg[1]} on ${node}`;
    c.wgDump.set(
      node,
      dump
        .split('\n')
        .filter((l) => !l.includes(`\t${wg[1]}\t`))
        .join('\n'),
    );
    return null;
  }
  const sa = /^ip xfrm state delete src (\S+) dst (\S+) proto esp spi (\S+)$/.exec(command);
  if (sa && c.backend === 'ipsec') {
    const text = c.xfrmStateText.get(node) ?? '';
    const records = text.split(/(?=^src )/m);
    const keep = records.filter((r) => !(r.startsWith(`src ${sa[1]} dst ${sa[2]}\n`) && r.includes(`spi ${sa[3]} `)));
    if (keep.length === records.length) return `ip xfrm state: no SA ${sa[3]} on ${node}`;
    c.xfrmStateText.set(node, keep.join(''));
    return null;
  }
  const r = spawnSync('ip', ['netns', 'exec', c.node(node).ns, 'sh', '-c', command], { encoding: 'utf8' });
  return r.status === 0 ? null : `exit ${r.status}: ${r.stderr.trim()}`;
}

/** Runs every printed fix; returns what could not be run. Commands first, then each named restart once. */
function runFixes(c: SimCluster, fault: Fault, findings: readonly Finding[]): string[] {
  const problems: string[] = [];
  const restarts = new Set<string>();
  const op = OPERATOR[fault.id];
  let operated = false;
  for (const f of findings) {
    if (NO_ACTION.test(f.fix)) continue;
    if (ROLLOUT.test(f.fix)) {
      for (const n of c.nodes) restarts.add(n.name);
      continue;
    }
    const actions = fixActions(f.fix);
    if (!actions) {
      if (op?.fixes.some((r) => r.test(f.fix))) operated = true;
      else problems.push(`the fix of ${f.check} on ${f.node} is prose, not a command: ${f.fix}`);
      continue;
    }
    for (const a of actions) {
      if (!c.nodes.some((n) => n.name === a.node)) {
        problems.push(`the fix of ${f.check} names ${a.node}, not a node: ${f.fix}`);
        continue;
      }
      if (a.node !== f.node) problems.push(`the fix of ${f.check} on ${f.node} runs on ${a.node}: ${f.fix}`);
      if ('restart' in a) restarts.add(a.node);
      else {
        const failed = runOnNode(c, a.node, a.command);
        if (failed) problems.push(`the fix of ${f.check} failed on ${a.node}: ${a.command}: ${failed}`);
      }
    }
  }
  if (operated) op?.apply(c);
  // restarts last and once per node, as the lab proof does: a command on the same node must not be undone by order
  for (const node of restarts) c.restartFlanneld(c.node(node));
  return problems;
}

/** What stops the fault's printed fixes from restoring the cluster: empty when they do. */
async function prove(fault: Fault, diagnostic: (m: string) => void): Promise<string[]> {
  const c = new Sim(fault.backend).build();
  try {
    const pingable = !WITHOUT_PINGS.has(c.flannelType);
    const pairs = pingable ? pairsOf(c, fault) : [];
    const worked = pairs.filter((p) => pings(c, p));
    assert.deepEqual(
      pairs.filter((p) => !worked.includes(p)).map(pairText),
      [],
      'a healthy simulated cluster reaches every pod',
    );
    fault.apply(c);
    const { findings } = analyze(await collect(c, fault, true));
    if (findings.length === 0) diagnostic(`${fault.id}: doctor reports nothing (flannel tolerates it): no fix to run`);
    if (!pingable)
      diagnostic(`${fault.id}: the ${c.flannelType} stand-in carries no pod traffic: proven by collection`);
    const problems = runFixes(c, fault, findings);
    const cut = worked.filter((p) => !pings(c, p)).map(pairText);
    if (cut.length)
      problems.push(`after the printed fixes these pairs that worked before the fault fail: ${cut.join(', ')}`);
    const after = analyze(await collect(c, fault, false)).findings;
    for (const f of after)
      problems.push(`after the printed fixes doctor still reports: ${f.severity} ${f.check} ${f.node}: ${f.message}`);
    return problems;
  } finally {
    c.destroy();
  }
}

for (const fault of FAULTS) {
  test(`fix: ${fault.backend} ${fault.id}: the printed fixes restore traffic and leave doctor clean`, {
    skip,
  }, async (t) => {
    const problems = await prove(fault, (m) => t.diagnostic(m));
    const reason = CANNOT[fault.id];
    if (!reason) return assert.deepEqual(problems, [], fault.id);
    t.diagnostic(`${fault.id}: not provable in the simulator: ${reason}`);
    assert.notDeepEqual(problems, [], `${fault.id} is listed in CANNOT (${reason}) but its fixes now work: remove it`);
  });
}

test('fix: every OPERATOR and CANNOT entry is a simulator fault of the catalog', () => {
  const ids = new Set(FAULTS.map((f) => f.id));
  for (const id of [...Object.keys(OPERATOR), ...Object.keys(CANNOT)])
    assert.ok(ids.has(id), `${id} is not a simulator fault`);
});
