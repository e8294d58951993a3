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
import {
  canSimulate,
  healthyPod,
  NETWORK,
  netConfFor,
  SimCluster as Sim,
  type SimCluster,
  sh,
} from '../sim/cluster.js';
import { FAULTS, type Fault } from '../sim/faults.js';
import { RING, sampleCluster } from '../sim/samples.js';

const skip = canSimulate() ? false : 'needs root to create network namespaces';

/** Backends whose pods the simulator cannot ping across nodes (see the file comment and path-coverage.test.ts). */
const WITHOUT_PINGS = new Set(['udp', 'ipip', 'wireguard', 'ipsec']);

/** An operator's change a prose fix names, applied to the simulator as the fix says. */
interface Operator {
  /** every prose fix of the fault this change answers (the fix text, matched) */
  readonly fixes: readonly RegExp[];
  readonly apply: (c: SimCluster, findings: readonly Finding[]) => void;
}

const restartAll = (c: SimCluster) => {
  for (const n of c.nodes) c.restartFlanneld(n);
};

const IKE = /^Check IKE between the nodes .*\. Then restart the flannel pods on both nodes\b/;

/** Restarts flanneld on both ends of every SA an ipsec-sa finding names (its node and the addresses it names). */
function restartSaNodes(c: SimCluster, findings: readonly Finding[]): void {
  const names = new Set<string>();
  for (const f of findings.filter((x) => x.check === 'ipsec-sa')) {
    if (f.node) names.add(f.node);
    for (const n of c.nodes) if (f.message.includes(n.ip)) names.add(n.name);
  }
  for (const name of names) c.restartFlanneld(c.node(name));
}

const OPERATOR: Readonly<Record<string, Operator>> = {
  // "… or put all nodes on one L2 segment": the simulator's router between node1 and node3 is node1's host route
  'hostgw-peer-behind-router': {
    fixes: [/^Use a backend that tunnels across L3 \(vxlan.*, or put all nodes on one L2 segment\.$/],
    apply: (c) => c.ns(c.node('node1'), 'ip', 'route', 'del', '192.168.56.13/32', 'via', '192.168.56.12'),
  },
  // the catalog's fixBy: the operator raises node2's uplink back to the network's 1500, then does what the fix
  // says on node2 (delete the tunnel device, restart the flannel pod; no pod veth is stale)
  'mtu-underlay': {
    fixes: [
      /^Make the chain consistent: set Backend.MTU \(vxlan\/wireguard\) or fix the uplink MTU, then on node2: ip link delete <tunnel device>, restart the flannel pod/,
    ],
    apply: (c) => {
      const n = c.node('node2');
      c.ns(n, 'ip', 'link', 'set', 'eth0', 'mtu', '1500');
      c.ns(n, 'ip', 'link', 'delete', 'flannel.1');
      c.restartFlanneld(n);
    },
  },
  // kube-proxy is not simulated: its stray chains in iptables-legacy go, and flanneld on node2 restarts
  'iptables-legacy-nft-split': {
    fixes: [
      /^Make every agent on node2 use one backend: .*delete the stray chains from the other backend, and restart kube-proxy and flannel pods\.$/,
    ],
    apply: (c) => {
      const n = c.node('node2');
      c.ns(n, 'iptables-legacy', '-t', 'nat', '-D', 'PREROUTING', '-j', 'KUBE-SERVICES');
      c.ns(n, 'iptables-legacy', '-t', 'nat', '-X', 'KUBE-SERVICES');
      c.restartFlanneld(n);
    },
  },
  // "… or remove the taint": the DaemonSet then schedules its pod on node3, and flanneld starts there
  'flannel-pod-missing': {
    fixes: [/^Add a toleration for the node's taints to the DaemonSet \(operator: Exists\) or remove the taint/],
    apply: (c) => {
      const n = c.node('node3');
      n.kube = { ...n.kube, taints: [] };
      n.pod = healthyPod(n.name);
      c.restartFlanneld(n);
    },
  },
  // "… or delete the policies so they do not promise isolation that is not there"
  'networkpolicy-present': {
    fixes: [/^Install a NetworkPolicy engine next to flannel .*, or delete the policies/],
    apply: (c) => {
      c.networkPolicies = [];
    },
  },
  // "Start flanneld with --iface=<nic> …, then restart the flannel pods": each flanneld then takes its node's address
  'vagrant-shared-nat-ip': {
    fixes: [
      /^Start flanneld with --iface=<nic> or --iface-regex, or annotate each node with its own address: .*, then restart the flannel pods\.$/,
    ],
    apply: restartAll,
  },
  // "Check IKE …. Then restart the flannel pods on both nodes": the two nodes of the SA the finding names
  'ipsec-sa-absent': { fixes: [IKE], apply: (c, fs) => restartSaNodes(c, fs) },
  'ipsec-sa-key-mismatch': { fixes: [IKE], apply: (c, fs) => restartSaNodes(c, fs) },
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
const NO_ACTION = /^(?:Keep this (?:entry|route)|Leave \S+ on \S+ at \d+)\b/;
/** "Restart every flannel pod …: kubectl -n <ns> rollout restart ds/<name>" restarts flanneld on every node. */
const ROLLOUT = /^Restart every flannel pod\b.*\brollout restart ds\/\S+/;

/**
 * The faults whose fixes the simulator cannot prove, with the reason; each is still run, and its test fails when
 * the run succeeds (the entry is stale) or when the reason's text no longer matches what stops it.
 */
const CANNOT: Readonly<Record<string, { readonly reason: string; readonly stops: RegExp }>> = {
  'node-unreachable': {
    reason:
      "node3's network namespace is deleted (the machine is gone): the printed fix is to find out why, and nothing run on the other nodes brings it back",
    stops: /^the fix of collection-incomplete on node3 is prose, not a command: Re-run doctor for the node/,
  },
  'underlay-drops-vxlan': {
    reason:
      'the drop exists only in the probe counts SIM_ADD_TO_SNAPSHOT adds, not in the switch; underlay-drops-vxlan-samples proves the same fix against a real filter on the switch',
    stops:
      /^the fix of underlay-probe on node2: no filter on the simulator's switch drops UDP 8472 from node2 to node3/,
  },
  // The fixes register the Node again or patch its podCIDR through the API, which the simulator's read-only API
  // objects cannot (no apiserver, no kube-controller-manager): the lab proves them (test/e2e/faults.test.ts).
  'podcidr-outside-network': {
    reason: "the fix deletes node3's Node and has its kubelet register it again; the simulator has no apiserver",
    stops:
      /^the fix of podcidr-outside-network on node3 failed: kubectl drain node3 .*: the simulator runs only the ConfigMap patch and rollout restart$/,
  },
  'podcidr-unset': {
    reason: "the fix patches node2's podCIDR through the API; the simulator has no apiserver",
    stops:
      /^the fix of podcidr-unset on node2 failed: kubectl patch node node2 .*: the simulator runs only the ConfigMap patch and rollout restart$/,
  },
  'podcidr-overlap': {
    reason: "the fix deletes node3's Node and has its kubelet register it again; the simulator has no apiserver",
    stops:
      /^the fix of podcidr-overlap on node3 failed: kubectl drain node3 .*: the simulator runs only the ConfigMap patch and rollout restart$/,
  },
};

interface Pair {
  readonly from: string;
  readonly to: string;
  readonly addr: string;
  /** ICMP payload bytes with DF set (a fault's large-packet break); default 56 without DF */
  readonly size?: number;
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
  // the fault's own breaks too: another address of the podCIDR, or packets of FLANNEL_MTU size that must pass again
  for (const br of fault.breaks ?? []) {
    const to = c.node(br.to);
    if (br.toHost) {
      const addr = to.podNet.replace(/\.0$/, `.${br.toHost}`);
      sh('ip', 'netns', 'exec', to.podNs, 'ip', 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
      out.push({ from: br.from, to: br.to, addr });
    }
    if (br.size) out.push({ from: br.from, to: br.to, addr: br.ipv6 ? `${to.podNet6}2` : to.podIP, size: br.size });
  }
  return out;
}

const pairText = (p: Pair) => `${p.from} -> ${p.to} (${p.addr}${p.size ? `, ${p.size} bytes DF` : ''})`;

function pings(c: SimCluster, p: Pair): boolean {
  const size = p.size ? ['-M', 'do', '-s', String(p.size)] : [];
  const argv = ['netns', 'exec', c.node(p.from).podNs, 'ping', '-c', '1', '-W', '1', ...size, p.addr];
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
  // kmod is not installed in this container: br_netfilter is what modprobe would load, and the kernel has it
  // loaded when /proc/sys/net/bridge exists (modules are the kernel's, not a namespace's)
  const mod = /^modprobe br_netfilter(?: && (.*))?$/.exec(command);
  if (mod) {
    const r = spawnSync('ip', ['netns', 'exec', c.node(node).ns, 'test', '-d', '/proc/sys/net/bridge']);
    if (r.status !== 0) return 'br_netfilter is not loaded in this kernel';
    if (!mod[1]) return null;
    command = mod[1];
  }
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

/**
 * A kubectl fix against the simulated cluster, whose one ConfigMap is its net-conf.json: `patch configmap
 * kube-flannel-cfg --type merge -p '{"data":{"net-conf.json": …}}'` replaces it, `rollout restart` restarts every
 * flanneld (the caller). Returns what could not be done.
 */
function runKubectl(c: SimCluster, command: string): string | null {
  if (/\brollout restart ds\/\S+/.test(command)) return null;
  const patch = /^kubectl -n \S+ patch configmap kube-flannel-cfg --type merge -p '(.*)'$/.exec(command);
  if (!patch) return 'the simulator runs only the ConfigMap patch and rollout restart';
  const netConf = (JSON.parse(patch[1]!) as { data?: Record<string, string> }).data?.['net-conf.json'];
  if (netConf === undefined) return 'the patch changes no net-conf.json';
  c.netConfText = netConf;
  return null;
}

/**
 * "Allow UDP port P … from A (IP) to B (IP) in the network between them": the simulator's network between the nodes
 * is its switch, so the filter that drops exactly that (A's port into B's, UDP P) goes. Returns what could not be done.
 */
function allowOnSwitch(c: SimCluster, from: string, to: string, allow: readonly string[]): string | null {
  const port = (name: string) => `e${c.nodes.findIndex((n) => n.name === name) + 1}`;
  if (allow[0] !== 'udp') return `the simulator's switch filters only UDP, not ${allow.join(' ')}`;
  const listed = sh('ip', 'netns', 'exec', c.sw, 'nft', '-a', 'list', 'ruleset');
  const rule = new RegExp(
    `iifname "${port(from)}" oifname "${port(to)}" udp dport ${allow[1]} drop # handle (\\d+)`,
  ).exec(listed);
  if (!rule) return `no filter on the simulator's switch drops UDP ${allow[1]} from ${from} to ${to}`;
  sh('ip', 'netns', 'exec', c.sw, 'nft', 'delete', 'rule', 'bridge', 'kfl_underlay', 'filter_fwd', 'handle', rule[1]!);
  return null;
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
      if ('kubectl' in a) {
        const failed = runKubectl(c, a.kubectl);
        if (failed) problems.push(`the fix of ${f.check} on ${f.node} failed: ${a.kubectl}: ${failed}`);
        else if (/\brollout restart\b/.test(a.kubectl)) for (const n of c.nodes) restarts.add(n.name);
        continue;
      }
      if ('underlayAllow' in a) {
        const failed = allowOnSwitch(c, a.from, a.to, a.underlayAllow);
        if (failed) problems.push(`the fix of ${f.check} on ${f.node}: ${failed}: ${f.fix}`);
        continue;
      }
      if (!c.nodes.some((n) => n.name === a.node)) {
        problems.push(`the fix of ${f.check} names ${a.node}, not a node: ${f.fix}`);
        continue;
      }
      // a fix acts on its finding's node, or on the peer the finding names (mtu-mixed: raise the one uplink out of step)
      if (a.node !== f.node && a.node !== f.peer)
        problems.push(`the fix of ${f.check} on ${f.node} runs on ${a.node}: ${f.fix}`);
      if ('restart' in a) restarts.add(a.node);
      else if ('kubelet' in a) problems.push(`the fix of ${f.check} registers ${a.node}'s Node again: ${f.fix}`);
      else {
        const failed = runOnNode(c, a.node, a.command);
        if (failed) problems.push(`the fix of ${f.check} failed on ${a.node}: ${a.command}: ${failed}`);
      }
    }
  }
  if (operated) op?.apply(c, findings);
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
    const cannot = CANNOT[fault.id];
    if (!cannot) return assert.deepEqual(problems, [], fault.id);
    t.diagnostic(`${fault.id}: not provable in the simulator: ${cannot.reason}`);
    for (const p of problems) t.diagnostic(`${fault.id}: ${p}`);
    assert.ok(
      problems.some((p) => cannot.stops.test(p)),
      `${fault.id} is listed in CANNOT (${cannot.reason}), but that is no longer what stops it: ${JSON.stringify(problems)}`,
    );
  });
}

test('fix: every OPERATOR and CANNOT entry is a simulator fault of the catalog', () => {
  const ids = new Set(FAULTS.map((f) => f.id));
  for (const id of [...Object.keys(OPERATOR), ...Object.keys(CANNOT)])
    assert.ok(ids.has(id), `${id} is not a simulator fault`);
});
