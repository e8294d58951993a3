/** Bad usage and bad files: one clear line naming what is wrong, exit code 3, never a stack trace. */

import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { redactXfrmStateText } from '../../src/parse/redact/xfrm.js';
import { cli, makeVectors, type Vectors } from './helpers.js';

let v: Vectors;
before(() => {
  v = makeVectors();
});
after(() => v.cleanup());

function usageError(args: string[], re: RegExp): void {
  const r = cli(['capture', ...args]);
  const err = r.stderr.toString();
  assert.equal(r.status, 3, err);
  assert.match(err, /^kubectl-flannel: /);
  assert.match(err, re);
  assert.doesNotMatch(err, /\n\s+at /);
}

test('flag combinations that cannot work are refused with the reason', () => {
  const s = join(v.dir, 'xfrm-state.txt');
  const p = join(v.dir, 'ether.pcap');
  usageError(['--decrypt-esp', '-r', p], /--decrypt-esp needs the keys: add --xfrm-state FILE/);
  usageError(['--decrypt-esp', '--xfrm-state', s], /live capture is not available yet/);
  usageError([], /nothing to do/);
  usageError(['--write-keys', join(v.dir, 'k')], /--write-keys needs --xfrm-state/);
  usageError(['-r', p, '-w', p], /would overwrite the input/);
});

test('missing or unreadable files are named', () => {
  const s = join(v.dir, 'xfrm-state.txt');
  usageError(
    ['-r', join(v.dir, 'nope.pcap'), '--xfrm-state', s, '--decrypt-esp'],
    /--read .*nope\.pcap: cannot open: ENOENT/,
  );
  usageError(
    ['-r', join(v.dir, 'ether.pcap'), '--xfrm-state', join(v.dir, 'nope.txt'), '--decrypt-esp'],
    /--xfrm-state .*nope\.txt: cannot read/,
  );
  usageError(['-r', v.dir, '--xfrm-state', s, '--decrypt-esp'], /--read .*: is a directory$/m);
  usageError(['-r', s, '--xfrm-state', s, '--decrypt-esp'], /xfrm-state\.txt: not a pcap or pcapng file/);
});

test('a state file without keys (redacted, or dumped without root) is refused, naming the file', () => {
  const red = join(v.dir, 'redacted.txt');
  writeFileSync(red, redactXfrmStateText(readFileSync(join(v.dir, 'xfrm-state.txt'), 'utf8')));
  const r = cli(['capture', '-r', join(v.dir, 'ether.pcap'), '--xfrm-state', red, '--decrypt-esp']);
  assert.equal(r.status, 3);
  assert.match(
    r.stderr.toString(),
    /SA spi 0xcfc2f79d 172\.18\.0\.3 -> 172\.18\.0\.4 skipped: rfc4106\(gcm\(aes\)\) key is not in the input/,
  );
  assert.match(r.stderr.toString(), /--xfrm-state .*redacted\.txt: no usable ESP SA \(\d+ SAs parsed, \d+ unusable\)/);
});

test('--write-keys leaves the key file readable by its owner only, even if it existed before', () => {
  const keys = join(v.dir, 'existing_esp_sa');
  writeFileSync(keys, 'old', { mode: 0o644 });
  const r = cli(['capture', '--xfrm-state', join(v.dir, 'xfrm-state.txt'), '--write-keys', keys]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(statSync(keys).mode & 0o777, 0o600);
  assert.match(readFileSync(keys, 'utf8'), /^"IPv4","172\.18\.0\.3","172\.18\.0\.4","0xcfc2f79d"/m);
});

test("the seed's collapsed `ip x s` text is accepted as --xfrm-state", () => {
  const seed = join(v.dir, 'seed.txt');
  writeFileSync(seed, readFileSync(new URL('../../../fixtures/xfrm/seed-000-state-collapsed.txt', import.meta.url)));
  const r = cli(['capture', '--xfrm-state', seed, '--write-keys', join(v.dir, 'seed_esp_sa')]);
  assert.equal(r.status, 0, r.stderr.toString());
  const table = readFileSync(join(v.dir, 'seed_esp_sa'), 'utf8');
  assert.match(
    table,
    /^"IPv4","172\.18\.0\.3","172\.18\.0\.2","0xcfba8c29","AES-GCM with 16 octet ICV \[RFC4106\]","0x5c6d833362f6676e74520fbb6074495753293433","NULL",""$/m,
  );
  assert.equal(table.split('\n').filter((l) => l.startsWith('"IPv4"')).length, 8);
});
