/**
 * For each fault of lab/faults.sh: inject it on a lab node, prove it breaks what it should (or, for faults flannel
 * tolerates, that its state is in place), check what `kubectl flannel doctor -o json` reports, heal, and prove the
 * lab is healthy and doctor clean again. The table is in faults.ts. Faults rotate over the nodes so that a check
 * reporting the wrong node fails.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Backend, type Effect, FAULTS, type FaultContext, type FaultSpec, type Role } from './faults.js';
import { doctor, eventually, kubectl, type Lab, type LabPod, labCmd, ping, requireLab, testPods } from './lab.js';

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

function effectOf(spec: FaultSpec, ctx: FaultContext): Effect {
  return (
    (ctx.lab.ipFamily === 'dual' ? spec.effectOnDual : undefined) ??
    spec.effectOn?.[ctx.lab.backend as Backend] ??
    spec.effect
  );
}

async function proveEffect(spec: FaultSpec, ctx: FaultContext): Promise<void> {
  const e = effectOf(spec, ctx);
  switch (e.kind) {
    case 'unreachable': {
      const [a, b] = [podFor(ctx, e.from), podFor(ctx, e.to)];
      // API-driven faults take effect when the peers' flanneld handles the node update
      assert.ok(
        await eventually(() => !ping(a, b, { count: 1 }), 15_000),
        `${spec.name}: ${a.name}@${a.node} still reaches ${b.name}@${b.node}`,
      );
      break;
    }
    case 'big-packets-dropped': {
      const [a, b] = [podFor(ctx, e.from), podFor(ctx, e.to)];
      assert.ok(ping(a, b), `${spec.name}: small pings ${a.name} -> ${b.name} should still pass`);
      assert.ok(
        !ping(a, b, { size: 1400, dontFragment: true }),
        `${spec.name}: 1400-byte DF pings ${a.name} -> ${b.name} still pass`,
      );
      break;
    }
    case 'cni-add-fails': {
      const node = nodeOf(ctx, e.on);
      const probe = `probe-${spec.name}`.slice(0, 40);
      const r = labCmd(['pod-add', node, probe]);
      labCmd(['pod-del', probe]);
      assert.notEqual(r.code, 0, `${spec.name}: CNI ADD on ${node} still succeeds: ${r.stdout}`);
      assert.match(r.stderr, /CNI ADD .* failed/, `${spec.name}: pod-add failed for another reason: ${r.stderr}`);
      break;
    }
    case 'reachable': {
      const [a, b] = [podFor(ctx, e.from), podFor(ctx, e.to)];
      assert.ok(ping(a, b), `${spec.name}: flannel should tolerate this fault, but ${a.name} -> ${b.name} fails`);
      break;
    }
  }
  if (spec.probe) assert.ok(spec.probe.check(ctx), `${spec.name}: ${spec.probe.what} does not show the fault`);
}

function allPairsPing(pods: LabPod[]): string[] {
  const failed: string[] = [];
  for (const a of pods)
    for (const b of pods) if (a !== b && !ping(a, b, { count: 1 })) failed.push(`${a.name}->${b.name}`);
  return failed;
}

FAULTS.forEach((spec, index) => {
  test(`fault ${spec.name}: injected, proven, reported, healed`, { timeout: 240_000 }, async (t) => {
    const lab = requireLab(t);
    if (!lab) return;
    if (!spec.backends.includes(lab.backend as never)) {
      t.skip(`${spec.name} does not apply to backend ${lab.backend}`);
      return;
    }
    if (spec.kubeFlannelOnly && lab.flavor !== 'kube-flannel') {
      t.skip(`${spec.name} needs the kube-flannel packaging (flannel pods, ConfigMap or health server)`);
      return;
    }
    if (spec.nftablesOnly && !lab.nftables) {
      t.skip(`${spec.name} applies only in nftables mode (lab/lab up --nftables)`);
      return;
    }
    if (spec.dualOnly && lab.ipFamily !== 'dual') {
      t.skip(`${spec.name} applies only on a dual-stack lab (lab/lab up --ip-family dual)`);
      return;
    }
    if (spec.notInNftables && lab.nftables) {
      t.skip(`${spec.name} does not apply in nftables mode: ${spec.notInNftables}`);
      return;
    }
    if (process.env.KFL_LAB_FAULTS && !process.env.KFL_LAB_FAULTS.split(/[ ,]+/).includes(spec.name)) {
      t.skip(`${spec.name} is not in KFL_LAB_FAULTS (the reduced fault set of this CI flavor)`);
      return;
    }
    const ctx = context(lab, index);
    t.diagnostic(`${spec.name} on ${ctx.node} (peer ${ctx.peer}): ${spec.changes}`);
    const br = labCmd(['break', spec.name, ctx.node]);
    assert.equal(br.code, 0, `lab break ${spec.name} ${ctx.node} failed: ${br.stderr}`);
    try {
      await proveEffect(spec, ctx);
      await t.test('doctor reports it on the right node', (st) => {
        const d = doctor(lab);
        if (d.unavailable) {
          st.todo(`doctor cannot collect live yet: ${d.unavailable}`);
          return;
        }
        const exp = spec.doctor;
        if (exp === 'clean' && spec.packets) {
          assert.deepEqual(
            d.findings,
            [],
            `${spec.name}: only packets show this fault; plain doctor must report nothing`,
          );
          return;
        }
        if (exp === 'clean') {
          const errors = d.findings.filter((f) => f.severity === 'error');
          assert.deepEqual(errors, [], `${spec.name}: flannel tolerates this, doctor should report no error`);
          return;
        }
        if ('notCovered' in exp) {
          st.todo(`not covered by any check: ${exp.notCovered}`);
          return;
        }
        const node = exp.on === 'any' ? undefined : nodeOf(ctx, exp.on);
        const hit = d.findings.find(
          (f) => exp.checks.includes(f.check) && f.severity === exp.severity && (node === undefined || f.node === node),
        );
        assert.ok(
          hit,
          `${spec.name}: expected ${exp.severity} from ${exp.checks.join('|')} on ${node ?? 'any node'}; got ${JSON.stringify(d.findings.map((f) => [f.check, f.severity, f.node]))}`,
        );
        for (const needle of exp.evidence?.(ctx) ?? []) {
          assert.ok(
            hit.evidence.some((ev) => ev.includes(needle)) || hit.message.includes(needle),
            `${spec.name}: evidence of ${hit.check} does not mention ${needle}: ${JSON.stringify(hit.evidence)}`,
          );
        }
      });
      const mh = spec.mtuHop;
      const effect = effectOf(spec, ctx);
      if (mh && effect.kind === 'big-packets-dropped')
        await t.test(
          'trace --probe: small echoes arrive, the FLANNEL_MTU-sized UDP probe dies at the right hop',
          () => {
            const [a, b] = [podFor(ctx, effect.from), podFor(ctx, effect.to)];
            const r = kubectl(
              lab,
              [
                'flannel',
                'trace',
                `${lab.podNamespace}/${a.name}`,
                `${lab.podNamespace}/${b.name}`,
                '--probe',
                '-o',
                'json',
              ],
              180_000,
            );
            assert.equal(r.code, 2, `trace --probe must exit 2 (broken): ${r.stderr}`);
            const out = JSON.parse(r.stdout) as {
              probe: {
                sent: number;
                requestVanishedAt: string | null;
                replyVanishedAt: string | null;
                udp: { sent: number; size: number; vanishedAt: string | null };
              };
            };
            const p = out.probe;
            assert.equal(p.sent, 3);
            assert.equal(p.requestVanishedAt, null, `small echoes must arrive: ${JSON.stringify(p)}`);
            assert.equal(p.replyVanishedAt, null, `small echoes' replies must arrive: ${JSON.stringify(p)}`);
            assert.equal(p.udp.sent, 3);
            assert.equal(p.udp.vanishedAt, `${nodeOf(ctx, mh.on)}/${mh.iface}`, JSON.stringify(p));
          },
        );
      const pk = spec.packets;
      if (pk)
        await t.test('trace --probe finds where the packets vanish', () => {
          const [a, b] = [podFor(ctx, pk.from), podFor(ctx, pk.to)];
          const r = kubectl(
            lab,
            [
              'flannel',
              'trace',
              `${lab.podNamespace}/${a.name}`,
              `${lab.podNamespace}/${b.name}`,
              '--probe',
              '-o',
              'json',
            ],
            180_000,
          );
          assert.equal(r.code, 2, `trace --probe must exit 2 (broken): ${r.stderr}`);
          const out = JSON.parse(r.stdout) as {
            brokenAt: number | null;
            probe: { sent: number; requestLastSeen: string | null; requestVanishedAt: string | null };
          };
          assert.equal(out.brokenAt, null, 'the tables say the packet arrives');
          assert.equal(out.probe.sent, 3);
          assert.equal(out.probe.requestLastSeen, `${nodeOf(ctx, pk.lastSeenOn)}/eth0`, JSON.stringify(out.probe));
          assert.notEqual(out.probe.requestVanishedAt, null);
        });
      if (pk)
        await t.test('doctor --probe names the dropping pair, and nothing else', () => {
          const r = kubectl(lab, ['flannel', 'doctor', '--probe', '-o', 'json'], 180_000);
          const findings = (
            JSON.parse(r.stdout) as { findings: { check: string; severity: string; node: string; peer: string }[] }
          ).findings;
          assert.deepEqual(
            findings.map((f) => [f.check, f.severity, f.node, f.peer]),
            [['underlay-probe', 'error', nodeOf(ctx, pk.dropped.from), nodeOf(ctx, pk.dropped.to)]],
            r.stderr,
          );
          assert.equal(r.code, 2);
        });
    } finally {
      const h = labCmd(['heal'], 240_000);
      assert.equal(h.code, 0, `lab heal after ${spec.name} failed: ${h.stderr}`);
    }
    assert.deepEqual(allPairsPing(testPods(lab)), [], `after healing ${spec.name} some pods cannot reach each other`);
    if (spec.probe)
      assert.ok(!spec.probe.check(ctx), `${spec.name}: ${spec.probe.what} still shows the fault after heal`);
    await t.test('doctor is clean after heal', (st) => {
      const d = doctor(lab);
      if (d.unavailable) {
        st.todo(`doctor cannot collect live yet: ${d.unavailable}`);
        return;
      }
      assert.deepEqual(
        d.findings.filter((f) => f.severity === 'error'),
        [],
        `doctor still reports errors after healing ${spec.name}`,
      );
    });
  });
});

test('the lab knows at least 15 faults and this table covers every one of them', (t) => {
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
