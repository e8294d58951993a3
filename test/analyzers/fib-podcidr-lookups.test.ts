/**
 * PodCIDRLookups shares one lookup between peers whose podCIDRs the node's FIB does not tell apart. Its answers
 * must be lookup()'s, exactly, whatever the FIB holds: seeded random FIBs with routes on, around and inside the
 * podCIDRs (split, covered by a wider route, written non-canonically), error and throw routes, several tables,
 * and rule sets with and without custom rules (source, destination and input-device selectors), asked in random
 * order so that a class's first member varies. lookup() itself is proven against the kernel in fib-kernel.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FibPacket, type FibState, lookup } from '../../src/analyzers/fib/lookup.js';
import { PodCIDRLookups, podCIDRShape } from '../../src/analyzers/fib/podcidr-lookups.js';
import { type Prefix, parsePrefix } from '../../src/net/cidr.js';
import type { Route, RoutingRule } from '../../src/snapshot/types.js';
import { rng } from './kernel-support.js';

const PEERS = 24;
const cidrText = (k: number) => `10.0.${k}.0/24`;

function route(partial: Partial<Route> & Pick<Route, 'dst'>): Route {
  return {
    family: 'inet',
    table: 'main',
    type: 'unicast',
    gateway: null,
    dev: 'eth0',
    protocol: 'boot',
    scope: 'global',
    prefsrc: null,
    metric: null,
    flags: [],
    ...partial,
  };
}

function randomFib(seed: number): { state: FibState; cidrs: Prefix[] } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const routes: Route[] = [
    route({ dst: '0.0.0.0/0', gateway: '172.16.0.1' }),
    route({ dst: '172.16.0.0/16', scope: 'link', protocol: 'kernel', prefsrc: '172.16.0.9' }),
    route({
      table: 'local',
      type: 'local',
      dst: '172.16.0.9/32',
      scope: 'host',
      protocol: 'kernel',
      prefsrc: '172.16.0.9',
    }),
    // The node's own podCIDR (peer 0 is the node): cni0 and its local address.
    route({ dst: cidrText(0), dev: 'cni0', scope: 'link', protocol: 'kernel' }),
    route({
      table: 'local',
      type: 'local',
      dst: '10.0.0.1/32',
      dev: 'cni0',
      scope: 'host',
      protocol: 'kernel',
      prefsrc: '10.0.0.1',
    }),
  ];
  for (let k = 1; k < PEERS; k++) {
    // Most peers as flanneld routes them; some with another type, table, device or metric, or a second route.
    const n = r() < 0.1 ? 0 : r() < 0.85 ? 1 : 2;
    for (let i = 0; i < n; i++)
      routes.push(
        route({
          dst: cidrText(k),
          gateway: r() < 0.8 ? `10.0.${k}.0` : null,
          dev: r() < 0.8 ? 'flannel.1' : pick(['eth0', 'cni0']),
          type: r() < 0.8 ? 'unicast' : pick(['blackhole', 'unreachable', 'prohibit', 'throw']),
          table: r() < 0.8 ? 'main' : pick(['100', 'local', 'default']),
          metric: r() < 0.8 ? null : pick([0, 10, 100]),
          flags: ['onlink'],
        }),
      );
  }
  const extras = [
    () => route({ dst: `10.0.${4 * Math.floor(r() * 6)}.0/22`, dev: pick(['eth0', 'flannel.1']) }),
    () => route({ dst: '10.0.0.0/16', type: pick(['unicast', 'blackhole', 'throw']), table: pick(['main', '100']) }),
    () => route({ dst: `10.0.${Math.floor(r() * PEERS)}.128/25`, dev: 'eth0' }),
    () =>
      route({ dst: `10.0.${Math.floor(r() * PEERS)}.${Math.floor(r() * 256)}/32`, type: pick(['local', 'blackhole']) }),
    // The same prefix written otherwise: a second route on a podCIDR that is no flanneld route.
    () => route({ dst: `10.0.${Math.floor(r() * PEERS)}.7/24`, dev: 'eth0', metric: pick([null, 5]) }),
    () => route({ dst: '10.0.0.0/8', table: '100', dev: pick(['eth0', 'flannel.1']) }),
  ];
  for (let i = Math.floor(r() * 5); i > 0; i--) routes.push(pick(extras)());
  const rules: RoutingRule[] = [
    { family: 'inet', priority: 0, text: 'from all lookup local' },
    { family: 'inet', priority: 32766, text: 'from all lookup main' },
    { family: 'inet', priority: 32767, text: 'from all lookup default' },
  ];
  const custom = [
    () => `from 10.0.${2 * Math.floor(r() * 12)}.0/23 lookup 100`,
    () => `to 10.0.${8 * Math.floor(r() * 3)}.0/21 lookup 100`,
    () => 'iif cni0 lookup 100',
    () => `to 10.0.${Math.floor(r() * PEERS)}.0/24 blackhole`,
    () => `not from 10.0.0.0/24 lookup 100`,
    () => `from all to 10.0.${Math.floor(r() * PEERS)}.64/26 unreachable`,
  ];
  if (r() < 0.6)
    for (let i = 1 + Math.floor(r() * 3); i > 0; i--)
      rules.push({ family: 'inet', priority: 100 + i, text: pick(custom)() });
  const cidrs = Array.from({ length: PEERS }, (_, k) => parsePrefix(cidrText(k))!);
  return { state: { rules, routes, compiled: new Map() }, cidrs };
}

test('PodCIDRLookups answers exactly as lookup() on random FIBs, in any order of asking', () => {
  let asked = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const { state, cidrs } = randomFib(seed);
    const r = rng(seed * 7919);
    const shared = new PodCIDRLookups(state, podCIDRShape(cidrs));
    const queries: { cidr: Prefix; pkt: FibPacket }[] = [];
    for (const cidr of cidrs.slice(1)) {
      const base = cidr.network.replace(/\.0$/, '');
      for (const dst of [`${base}.1`, `${base}.254`, `${base}.130`]) {
        queries.push({ cidr, pkt: { dst } });
        queries.push({ cidr, pkt: { dst, src: '10.0.0.2', iif: 'cni0' } });
        // A source inside the peer's own podCIDR, and one the rules select.
        queries.push({ cidr, pkt: { dst, src: `${base}.9`, iif: 'cni0' } });
        queries.push({ cidr, pkt: { dst, src: '10.0.3.5', iif: 'eth0' } });
      }
    }
    for (let i = queries.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [queries[i], queries[j]] = [queries[j]!, queries[i]!];
    }
    for (const { cidr, pkt } of queries) {
      assert.deepEqual(
        shared.lookup(cidr, pkt),
        lookup(state, pkt),
        `seed ${seed}: ${JSON.stringify(pkt)} in ${cidr.text}`,
      );
      asked++;
    }
  }
  assert.ok(asked > 100_000);
});

test('PodCIDRLookups keeps each peer its own route: an answer shared by a class names the asking peer', () => {
  const { state, cidrs } = randomFib(3);
  const routes = state.routes.filter((x) => x.dst !== cidrText(1) && x.dst !== cidrText(2));
  const plain = (k: number) => route({ dst: cidrText(k), gateway: `10.0.${k}.0`, dev: 'flannel.1', flags: ['onlink'] });
  const s: FibState = { rules: state.rules.slice(0, 3), routes: [...routes, plain(1), plain(2)], compiled: new Map() };
  const shared = new PodCIDRLookups(s, podCIDRShape(cidrs));
  const one = shared.lookup(cidrs[1]!, { dst: '10.0.1.1' });
  const two = shared.lookup(cidrs[2]!, { dst: '10.0.2.1' });
  assert.equal(one.route?.dst, cidrText(1));
  assert.equal(two.route?.dst, cidrText(2));
  assert.equal(two.route?.gateway, '10.0.2.0');
});
