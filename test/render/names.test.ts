import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compactNames } from '../../src/render/names.js';

test('numbered names collapse into ranges; others stay; pairs are listed', () => {
  assert.equal(compactNames(['node-1', 'node-2', 'node-3', 'node-7', 'node-8'], 100), 'node-[1-3,7,8]');
  assert.equal(compactNames(['worker-a', 'node1'], 100), 'node1, worker-a');
  assert.equal(compactNames(['n0', 'n1', 'n2', 'm5'], 100), 'n[0-2], m5');
});

test('a list longer than the budget is cut with how many there are', () => {
  const odd = Array.from({ length: 500 }, (_, i) => `node-${2 * i}`);
  const s = compactNames(odd, 60);
  assert.ok(s.length <= 80, s);
  assert.match(s, /^node-\[0,2,4,.*,…\] \(500 in all\)$/);
  const many = Array.from({ length: 30 }, (_, i) => `host${String.fromCharCode(97 + (i % 26))}${i}x`);
  assert.match(compactNames(many, 40), /, … \d+ more$/);
});
