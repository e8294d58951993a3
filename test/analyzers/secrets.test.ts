// Secrets never reach a snapshot: the IPsec PSK and the SA keys that the simulated ipsec nodes
// hold are absent from every saved ipsec fixture, while their digests still let SAs be compared.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const dir = 'fixtures/snapshots/ipsec';

test('no ipsec fixture contains the PSK or an SA key', () => {
  const psk = 'a'.repeat(48) + 'b'.repeat(48);
  // The simulator derives each SA key from sha256("<src>-><dst>"), hex chars 8..48.
  const keys = ['node1', 'node2', 'node3'].flatMap((a) =>
    ['node1', 'node2', 'node3']
      .filter((b) => b !== a)
      .map((b) => createHash('sha256').update(`${a}->${b}`).digest('hex').slice(8, 48)),
  );
  for (const f of readdirSync(dir)) {
    const text = readFileSync(`${dir}/${f}`, 'utf8');
    assert.ok(!text.includes(psk) && !text.includes('a'.repeat(48)), `${f} contains the PSK`);
    for (const k of keys) assert.ok(!text.includes(k), `${f} contains an SA key`);
    assert.match(text, /"digest": "[0-9a-f]{16}"/, `${f} keeps key digests`);
    assert.match(text, /"pskLength": (96|32)/, `${f} records the PSK length only`);
    assert.ok(!text.includes('x'.repeat(32)), `${f} contains the short PSK`);
  }
});
