// doctor --probe's per-pair expectation: what pod traffic between two nodes is on the underlay. With DirectRouting
// it differs per pair (flanneld routes on-link peers directly and encapsulates the rest), so the probe reads it from
// the sender's kernel; the lab (test/e2e faults underlay-drop and arrival-drop on vxlan-directrouting) proves the
// whole probe against real packets, this pins the decision on the fixtures.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { carriage, describePair } from '../../src/live/underlay-probe.js';
import type { HostState, RouteDecision, Snapshot } from '../../src/snapshot/types.js';

const load = (name: string): Snapshot =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/snapshots/${name}.json`, import.meta.url), 'utf8')) as Snapshot;
const backendOf = (s: Snapshot) => {
  const f = s.cluster.flannel;
  return f.status === 'ok' && f.data.netConf.status === 'ok' ? f.data.netConf.data.backend : null;
};
const node3 = { cidr: '10.244.3.0/24', gateway: '10.244.3.1' };

function editHost(s: Snapshot, node: string, edit: (h: HostState) => HostState): Snapshot {
  const h = s.hosts[node];
  if (h?.status !== 'ok') throw new Error(`fixture has no ${node}`);
  return { ...s, hosts: { ...s.hosts, [node]: { status: 'ok', data: edit(h.data) } } };
}

test('vxlan, udp and host-gw: the backend alone decides', () => {
  for (const [name, want] of [
    ['vxlan/healthy', 'encapsulated'],
    ['udp/healthy', 'encapsulated'],
    ['host-gw/healthy', 'routed'],
  ] as const) {
    const s = load(name);
    assert.equal(carriage(s, 'node1', node3, backendOf(s)), want, name);
  }
  const vx = load('vxlan/healthy');
  assert.equal(describePair(backendOf(vx), 'encapsulated'), 'UDP 8472 (vxlan)');
});

test('DirectRouting: an on-link peer (route via its address on eth0) gets routed pod packets', () => {
  const s = load('vxlan-directrouting/healthy');
  assert.equal(carriage(s, 'node1', node3, backendOf(s)), 'routed');
  assert.equal(describePair(backendOf(s), 'routed'), 'routed pod packets (DirectRouting)');
});

test("DirectRouting: a peer flanneld reaches through flannel.1 (another subnet) gets VXLAN, by the sender's route", () => {
  // Without the kernel's answers (the fixture has them, and they outrank the table: the next test).
  const s = editHost(load('vxlan-directrouting/healthy'), 'node1', ({ routeDecisions: _, ...h }) => ({
    ...h,
    routes:
      h.routes.status === 'ok'
        ? {
            status: 'ok',
            data: h.routes.data.map((r) =>
              r.table === 'main' && r.dst === node3.cidr ? { ...r, dev: 'flannel.1', gateway: '10.244.3.0' } : r,
            ),
          }
        : h.routes,
  }));
  assert.equal(carriage(s, 'node1', node3, backendOf(s)), 'encapsulated');
  assert.equal(carriage(s, 'node1', { cidr: '10.244.2.0/24', gateway: '10.244.2.1' }, backendOf(s)), 'routed');
});

test("DirectRouting: the kernel's own route decision outranks the route table", () => {
  const decision = (dev: string): RouteDecision => ({
    dst: node3.gateway,
    as: 'pod',
    src: '10.244.1.2',
    type: 'unicast',
    dev,
    gateway: null,
    table: 'main',
    prefsrc: null,
    error: null,
  });
  const base = load('vxlan-directrouting/healthy');
  const s = editHost(base, 'node1', (h) => ({ ...h, routeDecisions: { status: 'ok', data: [decision('flannel.1')] } }));
  assert.equal(carriage(s, 'node1', node3, backendOf(s)), 'encapsulated');
  const failed = editHost(base, 'node1', (h) => ({
    ...h,
    routeDecisions: { status: 'ok', data: [{ ...decision('flannel.1'), dev: null, error: 'No route to host' }] },
  }));
  // A decision the kernel refused says nothing about the carriage: the route table answers.
  assert.equal(carriage(failed, 'node1', node3, backendOf(failed)), 'routed');
});
