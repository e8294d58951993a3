/**
 * For each lab fault of the catalog (src/analyzers/fault-catalog): inject it on a lab node with `lab/lab break`,
 * prove it breaks what it should (or, for faults flannel tolerates, that its state is in place), check that
 * `kubectl flannel doctor -o json` reports exactly the catalog's findings and nothing else, heal, and prove the
 * lab is healthy and doctor reports nothing at all again. Faults rotate over the nodes so that a check reporting
 * the wrong node fails.
 */

import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fixActions } from '../catalog/fix-actions.js';
import { mismatches } from '../catalog/match.js';
import { type Backend, FAULTS, type FaultContext, type LabFault, PROBES, type Role, runVars } from './faults.js';
import {
  type DoctorFinding,
  doctor,
  eventually,
  inNode,
  kubectl,
  type Lab,
  type LabPod,
  labCmd,
  labEnv,
  ping,
  requireLab,
  run,
  testPods,
} from './lab.js';
import { BREAKS_ON, failingPairs, NOT_IN_THE_SNAPSHOT, walkAgrees } from './walk-agrees.js';

function context(lab: Lab, index: number): FaultContext {
  const n = lab.nodes.length;
  const at = (i: number) => lab.nodes[i % n] as string;
  return { lab, node: at(index), peer: at(index + 1), third: at(index + 2), pods: testPods(lab) };
}
function nodeOf(ctx: FaultContext, role: Role): string {
  return role === 'node' ? ctx.node : role === 'peer' ? ctx.peer : ctx.third;
}
function podFor(ctx: FaultContext, role: Role): LabPod {
  const node = nodeOf(ctx, role);
  const pod = ctx.pods.find((p) => p.node === node);
  if (!pod) throw new Error(`no test pod on ${node}`);
  return pod;
}

/** `kubectl flannel trace --probe -o json` from one role's lab pod to another's. */
function traceProbe(lab: Lab, ctx: FaultContext, from: Role, to: Role) {
  const [a, b] = [podFor(ctx, from), podFor(ctx, to)];
  return kubectl(
    lab,
    ['flannel', 'trace', `${lab.podNamespace}/${a.name}`, `${lab.podNamespace}/${b.name}`, '--probe', '-o', 'json'],
    180_000,
  );
}

function effectOf(fault: LabFault, ctx: FaultContext) {
  const spec = fault.lab;
  return (
    (ctx.lab.ipFamily === 'dual' ? spec.effectOnDual : undefined) ??
    spec.effectOn?.[ctx.lab.backend as Backend] ??
    spec.effect
  );
}

async function proveEffect(fault: LabFault, ctx: FaultContext): Promise<void> {
  const spec = fault.lab;
  const name = fault.name;
  const e = effectOf(fault, ctx);
  switch (e.kind) {
    case 'unreachable': {
      const [a, b] = [podFor(ctx, e.from), podFor(ctx, e.to)];
      // API-driven faults take effect when the peers' flanneld handles the node update
      assert.ok(
        await eventually(() => !ping(a, b, { count: 1 }), 15_000),
        `${name}: ${a.name}@${a.node} still reaches ${b.name}@${b.node}`,
      );
      break;
    }
    case 'big-packets-dropped': {
      const [a, b] = [podFor(ctx, e.from), podFor(ctx, e.to)];
      assert.ok(ping(a, b), `${name}: small pings ${a.name} -> ${b.name} should still pass`);
      const size = e.size ?? 1400;
      assert.ok(
        !ping(a, b, { size, dontFragment: true }),
        `${name}: ${size}-byte DF pings ${a.name} -> ${b.name} still pass`,
      );
      break;
    }
    case 'cni-add-fails': {
      const node = nodeOf(ctx, e.on);
      const probe = `probe-${name}`.slice(0, 40);
      const r = labCmd(['pod-add', node, probe]);
      labCmd(['pod-del', probe]);
      assert.notEqual(r.code, 0, `${name}: CNI ADD on ${node} still succeeds: ${r.stdout}`);
      assert.match(r.stderr, /CNI ADD .* failed/, `${name}: pod-add failed for another reason: ${r.stderr}`);
      break;
    }
    case 'reachable': {
      const [a, b] = [podFor(ctx, e.from), podFor(ctx, e.to)];
      assert.ok(ping(a, b), `${name}: flannel should tolerate this fault, but ${a.name} -> ${b.name} fails`);
      break;
    }
  }
  if (spec.probe) {
    const p = PROBES[spec.probe];
    assert.ok(p.check(ctx), `${name}: ${p.what} does not show the fault`);
  }
}

function podEth0Mtu(p: { readonly netns: string }): number {
  const r = run('ip', ['netns', 'exec', p.netns, 'cat', '/sys/class/net/eth0/mtu']);
  const mtu = Number(r.stdout.trim());
  assert.ok(Number.isInteger(mtu) && mtu > 0, `the MTU of ${p.netns}'s eth0: ${r.stdout}${r.stderr}`);
  return mtu;
}

async function proveFix(fault: LabFault, ctx: FaultContext, findings: DoctorFinding[], worked: string[]) {
  assert.ok(findings.length > 0, `${fault.name}: doctor printed no fix to run`);
  const restarts = new Set<string>();
  const done = new Set<string>();
  for (const f of findings) {
    const actions = fixActions(f.fix);
    assert.ok(actions, `${fault.name}: the fix of ${f.check} on ${f.node} is not a command: ${f.fix}`);
    for (const c of actions) {
      // the same command printed for several findings (one cause seen from each node) is run once
      const key = JSON.stringify(c);
      if (done.has(key)) continue;
      done.add(key);
      if ('kubectl' in c) {
        const r = run('sh', ['-c', c.kubectl], labEnv(ctx.lab));
        assert.equal(r.code, 0, `${fault.name}: the printed fix failed: ${c.kubectl}: ${r.stderr}`);
        continue;
      }
      if ('underlayAllow' in c) {
        assert.deepEqual([c.from, c.to], [f.node, f.peer], `${fault.name}: the fix names another pair: ${f.fix}`);
        const r = labCmd(['underlay-allow', ...c.underlayAllow]);
        assert.equal(r.code, 0, `${fault.name}: the underlay does not carry what the fix names: ${f.fix}: ${r.stderr}`);
        continue;
      }
      assert.ok(ctx.lab.nodes.includes(c.node), `${fault.name}: the fix names ${c.node}, not a lab node: ${f.fix}`);
      // A restart may name any node: a lease that goes away takes its routes off every node, also off those
      // whose route to the same range led to another node (podcidr-overlap restarts them all but the keeper).
      if ('restart' in c) {
        restarts.add(c.node);
        continue;
      }
      // a finding seen from one node whose cause is its peer (mtu-mixed toward the node out of step) mends the peer
      assert.ok(
        c.node === f.node || c.node === f.peer,
        `${fault.name}: the fix runs on another node than the finding's or its peer's: ${f.fix}`,
      );
      if ('kubelet' in c) {
        const r = labCmd(['restart-kubelet', c.node], 180_000);
        assert.equal(r.code, 0, `${fault.name}: restarting the kubelet on ${c.node} failed: ${r.stderr}`);
        continue;
      }
      const r = inNode(c.node, ['sh', '-c', c.command]);
      assert.equal(r.code, 0, `${fault.name}: the printed fix failed on ${c.node}: ${c.command}: ${r.stderr}`);
    }
  }
  // Restarts last and once per node: a command fix on the same node must not be undone by the restart's order.
  for (const node of restarts) {
    const r = labCmd(['restart-flanneld', node], 180_000);
    assert.equal(r.code, 0, `${fault.name}: restarting flanneld on ${node} failed: ${r.stderr}`);
  }
  recreateDrained(ctx);
  const e = effectOf(fault, ctx);
  if (e.kind === 'unreachable' || e.kind === 'big-packets-dropped') {
    const [a, b] = [podFor(ctx, e.from), podFor(ctx, e.to)];
    assert.ok(
      await eventually(() => ping(a, b, { count: 1 }), 15_000),
      `${fault.name}: after the printed fix ${a.name}@${a.node} still cannot reach ${b.name}@${b.node}`,
    );
    // While the fault was in place the source pod learned a smaller path MTU (an ICMP frag-needed), which its
    // kernel keeps for net.ipv4.route.mtu_expires (600 s) and enforces itself ("message too long"): flushed here as
    // its expiry would, so the ping tests the path the fix mended, not the pod's memory of the broken one.
    if (e.kind === 'big-packets-dropped') run('ip', ['netns', 'exec', a.netns, 'ip', 'route', 'flush', 'cache']);
    if (e.kind === 'big-packets-dropped') {
      // the largest echo the pod now sends: a fault on the pod's own eth0 is mended by making it send less
      const size = e.size ? Math.min(e.size, podEth0Mtu(a) - 28) : 1400;
      assert.ok(
        ping(a, b, { size, dontFragment: true }),
        `${fault.name}: after the printed fix ${size}-byte DF pings ${a.name} -> ${b.name} still fail`,
      );
    }
  }
  if (e.kind === 'cni-add-fails') {
    const node = nodeOf(ctx, e.on);
    const probe = `probe-fixed-${fault.name}`.slice(0, 40);
    const r = labCmd(['pod-add', node, probe]);
    labCmd(['pod-del', probe]);
    assert.equal(r.code, 0, `${fault.name}: after the printed fix CNI ADD on ${node} still fails: ${r.stderr}`);
  }
  // faults traffic does not show (netconf-drift, tolerated ones): the state the probe reads must be mended too
  if (fault.lab.probe) {
    const p = PROBES[fault.lab.probe];
    assert.ok(
      await eventually(() => !p.check(ctx), 15_000),
      `${fault.name}: after the printed fix ${p.what} still shows the fault`,
    );
  }
  const now = new Set(allPairsPing(ctx.pods));
  assert.deepEqual(
    worked.filter((p) => now.has(p)),
    [],
    `${fault.name}: after the printed fix these pairs that worked before the fault fail`,
  );
}

/**
 * A fix that drains a node (a podCIDR that must change) deletes its test pods from the API. What follows in a
 * cluster is done here: the kubelet tears the deleted pods' sandboxes down and their controller creates them again,
 * wired by CNI in the node's new range (the lab's test pods are bare pods; pod-del and pod-add are those two steps).
 * The pairs are then the same pod names on the same nodes.
 */
function recreateDrained(ctx: FaultContext): void {
  const now = new Set(testPods(ctx.lab).map((p) => p.name));
  for (const p of ctx.pods.filter((x) => !now.has(x.name))) {
    labCmd(['pod-del', p.name]);
    const r = labCmd(['pod-add', p.node, p.name]);
    assert.equal(r.code, 0, `the drained pod ${p.name} cannot be created again on ${p.node}: ${r.stderr}`);
  }
  ctx.pods = testPods(ctx.lab);
}

/** What doctor must report for the fault on this lab: its dual-stack or backend variant, else the entry's own. */
function findingsFor(l: LabFault['lab'], lab: Lab) {
  return (lab.ipFamily === 'dual' ? l.findingsOnDual : undefined) ?? l.findingsOn?.[lab.backend as Backend] ?? l;
}

/** `kubectl flannel doctor --probe -o json`: the findings and the exit code. */
function doctorProbe(lab: Lab): { findings: DoctorFinding[]; code: number; stderr: string } {
  const r = kubectl(lab, ['flannel', 'doctor', '--probe', '-o', 'json'], 180_000);
  return { findings: (JSON.parse(r.stdout) as { findings: DoctorFinding[] }).findings, code: r.code, stderr: r.stderr };
}

function allPairsPing(pods: LabPod[]): string[] {
  const failed: string[] = [];
  for (const a of pods)
    for (const b of pods) if (a !== b && !ping(a, b, { count: 1 })) failed.push(`${a.name}->${b.name}`);
  return failed;
}

FAULTS.forEach((fault, index) => {
  test(`fault ${fault.name}: injected, proven, reported exactly, healed`, { timeout: 240_000 }, async (t) => {
    const lab = requireLab(t);
    if (!lab) return;
    const backend = lab.backend as Backend;
    if (!fault.lab.backends.includes(backend)) {
      t.skip(`${fault.name} does not apply to backend ${lab.backend}`);
      return;
    }
    const l = fault.lab;
    if (l.kubeFlannelOnly && lab.flavor !== 'kube-flannel') {
      t.skip(`${fault.name} needs the kube-flannel packaging (flannel pods, ConfigMap or health server)`);
      return;
    }
    if (l.nftablesOnly && !lab.nftables) {
      t.skip(`${fault.name} applies only in nftables mode (lab/lab up --nftables)`);
      return;
    }
    if (l.dualOnly && lab.ipFamily !== 'dual') {
      t.skip(`${fault.name} applies only on a dual-stack lab (lab/lab up --ip-family dual)`);
      return;
    }
    if (l.notInNftables && lab.nftables) {
      t.skip(`${fault.name} does not apply in nftables mode: ${l.notInNftables}`);
      return;
    }
    if (process.env.KFL_LAB_FAULTS && !process.env.KFL_LAB_FAULTS.split(/[ ,]+/).includes(fault.name)) {
      t.skip(`${fault.name} is not in KFL_LAB_FAULTS (the reduced fault set of this CI flavor)`);
      return;
    }
    const ctx = context(lab, index);
    const vars = runVars(ctx);
    t.diagnostic(`${fault.name} on ${ctx.node} (peer ${ctx.peer}): ${fault.changes}`);
    // the pairs that work before the fault: a printed fix must leave every one of them working
    const allPairs = ctx.pods.flatMap((a) => ctx.pods.filter((b) => b !== a).map((b) => `${a.name}->${b.name}`));
    const failedBefore = new Set(l.fixRestores ? allPairsPing(ctx.pods) : []);
    const worked = allPairs.filter((p) => !failedBefore.has(p));
    const br = labCmd(['break', fault.name, ctx.node]);
    assert.equal(br.code, 0, `lab break ${fault.name} ${ctx.node} failed: ${br.stderr}`);
    let reported: DoctorFinding[] = [];
    // the snapshot doctor collects with the fault in place, which the walk and trace read again offline
    const saved = path.join(tmpdir(), `kfl-lab${process.env.LAB_INSTANCE ?? ''}-${fault.name}.json`);
    try {
      await proveEffect(fault, ctx);
      const effect = effectOf(fault, ctx);
      // the pings run while doctor collects (their processes outlive its blocking call): one state for both, as
      // flanneld mends some faults within seconds (host-gw re-adds a deleted route on its next check)
      const pinging = failingPairs(ctx.pods, effect.kind === 'big-packets-dropped', path.dirname(ctx.lab.kubeconfig));
      await t.test('doctor reports exactly the catalog findings', () => {
        const spec = findingsFor(fault.lab, lab);
        const d = doctor(lab, saved);
        assert.deepEqual(mismatches(spec, d.findings, vars), [], `${fault.name} on ${ctx.node} (${backend})`);
        reported = d.findings;
      });
      const mh = fault.lab.mtuHop;
      await t.test(
        'the walk alone and trace, offline on that snapshot, agree with the pings of every pair',
        async (st) => {
          assert.ok(existsSync(saved), 'doctor saved no snapshot');
          const pings = await pinging;
          const lines: string[] = [];
          try {
            await walkAgrees(
              {
                fault: fault.name,
                spec: findingsFor(fault.lab, lab),
                roles: { node: ctx.node, peer: ctx.peer, third: ctx.third },
                pods: ctx.pods,
                nodes: lab.nodes,
                file: saved,
                pings,
              },
              lines,
            );
          } finally {
            for (const l of lines) st.diagnostic(l);
          }
        },
      );
      if (mh && effect.kind === 'big-packets-dropped')
        await t.test(
          'trace --probe: small echoes arrive, the FLANNEL_MTU-sized UDP probe dies at the right hop',
          () => {
            const r = traceProbe(lab, ctx, effect.from, effect.to);
            assert.equal(r.code, 2, `trace --probe must exit 2 (broken): ${r.stderr}`);
            const p = (
              JSON.parse(r.stdout) as {
                probe: {
                  sent: number;
                  requestVanishedAt: string | null;
                  replyVanishedAt: string | null;
                  udp: { sent: number; vanishedAt: string | null };
                };
              }
            ).probe;
            assert.equal(p.sent, 3);
            assert.equal(p.requestVanishedAt, null, `small echoes must arrive: ${JSON.stringify(p)}`);
            assert.equal(p.replyVanishedAt, null, `small echoes' replies must arrive: ${JSON.stringify(p)}`);
            assert.equal(p.udp.sent, 3);
            assert.equal(p.udp.vanishedAt, `${nodeOf(ctx, mh.on)}/${mh.iface}`, JSON.stringify(p));
          },
        );
      const pk = fault.lab.packets;
      if (pk)
        await t.test('trace --probe finds where the packets vanish', () => {
          const r = traceProbe(lab, ctx, pk.from, pk.to);
          assert.equal(r.code, 2, `trace --probe must exit 2 (broken): ${r.stderr}`);
          const out = JSON.parse(r.stdout) as {
            brokenAt: number | null;
            probe: { sent: number; requestLastSeen: string | null; requestVanishedAt: string | null };
          };
          // the tables see the drop exactly when plain doctor reports it (an ingress hook on the node, not the switch)
          const seen = findingsFor(l, lab).expect.length > 0;
          assert.equal(
            out.brokenAt !== null,
            seen,
            seen ? "the node's ingress hook drops it: trace must break there" : 'the tables say the packet arrives',
          );
          assert.equal(out.probe.sent, 3);
          assert.equal(out.probe.requestLastSeen, `${nodeOf(ctx, pk.lastSeenOn)}/eth0`, JSON.stringify(out.probe));
          assert.notEqual(out.probe.requestVanishedAt, null);
        });
      if (pk)
        await t.test('doctor --probe names the dropping pair, and nothing else', () => {
          const r = doctorProbe(lab);
          assert.deepEqual(
            r.findings.map((f) => [f.check, f.severity, f.node, f.peer]),
            [['underlay-probe', 'error', nodeOf(ctx, pk.dropped.from), nodeOf(ctx, pk.dropped.to)]],
            r.stderr,
          );
          assert.equal(r.code, 2);
          // plain doctor sees nothing: the fix to run is the one the probe's finding prints
          reported = r.findings;
        });
      // last while the fault is in place: running the fix removes it
      const spec = findingsFor(l, lab);
      if (l.fixBy) t.diagnostic(`${fault.name}: the printed fix is not run in the lab: ${l.fixBy}`);
      else if (spec.expect.length === 0 && effect.kind === 'reachable')
        t.diagnostic(`${fault.name}: flannel tolerates it and doctor reports nothing, so there is no fix to run`);
      else if (l.fixRestores) {
        await t.test('the fix doctor prints restores traffic and breaks no pair that worked', () =>
          proveFix(fault, ctx, reported, worked),
        );
        if (pk)
          await t.test('after the printed fix doctor --probe is clean', () => {
            const r = doctorProbe(lab);
            assert.deepEqual(
              r.findings.map((f) => `${f.severity} ${f.check} ${f.node} ${f.peer}: ${f.message}`),
              [],
              r.stderr,
            );
            assert.equal(r.code, 0);
          });
      } else t.diagnostic(`${fault.name}: its printed fix is not yet proven in the lab (no fixRestores)`);
    } finally {
      rmSync(saved, { force: true });
      const h = labCmd(['heal'], 240_000);
      assert.equal(h.code, 0, `lab heal after ${fault.name} failed: ${h.stderr}`);
    }
    assert.deepEqual(allPairsPing(testPods(lab)), [], `after healing ${fault.name} some pods cannot reach each other`);
    if (fault.lab.probe) {
      const p = PROBES[fault.lab.probe];
      assert.ok(!p.check(ctx), `${fault.name}: ${p.what} still shows the fault after heal`);
    }
    await t.test('doctor reports nothing after heal', () => {
      const d = doctor(lab);
      assert.deepEqual(
        d.findings.map((f) => `${f.severity} ${f.check} ${f.node}: ${f.message}`),
        [],
        `doctor still reports findings after healing ${fault.name}`,
      );
    });
  });
});

test('every fault the walk test lists is a catalog lab fault', () => {
  const names = new Set(FAULTS.map((f) => f.name));
  for (const id of [...Object.keys(NOT_IN_THE_SNAPSHOT), ...Object.keys(BREAKS_ON)])
    assert.ok(names.has(id), `${id} is not a lab fault of the catalog`);
});

test('the lab knows at least 15 faults, and they are exactly the catalog lab faults', (t) => {
  const r = labCmd(['faults']);
  assert.equal(r.code, 0, r.stderr);
  const names = r.stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .filter((s): s is string => !!s);
  assert.ok(names.length >= 15, `only ${names.length} faults`);
  assert.deepEqual([...names].sort(), FAULTS.map((f) => f.name).sort());
  t.diagnostic(`${names.length} faults`);
});
