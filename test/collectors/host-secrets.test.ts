// Secrets never reach a HostState: not in parsed parts, not in raw output.
// Everything runs against a real netns node, except two commands this kernel cannot serve
// (no wireguard module, no ESP crypto for SAs with keys): for `wg show all dump` and
// `ip xfrm state` the runner returns the hand-made wg fixture and real `ip x s` output from
// the IPsec seed instead.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectHost } from '../../src/collectors/node/host.js';
import { localRunner } from '../../src/collectors/node/local.js';
import type { CommandRunner } from '../../src/collectors/node/runner.js';
import { raw } from './fixtures.js';
import { buildVxlanLab, canBuildLab } from './netns-lab.js';

const skip = canBuildLab() ? false : 'needs root to create network namespaces';

test('wg private/preshared keys and xfrm keys are absent from the whole HostState', { skip }, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const inner = localRunner({ netns: lab.node });
  const wgDump = raw('wireguard/wg-show-all-dump.txt');
  const xfrmState = raw('seeds/000-ip-x-s.txt');
  const served = (argv: readonly string[], stdout: string) => ({
    argv,
    exitCode: 0,
    stdout,
    stderr: '',
    durationMs: 0,
  });
  const runner: CommandRunner = {
    description: inner.description,
    run: async (argv, o) => {
      if (argv.join(' ') === 'wg show all dump') return served(argv, wgDump);
      if (argv.join(' ') === 'ip xfrm state') return served(argv, xfrmState);
      return inner.run(argv, o);
    },
  };
  const host = await collectHost('node-1', runner, { keepKeys: false, peerAddresses: [] });
  const everything = JSON.stringify(host);

  const wgLines = wgDump
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  const privateKeys = wgLines.filter((f) => f.length === 5).map((f) => f[1] ?? '');
  const psks = wgLines.filter((f) => f.length === 9 && f[2] !== '(none)').map((f) => f[2] ?? '');
  assert.equal(privateKeys.length, 2);
  assert.equal(psks.length, 1);
  for (const k of [...privateKeys, ...psks]) assert.ok(!everything.includes(k), 'a WireGuard secret leaked');
  assert.equal(host.wireguard.status, 'ok');
  assert.ok(everything.includes(wgLines[0]?.[2] ?? '?'), 'public keys are kept');

  const xfrmKeys = [...xfrmState.matchAll(/0x[0-9a-f]{40}/g)].map((m) => m[0]);
  assert.equal(xfrmKeys.length, 2);
  for (const k of xfrmKeys) assert.ok(!everything.includes(k.slice(2)), 'an xfrm key leaked');
  const xfrmRaw = host.raw.find((r) => r.id === 'xfrm.state:text');
  assert.match(xfrmRaw?.stdout ?? '', /spi 0xcfba8c29 reqid 11/, 'SPIs stay readable');
  assert.equal(host.xfrmStates.status, 'ok');
  const sas = host.xfrmStates.status === 'ok' ? host.xfrmStates.data : [];
  assert.deepEqual(
    sas.map((s) => [s.spi, s.reqid, s.aead?.name, s.aead?.hex]),
    [
      [0xcfba8c29, 11, 'rfc4106(gcm(aes))', undefined],
      [0xce02fb42, 11, 'rfc4106(gcm(aes))', undefined],
    ],
  );

  // --decrypt-esp: keys kept in the parsed SAs only; raw output stays redacted.
  const withKeys = await collectHost('node-1', runner, { keepKeys: true, peerAddresses: [] });
  const kept = withKeys.xfrmStates.status === 'ok' ? withKeys.xfrmStates.data.map((s) => s.aead?.hex) : [];
  assert.deepEqual(kept, xfrmKeys);
  const rawText = JSON.stringify(withKeys.raw);
  for (const k of xfrmKeys) assert.ok(!rawText.includes(k.slice(2)), 'an xfrm key leaked into raw output');
});
