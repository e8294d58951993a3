// The npm package's Node check (src/node-floor.ts). The real old Node (Debian's 20) is run against the packed
// bundle in scripts/package-test.sh; these are the range and version rules the bundler and the entry rely on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { nodeTooOld, openFloor } from '../src/node-floor.js';

test('openFloor: the lowest Node from which a range admits every later one', () => {
  // Ranges as the bundled packages write them (node_modules/*/package.json).
  const cases: [string, string | null][] = [
    ['>=22.19.0', '22.19.0'],
    ['>= 20', '20.0.0'],
    ['>=6.0', '6.0.0'],
    ['^12.20.0 || ^14.13.1 || >=16.0.0', '16.0.0'],
    ['>=18.20 <19 || >=20.10', '20.10.0'],
    ['*', '0.0.0'],
    // bounded above: some later Node is refused, so there is no floor to compare
    ['^20.1.0', null],
    ['>=18 <23', null],
    ['>=banana', null],
  ];
  for (const [range, want] of cases) assert.equal(openFloor(range)?.join('.') ?? null, want, range);
});

test('nodeTooOld: one line naming both versions and the node that ran, only below the floor', () => {
  assert.equal(
    nodeTooOld('20.20.2', '22.19.0', '/usr/bin/node'),
    'kubectl-flannel: needs Node >= 22.19.0, but /usr/bin/node is Node 20.20.2: install the single executable ' +
      'from the release (it carries its own Node), or a newer Node',
  );
  assert.match(nodeTooOld('22.18.9', '22.19.0', 'node') ?? '', /Node 22\.18\.9/);
  assert.equal(nodeTooOld('22.19.0', '22.19.0', 'node'), null);
  assert.equal(nodeTooOld('24.21.0', '22.19.0', 'node'), null);
  assert.equal(nodeTooOld('100.0.0', '22.19.0', 'node'), null);
});

test("package.json's engines.node has a floor, and it admits the Node the project pins", () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
  const floor = openFloor(pkg.engines.node);
  assert.ok(floor, pkg.engines.node);
  assert.equal(nodeTooOld(process.versions.node, floor.join('.'), process.execPath), null);
});
