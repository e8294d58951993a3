// The `ip rule del …` fix route-decision prints, run against the real kernel: rules added in a
// network namespace this test creates, read back as `ip rule` prints them (the text collection,
// where iproute2 appends `[detached]` to a rule whose iif/oif device is absent and `[unresolved]`
// to a goto without a target), put on a node of the healthy dual-stack fixture with a blackhole
// in the rule's table, analysed with the offline model, and the printed command executed in the
// namespace. It must delete exactly the rule that won, for IPv4 and IPv6, and nothing else: same
// priority decoys differ from it in one selector or the table.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { parseIpRouteText } from '../../src/parse/routes-text.js';
import { parseIpRuleText } from '../../src/parse/rules-text.js';
import type { HostState, Route, RoutingRule, Snapshot } from '../../src/snapshot/types.js';

const root = process.getuid?.() === 0;

const PEER = { inet: '10.244.2.0/24', inet6: 'fd00:10:244:2::/64' } as const;

function blackhole(family: 'inet' | 'inet6', dst: string): Route {
  return {
    family,
    table: '100',
    dst,
    type: 'blackhole',
    gateway: null,
    dev: null,
    protocol: null,
    scope: null,
    prefsrc: null,
    metric: null,
    flags: [],
  };
}

test('route-decision prints an ip rule del that deletes exactly the winning rule, [detached]/[unresolved] flags and all', {
  skip: !root && 'needs root',
}, () => {
  const ns = `rdfix${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const ip = (...args: string[]) => spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  try {
    // No cni0 in the namespace: every iif/oif cni0 rule prints `[detached]`; goto 95 has no target.
    for (const fam of ['inet', 'inet6'] as const) {
      const v = fam === 'inet' ? '-4' : '-6';
      for (const r of [
        `pref 90 to ${PEER[fam]} iif cni0 goto 95`,
        `pref 100 to ${PEER[fam]} iif cni0 lookup 100`,
        `pref 100 to ${PEER[fam]} iif cni1 lookup 100`,
        `pref 100 to ${PEER[fam]} iif cni0 lookup 200`,
        `pref 100 to ${PEER[fam]} oif cni0 lookup 100`,
      ]) {
        const res = ip(v, 'rule', 'add', ...r.split(' '));
        assert.equal(res.status, 0, `${r}: ${res.stderr}`);
      }
    }
    const show = (fam: 'inet' | 'inet6'): string => ip(fam === 'inet' ? '-4' : '-6', 'rule', 'show').stdout;
    const before = { inet: show('inet'), inet6: show('inet6') };
    for (const fam of ['inet', 'inet6'] as const) {
      assert.match(before[fam], /iif cni0 \[detached\] lookup 100/);
      assert.match(before[fam], /goto 95 \[unresolved\]/);
    }
    const rules: RoutingRule[] = (['inet', 'inet6'] as const).flatMap((f) => {
      const parsed = parseIpRuleText(before[f], f);
      assert.deepEqual(parsed.errors, []);
      return parsed.value;
    });

    const s = JSON.parse(readFileSync('fixtures/snapshots/vxlan-dualstack/healthy.json', 'utf8')) as Snapshot;
    const h = s.hosts['node1'];
    assert.ok(h?.status === 'ok' && h.data.routes.status === 'ok');
    // The fixture's kernel answers were collected without these rules: the model must answer, so they go.
    const { routeDecisions: _, ...collected } = h.data;
    const data: HostState = {
      ...collected,
      rules: { status: 'ok', data: rules },
      routes: {
        status: 'ok',
        data: [...h.data.routes.data, blackhole('inet', PEER.inet), blackhole('inet6', PEER.inet6)],
      },
    };
    const snapshot: Snapshot = { ...s, hosts: { ...s.hosts, node1: { status: 'ok', data } } };
    const findings = analyze(snapshot, { only: ['route-decision'] }).findings;
    assert.deepEqual(
      findings.map((f) => ({ check: f.check, node: f.node, peer: f.peer, severity: f.severity, fix: f.fix })),
      [
        {
          check: 'route-decision',
          node: 'node1',
          peer: 'node2',
          severity: 'error',
          fix: `On node1: ip rule del priority 100 from all to ${PEER.inet} iif cni0 lookup 100`,
        },
        {
          check: 'route-decision',
          node: 'node1',
          peer: 'node2',
          severity: 'error',
          fix: `On node1: ip -6 rule del priority 100 from all to ${PEER.inet6} iif cni0 lookup 100`,
        },
      ],
    );

    for (const f of findings) {
      const cmd = f.fix!.replace(/^On node1: ip /, '').split(' ');
      const res = ip(...cmd);
      assert.equal(res.status, 0, `${f.fix}: ${res.stderr}`);
    }
    // Exactly the winning rule is gone in each family; every decoy and the unresolved goto stay.
    for (const fam of ['inet', 'inet6'] as const) {
      const gone = before[fam].split('\n').filter((l) => / iif cni0 \[detached\] lookup 100$/.test(l));
      assert.equal(gone.length, 1);
      assert.equal(show(fam), before[fam].replace(`${gone[0]}\n`, ''));
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

/**
 * own-podcidr-route's `ip route del …` on a route the kernel prints with a state flag: a route
 * out of a device whose carrier is down prints `linkdown`, which `ip route del` rejects. The
 * printed command must delete exactly that route (a decoy differs only in the metric).
 */
test('own-podcidr-route prints an ip route del that deletes exactly the wrong route, linkdown and all', {
  skip: !root && 'needs root',
}, () => {
  const ns = `rdfix${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const ip = (...args: string[]) => spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  try {
    for (const c of [
      'link add va type veth peer name vb',
      'link set va up',
      'route add 10.244.1.0/24 dev va metric 5',
      'route add 10.244.1.0/24 dev va metric 10',
      '-6 route add fd00:10:244:1::/64 dev va metric 5',
      '-6 route add fd00:10:244:1::/64 dev va metric 10',
    ]) {
      const res = ip(...c.split(' '));
      assert.equal(res.status, 0, `${c}: ${res.stderr}`);
    }
    const show = (fam: 'inet' | 'inet6'): string =>
      ip(fam === 'inet' ? '-4' : '-6', 'route', 'show', 'dev', 'va').stdout;
    const before = { inet: show('inet'), inet6: show('inet6') };
    assert.match(before.inet, /metric 5 linkdown/);
    assert.match(before.inet6, /metric 5 .*linkdown/);
    // Only the metric-5 routes go onto the node; the metric-10 ones are the decoys left in the namespace.
    const wrong = (['inet', 'inet6'] as const).flatMap((f) => {
      const parsed = parseIpRouteText(before[f], f);
      assert.deepEqual(parsed.errors, []);
      // `ip route show dev va` leaves out the device it filtered on.
      return parsed.value.filter((r) => r.metric === 5).map((r) => ({ ...r, dev: 'va' }));
    });
    assert.equal(wrong.length, 2);
    const s = JSON.parse(readFileSync('fixtures/snapshots/vxlan-dualstack/healthy.json', 'utf8')) as Snapshot;
    const h = s.hosts['node1'];
    assert.ok(h?.status === 'ok' && h.data.routes.status === 'ok');
    const data: HostState = { ...h.data, routes: { status: 'ok', data: [...h.data.routes.data, ...wrong] } };
    const snapshot: Snapshot = { ...s, hosts: { ...s.hosts, node1: { status: 'ok', data } } };
    const findings = analyze(snapshot, { only: ['own-podcidr-route'] }).findings;
    assert.deepEqual(
      findings.map((f) => ({ node: f.node, severity: f.severity, fix: f.fix })),
      [
        { node: 'node1', severity: 'error', fix: 'On node1: ip route del 10.244.1.0/24 dev va table main metric 5' },
        {
          node: 'node1',
          severity: 'error',
          fix: 'On node1: ip route del fd00:10:244:1::/64 dev va table main metric 5',
        },
      ],
    );
    for (const f of findings) {
      const res = ip(...f.fix.replace(/^On node1: ip /, '').split(' '));
      assert.equal(res.status, 0, `${f.fix}: ${res.stderr}`);
    }
    for (const fam of ['inet', 'inet6'] as const) {
      const gone = before[fam].split('\n').filter((l) => / metric 5 /.test(l));
      assert.equal(gone.length, 1);
      assert.equal(show(fam), before[fam].replace(`${gone[0]}\n`, ''));
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});
