// The check catalog's rules, enforced like ESLint's checkRuleFiles: every check is well formed,
// registered once, documented in docs/checks.md exactly as generated, and cites real failure modes.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FAILURE_MODES } from '../../src/analyzers/failure-modes.js';
import { CHECKS } from '../../src/analyzers/index.js';
import { checksMarkdown } from '../../src/render/checks-doc.js';
import { FAULTS } from '../sim/faults.js';

test('every check module is registered, once, with a kebab-case ID', () => {
  const files = readdirSync('src/analyzers/checks')
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
  assert.deepEqual(CHECKS.map((c) => c.id).sort(), files, 'IDs equal file names');
  assert.equal(new Set(CHECKS.map((c) => c.id)).size, CHECKS.length);
  for (const c of CHECKS) assert.match(c.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
});

test('every check has a title, meaning, impact and a fix that ends with a period', () => {
  for (const c of CHECKS) {
    assert.ok(c.title.length > 10 && !c.title.endsWith('.'), `${c.id}: title`);
    for (const k of ['meaning', 'impact', 'fix'] as const) assert.ok(c.docs[k].length > 30, `${c.id}: docs.${k}`);
    assert.match(c.docs.fix, /[.)]$/, `${c.id}: fix ends with a period`);
    for (const n of c.failureModes)
      assert.ok(
        FAILURE_MODES.some((m) => m.n === n),
        `${c.id}: failure mode ${n} exists`,
      );
  }
});

test('docs/checks.md is exactly what `kubectl flannel checks -o markdown` generates', () => {
  assert.equal(
    readFileSync('docs/checks.md', 'utf8'),
    checksMarkdown(),
    'regenerate with: bin/kubectl-flannel checks -o markdown > docs/checks.md',
  );
});

test('every failure mode is covered by a check or says why not', () => {
  const covered = new Set(CHECKS.flatMap((c) => c.failureModes));
  for (const m of FAILURE_MODES)
    assert.ok(covered.has(m.n) !== (m.notCovered !== undefined), `failure mode ${m.n}: covered XOR has a reason`);
  assert.equal(FAILURE_MODES.length, 44);
});

test('every check has a fault fixture that makes it fire', () => {
  const exercised = new Set(FAULTS.flatMap((f) => f.sim.expect.map((e) => e.check)));
  for (const c of CHECKS) assert.ok(exercised.has(c.id), `${c.id} has no fault that exercises it`);
});
