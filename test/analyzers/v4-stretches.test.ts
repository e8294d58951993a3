/**
 * V4Stretches answers per stretch of addresses what the plain test answers per address: compared on random
 * prefix lists (nested, equal, default and host prefixes) and addresses at and around every edge.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type V4Prefix, V4Stretches } from '../../src/analyzers/fib/v4-stretches.js';
import { rng } from './kernel-support.js';

const plain = (prefixes: readonly V4Prefix[], a: number): string =>
  prefixes
    .map((p) =>
      p.length === 0 || Math.floor(a / 2 ** (32 - p.length)) === Math.floor(p.value / 2 ** (32 - p.length)) ? '1' : '0',
    )
    .join('');

test('V4Stretches: the same bits as testing each prefix, at every edge and at random addresses', () => {
  const seed = 20261201;
  const r = rng(seed);
  let compared = 0;
  for (let round = 0; round < 300; round++) {
    const prefixes: V4Prefix[] = [];
    const n = Math.floor(r() * 12);
    for (let i = 0; i < n; i++) {
      const length = [0, 8, 16, 24, 32][Math.floor(r() * 5)]! + (r() < 0.5 ? 0 : Math.floor(r() * 8));
      const len = Math.min(32, length);
      // Near the previous prefix half the time, so prefixes nest and share edges.
      const base = i > 0 && r() < 0.5 ? prefixes[i - 1]!.value : Math.floor(r() * 2 ** 32);
      const size = 2 ** (32 - len);
      prefixes.push({ value: Math.floor(base / size) * size, length: len });
    }
    const s = new V4Stretches(prefixes);
    const probes: number[] = [0, 2 ** 32 - 1];
    for (const p of prefixes) {
      const size = 2 ** (32 - p.length);
      for (const a of [p.value - 1, p.value, p.value + 1, p.value + size - 1, p.value + size, p.value + size + 1])
        if (a >= 0 && a < 2 ** 32) probes.push(a);
    }
    for (let i = 0; i < 50; i++) probes.push(Math.floor(r() * 2 ** 32));
    // Twice over, so the second asks the memoised stretches. id(): one number per distinct bit string, both ways.
    const idOf = new Map<string, number>();
    const bitsOf = new Map<number, string>();
    for (const a of [...probes, ...probes.reverse()]) {
      const bits = plain(prefixes, a);
      assert.equal(s.bits(a), bits, `seed ${seed} round ${round}: ${a} in ${JSON.stringify(prefixes)}`);
      const id = s.id(a);
      assert.equal(idOf.get(bits) ?? id, id, `seed ${seed} round ${round}: ${a}: one bit string, two ids`);
      assert.equal(bitsOf.get(id) ?? bits, bits, `seed ${seed} round ${round}: ${a}: one id, two bit strings`);
      idOf.set(bits, id);
      bitsOf.set(id, bits);
      compared++;
    }
  }
  assert.ok(compared > 30_000, `compared ${compared}`);
});
