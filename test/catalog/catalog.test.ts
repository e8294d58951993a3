// The fault catalog's own rules: ids are unique and kebab-case, every packaging has its injection and nothing is
// injected that the catalog does not list, findings name real checks, and the matcher fails on a wrong node, a
// wrong severity, a wrong count, a missing evidence pattern and any finding the catalog does not name.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FAULT_CATALOG } from '../../src/analyzers/fault-catalog/catalog.js';
import type { Findings, RunVars } from '../../src/analyzers/fault-catalog/types.js';
import { CHECKS } from '../../src/analyzers/index.js';
import { SIM_INJECT } from '../sim/inject.js';
import { mismatches, type ReportedFinding, rolesOf } from './match.js';

test('fault ids are unique and kebab-case', () => {
  const ids = FAULT_CATALOG.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  for (const e of FAULT_CATALOG) assert.ok(e.sim || e.lab, `${e.id}: injected nowhere`);
});

test('every sim packaging has exactly one injection in test/sim/inject.ts, and no injection is orphaned', () => {
  const sim = FAULT_CATALOG.filter((e) => e.sim).map((e) => e.id);
  assert.deepEqual(Object.keys(SIM_INJECT).sort(), [...sim].sort());
});

test('every lab packaging names an inject_ function that lab/faults.sh defines', () => {
  const sh = readFileSync('lab/faults.sh', 'utf8');
  for (const e of FAULT_CATALOG)
    if (e.lab)
      assert.match(sh, new RegExp(`^inject_${e.lab.inject}\\(\\) \\{`, 'm'), `${e.id}: inject_${e.lab.inject}`);
});

test('every expected finding names a registered check, with a positive count and a real evidence pattern', () => {
  const ids = new Set(CHECKS.map((c) => c.id));
  const vars: RunVars = {
    node: { name: 'a', ip: '10.0.0.1', podCIDR: '10.244.1.0/24', podNet: '10.244.1.0' },
    peer: { name: 'b', ip: '10.0.0.2', podCIDR: '10.244.2.0/24', podNet: '10.244.2.0' },
    third: { name: 'c', ip: '10.0.0.3', podCIDR: '10.244.3.0/24', podNet: '10.244.3.0' },
  };
  for (const e of FAULT_CATALOG) {
    const all: Findings[] = [e.sim, e.lab, ...Object.values(e.lab?.findingsOn ?? {})].filter(
      (x): x is Findings => x !== undefined,
    );
    for (const f of all.flatMap((x) => [...x.expect, ...(x.consequences ?? [])])) {
      assert.ok(ids.has(f.check), `${e.id}: ${f.check} is no check`);
      assert.ok((f.count ?? 1) >= 1, `${e.id}: ${f.check} count`);
      const re = typeof f.evidence === 'function' ? f.evidence(vars) : f.evidence;
      // a pattern that matches anything proves nothing
      for (const s of ['', 'x', 'flannel0: <UP>', '(empty)', 'error'])
        assert.ok(!re.test(s), `${e.id}: ${f.check} evidence ${re} matches ${JSON.stringify(s)}`);
    }
  }
});

test('matching is exact: wrong node, peer, severity, count, evidence or an extra finding each fail', () => {
  const vars: RunVars = {
    node: { name: 'n1', ip: '10.0.0.1', podCIDR: '10.244.1.0/24', podNet: '10.244.1.0' },
    peer: { name: 'n2', ip: '10.0.0.2', podCIDR: '10.244.2.0/24', podNet: '10.244.2.0' },
    third: { name: 'n3', ip: '10.0.0.3', podCIDR: '10.244.3.0/24', podNet: '10.244.3.0' },
  };
  const spec: Findings = {
    expect: [{ check: 'peer-routes', node: 'node', peer: 'peer', severity: 'error', evidence: /via 10\.244\.2\.0/ }],
    consequences: [
      { check: 'stale-routes', node: 'third', severity: 'warning', count: 2, evidence: /10\.244\.9/, reason: 'test' },
    ],
  };
  const ok: ReportedFinding[] = [
    { check: 'peer-routes', severity: 'error', node: 'n1', peer: 'n2', message: 'm', evidence: ['via 10.244.2.0'] },
    { check: 'stale-routes', severity: 'warning', node: 'n3', peer: null, message: '10.244.9.0/24', evidence: [] },
    { check: 'stale-routes', severity: 'warning', node: 'n3', message: '10.244.9.0/24', evidence: [] },
  ];
  assert.deepEqual(mismatches(spec, ok, vars), []);
  const first = ok[0] as ReportedFinding;
  const broken: [string, ReportedFinding[]][] = [
    ['wrong node', [{ ...first, node: 'n3' }, ...ok.slice(1)]],
    ['wrong peer', [{ ...first, peer: 'n3' }, ...ok.slice(1)]],
    ['wrong severity', [{ ...first, severity: 'warning' }, ...ok.slice(1)]],
    ['one extra time', [...ok, first]],
    ['one fewer', ok.slice(0, 2)],
    ['evidence missing', [{ ...first, evidence: ['via 10.244.3.0'] }, ...ok.slice(1)]],
    ['another check', [...ok, { ...first, check: 'mtu', severity: 'info', peer: null }]],
  ];
  for (const [what, findings] of broken) assert.notDeepEqual(mismatches(spec, findings, vars), [], what);
});

test('roles rotate over the nodes as lab/faults.sh peer_of does', () => {
  assert.deepEqual(rolesOf(['a', 'b', 'c'], 'c'), { node: 'c', peer: 'a', third: 'b' });
  assert.throws(() => rolesOf(['a'], 'z'));
});
