// One exec per node: collectHost sends the whole plan as one shell script to a runner that has
// a shell, and reads the same HostState as when every command runs on its own. On real
// iproute2, busybox and an `ip` that ignores -j, in network namespaces built for the test.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KERNEL, type NodeCommand, SYSCTLS } from '../../src/collectors/node/commands.js';
import { type CollectHostOptions, collectHost } from '../../src/collectors/node/host.js';
import { localRunner } from '../../src/collectors/node/local.js';
import type { CommandRunner } from '../../src/collectors/node/runner.js';
import { buildNodeScript, parseScriptOutput, type ScriptStep } from '../../src/collectors/node/script.js';
import type { HostState } from '../../src/snapshot/types.js';
import { buildVxlanLab, canBuildLab } from './netns-lab.js';

const skip = canBuildLab() ? false : 'needs root to create network namespaces';
const has = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
};

/** Counts what reaches the node; `shell` as the wrapped runner has it, or taken away. */
function counting(inner: CommandRunner, withShell: boolean) {
  const calls: string[][] = [];
  const runner: CommandRunner = {
    description: inner.description,
    ...(withShell && inner.shell ? { shell: inner.shell } : {}),
    run: (argv, o) => {
      calls.push([...argv]);
      return inner.run(argv, o);
    },
  };
  return { runner, calls };
}

/**
 * Every parsed part, and which forms ran, with what differs between two runs by nature left
 * out: timings, timestamps and timers in raw output, and the wording of "not installed" (the
 * shell's instead of execve's).
 */
const comparable = (h: HostState) =>
  Object.fromEntries(
    Object.entries(h).map(([k, v]) => {
      if (k === 'raw')
        return [
          k,
          // By id: entries are listed by start time, which interleaves fallbacks differently.
          h.raw
            .map((r) => ({ id: r.id, argv: r.argv, ok: r.exitCode === 0, fallbackReason: r.fallbackReason }))
            .sort((a, b) => a.id.localeCompare(b.id)),
        ];
      if (v && typeof v === 'object' && 'status' in v && v.status === 'unavailable') return [k, 'unavailable'];
      return [k, v];
    }),
  );

/** IPv6 link-local addresses leave `tentative` (and gain their local routes) a moment after creation. */
async function settled(netns: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const out = execFileSync('ip', ['netns', 'exec', netns, 'ip', '-6', 'addr', 'show', 'tentative'], {
      encoding: 'utf8',
    });
    if (out.trim() === '') return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function bothWays(
  inner: CommandRunner,
  peerAddresses: string[],
  netns: string,
  more: Partial<CollectHostOptions> = {},
) {
  await settled(netns);
  const one = counting(inner, true);
  const each = counting(inner, false);
  const opts = { keepKeys: false, peerAddresses, backend: null, ...more };
  const scripted = await collectHost('node-1', one.runner, opts);
  const separate = await collectHost('node-1', each.runner, opts);
  return { scripted, separate, scriptCalls: one.calls, separateCalls: each.calls };
}

function shim(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

test('real iproute2: one exec for the whole node, the same HostState as one exec per command', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const r = await bothWays(localRunner({ netns: lab.node }), ['192.168.56.12', '10.244.2.7'], lab.node);
  assert.equal(r.scriptCalls.length, 1, r.scriptCalls.map((c) => c.slice(0, 2).join(' ')).join('\n'));
  assert.deepEqual(r.scriptCalls[0]!.slice(0, 2), ['sh', '-c']);
  assert.ok(r.separateCalls.length >= 20, `${r.separateCalls.length} commands`);
  assert.deepEqual(comparable(r.scripted), comparable(r.separate));
  assert.equal(r.scripted.routeGets.status, 'ok');
});

test('busybox ip: the JSON forms fail on the node, the script falls back there; still one exec, same state', {
  skip: skip || (has('busybox') ? false : 'busybox not installed (scripts/setup.sh installs it)'),
}, async (t) => {
  const lab = buildVxlanLab();
  const bin = mkdtempSync(join(tmpdir(), 'kf-bbip-'));
  t.after(() => {
    lab.destroy();
    rmSync(bin, { recursive: true, force: true });
  });
  shim(bin, 'ip', 'exec busybox ip "$@"');
  const inner = localRunner({ netns: lab.node, env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` } });
  const r = await bothWays(inner, ['192.168.56.12'], lab.node);
  assert.equal(r.scriptCalls.length, 1);
  assert.deepEqual(comparable(r.scripted), comparable(r.separate));
  assert.equal(r.scripted.links.status, 'ok');
  assert.ok(r.scripted.raw.some((e) => e.id === 'links:plain' && e.fallbackReason !== undefined));
});

test('an ip that ignores -j: the node sees text where JSON was asked and falls back; one exec, same state', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  const bin = mkdtempSync(join(tmpdir(), 'kf-noj-'));
  t.after(() => {
    lab.destroy();
    rmSync(bin, { recursive: true, force: true });
  });
  const real = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  // Drops -j for route and neigh, as iproute2 versions without JSON for them print text.
  shim(
    bin,
    'ip',
    `case " $* " in *" route "*|*" neigh "*) ;; *) exec ${real} "$@";; esac
for a; do shift; [ "$a" = -j ] || set -- "$@" "$a"; done
exec ${real} "$@"`,
  );
  const inner = localRunner({ netns: lab.node, env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` } });
  const r = await bothWays(inner, ['192.168.56.12'], lab.node);
  assert.equal(r.scriptCalls.length, 1);
  assert.deepEqual(comparable(r.scripted), comparable(r.separate));
  assert.match(
    r.scripted.raw.find((e) => e.id === 'routes.inet:text')?.fallbackReason ?? '',
    /^ip -4 -j route show table all: line 1: not valid JSON/,
  );
});

/**
 * What cluster collection adds to every node's plan: the batched route decisions (podCIDR ends and
 * public IPs), the packaging's net-conf.json and flanneld's health port. All of it rides in the one
 * script; where `ip -batch` works no per-peer `ip route get` runs at all (N per node, N^2 in all).
 */
async function withClusterPlan(inner: CommandRunner, netns: string, t: { after: (f: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'kf-netconf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const netConfPath = join(dir, 'net-conf.json');
  writeFileSync(netConfPath, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}\n');
  // Port 1: nothing listens, so both ways read "no answer" (000).
  return bothWays(inner, ['192.168.56.12', '192.168.56.13', '192.168.56.14'], netns, {
    routeDecisions: { dsts: ['10.244.2.1', '10.244.2.254'], podSource4: '10.244.1.2', podSource6: null },
    netConfPath,
    healthzPort: 1,
  });
}

test('cluster plan on real iproute2: route batch, net-conf.json and health probe in the one exec, no per-peer route get', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const r = await withClusterPlan(localRunner({ netns: lab.node }), lab.node, t);
  assert.equal(r.scriptCalls.length, 1, r.scriptCalls.map((c) => c.slice(0, 3).join(' ')).join('\n'));
  assert.deepEqual(comparable(r.scripted), comparable(r.separate));
  assert.equal(r.scripted.routeDecisions?.status, 'ok');
  assert.equal(r.scripted.routeGets.status, 'ok');
  assert.equal(r.scripted.netConfFile?.status, 'ok');
  assert.equal(r.scripted.flanneldHealth?.status, 'ok');
  assert.ok(!r.scripted.raw.some((e) => e.id.startsWith('routeGet')), 'no ip route get ran beside the batch');
  // The -batch test guards every per-peer step but runs once per node, not once per peer.
  assert.equal(r.scriptCalls[0]![2]!.split('-batch /dev/null').length - 1, 1);
});

test('cluster plan on busybox ip (no -batch): the per-peer route gets run in the same script; one exec, same state', {
  skip: skip || (has('busybox') ? false : 'busybox not installed (scripts/setup.sh installs it)'),
}, async (t) => {
  const lab = buildVxlanLab();
  const bin = mkdtempSync(join(tmpdir(), 'kf-bbip-'));
  t.after(() => {
    lab.destroy();
    rmSync(bin, { recursive: true, force: true });
  });
  shim(bin, 'ip', 'exec busybox ip "$@"');
  const inner = localRunner({ netns: lab.node, env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` } });
  const r = await withClusterPlan(inner, lab.node, t);
  assert.equal(r.scriptCalls.length, 1, r.scriptCalls.map((c) => c.slice(0, 3).join(' ')).join('\n'));
  assert.deepEqual(comparable(r.scripted), comparable(r.separate));
  assert.notEqual(r.scripted.routeDecisions?.status, 'ok');
  assert.equal(r.scripted.routeGets.status, 'ok');
  assert.ok(r.scripted.raw.some((e) => e.id.startsWith('routeGet')));
});

test('a fallback the node did not foresee costs one more exec, not a different answer', { skip }, async (t) => {
  const lab = buildVxlanLab();
  const bin = mkdtempSync(join(tmpdir(), 'kf-badjson-'));
  t.after(() => {
    lab.destroy();
    rmSync(bin, { recursive: true, force: true });
  });
  const real = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  // JSON-looking but broken output for `ip -j neigh`: only the parser on this side can tell.
  shim(bin, 'ip', `case " $* " in *" -j neigh "*) echo '[{"dst":'; exit 0;; esac\nexec ${real} "$@"`);
  const inner = localRunner({ netns: lab.node, env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` } });
  const r = await bothWays(inner, [], lab.node);
  assert.deepEqual(
    r.scriptCalls.map((c) => c.slice(0, 2).join(' ')),
    ['sh -c', 'ip neigh'],
  );
  assert.deepEqual(comparable(r.scripted), comparable(r.separate));
  assert.equal(r.scripted.neighbours.status, 'ok');
});

test('the script output is read by its nonce: look-alike markers in command output stay output, a cut result is absent', () => {
  const script = buildNodeScript(
    [{ command: KERNEL as NodeCommand<unknown> }, { command: SYSCTLS as NodeCommand<unknown> }],
    10_000,
  );
  const m = `@@kf-${script.nonce}`;
  const forged = '@@kf-000000000000000000000000 end 0 0 0';
  const out = [
    `${m} out 0`,
    `6.1.0\n${forged}\n\n${m} err 0`,
    'warn\n',
    `${m} end 0 0 20`,
    `${m} out 1`,
    'net.ipv4.ip_forward=1', // cut here: no err/end markers
  ].join('\n');
  const results = parseScriptOutput(script, out);
  assert.deepEqual([...results.keys()], [script.forms[0]!.join('\0')]);
  const r = results.get(script.forms[0]!.join('\0'))!;
  assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.durationMs], [0, `6.1.0\n${forged}\n`, 'warn\n', 20]);
});

test('a timed-out command reads as a timeout, other exit codes as they are', () => {
  const script = buildNodeScript(
    [{ command: KERNEL as NodeCommand<unknown> }, { command: SYSCTLS as NodeCommand<unknown> }],
    10_000,
  );
  const m = `@@kf-${script.nonce}`;
  const out = `${m} out 0\n\n${m} err 0\n\n${m} end 0 124 10000\n${m} out 1\n\n${m} err 1\nboom\n${m} end 1 2 10\n`;
  const results = parseScriptOutput(script, out);
  const [a, b] = script.forms.map((f) => results.get(f.join('\0')));
  assert.deepEqual([a?.exitCode, a?.timedOut], [null, true]);
  assert.deepEqual([b?.exitCode, b?.stderr], [2, 'boom']);
});

test('the script hands back each stderr byte for byte: no trailing newline, one, none at all', () => {
  const cmd = (id: string, body: string): ScriptStep => ({
    command: {
      id,
      forms: [{ id: `${id}:text`, argv: ['sh', '-c', body], parse: () => ({ value: '', errors: [] }) }],
      optional: true,
    },
  });
  const bodies = ["printf 'a\\nb' >&2", "printf 'x\\n' >&2", 'true', "printf '\\n\\nlast\\n\\n' >&2; echo out"];
  const script = buildNodeScript(
    bodies.map((b, i) => cmd(`c${i}`, b)),
    10_000,
  );
  const out = execFileSync(script.argv[0]!, script.argv.slice(1), { encoding: 'utf8' });
  const results = parseScriptOutput(script, out);
  const got = script.forms.map((f) => results.get(f.join('\0')));
  assert.deepEqual(
    got.map((r) => r?.stderr),
    ['a\nb', 'x\n', '', '\n\nlast\n\n'],
  );
  assert.deepEqual(
    got.map((r) => r?.stdout),
    ['', '', '', 'out\n'],
  );
});
