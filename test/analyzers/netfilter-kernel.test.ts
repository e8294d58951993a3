// The netfilter model (src/analyzers/netfilter) against the real kernel. Three network namespaces this test
// creates: a client C, a router R and a server S. Each round loads a random rule set into R, written by
// iptables-legacy, iptables-nft, native nft, or all three at once (raw, mangle, nat and filter; marks, jumps,
// goto, RETURN, policies, DNAT, SNAT, MASQUERADE), reads it back the way the collectors do
// (iptables-{legacy,nft}-save and `nft -j list ruleset`), and sends real UDP packets from C to S, each of a new
// flow. The model's verdict for every packet must equal what S receives: dropped, or delivered with the
// addresses and ports NAT left. Verdicts the model calls unknown are counted, never compared.
// Reproduce a run with NF_SEED=<seed>.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { type EvalEnv, evaluateHook } from '../../src/analyzers/netfilter/evaluate.js';
import { rulesetOf } from '../../src/analyzers/netfilter/ruleset.js';
import type { NfPacket } from '../../src/analyzers/netfilter/types.js';
import { parseIptablesSave } from '../../src/parse/iptables-save.js';
import type { IptablesDump } from '../../src/snapshot/types.js';
import { rng } from './kernel-support.js';

const root = process.getuid?.() === 0;
const NODE = process.execPath;

function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    input: input ?? '',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

const C_ADDRS = [2, 3, 4, 5, 6, 7, 8, 9].map((i) => `10.61.0.${i}`);
const S_ADDRS = [2, 3, 4, 5, 6, 7].map((i) => `10.62.0.${i}`);
const PORTS = [7000, 7001, 7002, 7003, 7004, 7005];
const R_LOCAL = ['10.61.0.1', '10.62.0.1'];

type Writer = 'legacy' | 'iptables-nft' | 'nft';

interface Gen {
  readonly pick: <T>(xs: readonly T[]) => T;
  readonly chance: (p: number) => boolean;
  readonly int: (lo: number, hi: number) => number;
}

function gen(r: () => number): Gen {
  return {
    pick: (xs) => xs[Math.floor(r() * xs.length)]!,
    chance: (p) => r() < p,
    int: (lo, hi) => lo + Math.floor(r() * (hi - lo + 1)),
  };
}

const prefixOf = (g: Gen, pool: readonly string[]): string => `${g.pick(pool)}/${g.pick([24, 28, 29, 30, 31, 32, 32])}`;

// ---------------------------------------------------------------------------------------------
// iptables rule sets

function iptMatches(g: Gen, chain: string): string {
  const m: string[] = [];
  const neg = () => (g.chance(0.25) ? '! ' : '');
  if (g.chance(0.35)) m.push(`${neg()}-s ${prefixOf(g, C_ADDRS)}`);
  if (g.chance(0.35)) m.push(`${neg()}-d ${prefixOf(g, S_ADDRS)}`);
  if (chain !== 'POSTROUTING' && chain !== 'OUTPUT' && g.chance(0.2))
    m.push(`${neg()}-i ${g.pick(['rc0', 'rc+', 'r+', 'rs0', 'x+'])}`);
  if (chain !== 'PREROUTING' && chain !== 'INPUT' && g.chance(0.2))
    m.push(`${neg()}-o ${g.pick(['rs0', 'rs+', 'r+', 'rc0'])}`);
  if (g.chance(0.3)) {
    const proto = g.pick(['udp', 'udp', 'tcp']);
    m.push(`-p ${proto}`);
    const k = g.int(0, 4);
    if (k <= 1) m.push(`-m ${proto} ${neg()}--dport ${g.pick(PORTS)}`);
    else if (k === 2) m.push(`-m ${proto} --sport ${g.int(20000, 21000)}:${g.int(21000, 22000)}`);
    else if (k === 3)
      m.push(`-m multiport ${neg()}--dports ${g.pick(PORTS)},${g.int(7000, 7002)}:${g.int(7003, 7005)}`);
  } else if (g.chance(0.1)) m.push(`! -p udp`);
  if (g.chance(0.15))
    m.push(`-m mark ${neg()}--mark ${g.pick(['0x1', '0x2', '0x1/0x1', '0x0/0xff', '0x4000/0x4000'])}`);
  if (g.chance(0.15))
    m.push(
      g.pick([
        `-m conntrack ${neg()}--ctstate NEW`,
        `-m conntrack --ctstate RELATED,ESTABLISHED`,
        `-m state ${neg()}--state NEW`,
        `-m conntrack --ctstate INVALID`,
      ]),
    );
  if (g.chance(0.05)) m.push(`-m addrtype ${neg()}--dst-type LOCAL`);
  if (g.chance(0.05)) m.push(`-m physdev ! --physdev-is-bridged`);
  if (g.chance(0.1)) m.push(`-m comment --comment "r${g.int(0, 99)}"`);
  // Undecidable offline: the model must either find both outcomes equal or say unknown.
  if (g.chance(0.04)) m.push(`-m statistic --mode random --probability 0.5`);
  return m.join(' ');
}

interface IptPlan {
  readonly text: string;
}

/** One table's text; `nat` and `mark` say whether this writer may rewrite (one writer per round does). */
function iptTable(g: Gen, table: string, chains: readonly string[], nat: boolean, mark: boolean): string {
  const lines = [`*${table}`];
  const users = g.chance(0.5) ? ['U1', 'U2'] : [];
  for (const c of chains) {
    const policy = table === 'filter' && c === 'FORWARD' && g.chance(0.15) ? 'DROP' : 'ACCEPT';
    lines.push(`:${c} ${policy} [0:0]`);
  }
  for (const u of users) lines.push(`:${u} - [0:0]`);
  const target = (chain: string): string => {
    const options: string[] = ['ACCEPT', 'RETURN'];
    if (table !== 'nat') options.push('DROP');
    if (table === 'filter') options.push('REJECT');
    if (mark && table === 'mangle')
      options.push(
        `MARK --set-xmark ${g.pick(['0x1', '0x2', '0x3'])}/${g.pick(['0xffffffff', '0x1', '0xff'])}`,
        'MARK --set-mark 0x1',
        'MARK --or-mark 0x2',
      );
    if (nat && table === 'nat' && (chain === 'PREROUTING' || chain === 'U1' || chain === 'U2'))
      for (let k = 0; k < 2; k++)
        options.push(`DNAT --to-destination ${g.pick(S_ADDRS)}${g.chance(0.5) ? `:${g.pick(PORTS)}` : ''}`);
    if (nat && table === 'nat' && (chain === 'POSTROUTING' || chain === 'U1' || chain === 'U2'))
      options.push(`SNAT --to-source ${g.pick(['10.62.0.1', '10.99.0.7', '10.99.0.8'])}`, 'MASQUERADE', 'MASQUERADE');
    if (g.chance(0.1)) options.push('LOG --log-prefix "nf "');
    return g.pick(options);
  };
  // User chains are only reached from the chains of one hook's direction, so nat targets stay valid.
  const userHook = table === 'nat' ? g.pick(['PREROUTING', 'POSTROUTING']) : chains[0]!;
  for (const c of [...chains, ...users]) {
    const n = g.int(0, c.startsWith('U') ? 3 : 5);
    for (let i = 0; i < n; i++) {
      let t = c.startsWith('U') ? target(userHook) : target(c);
      const fromHook = c === userHook || (c === 'FORWARD' && table === 'filter');
      if (users.length && c === (table === 'nat' ? userHook : c) && !c.startsWith('U') && fromHook && g.chance(0.3))
        t = g.chance(0.7) ? 'U1' : 'U2';
      else if (c === 'U1' && users.length && g.chance(0.3)) t = 'U2';
      const jump = (t === 'U1' || t === 'U2') && g.chance(0.2) ? '-g' : '-j';
      const ctx = c.startsWith('U') ? userHook : c;
      let m = iptMatches(g, ctx);
      // A catch-all DROP would end most rounds with every packet dropped: drops select some packets.
      if (/^(DROP|REJECT)/.test(t) && !/-[sd] /.test(m)) m = `-s ${g.pick(C_ADDRS)}/${g.pick([30, 31, 32])} ${m}`;
      // A DNAT port needs -p udp on the rule.
      if (/DNAT --to-destination \S+:\d+/.test(t) && !/(^|[^!] )-p udp/.test(m)) {
        if (/-p /.test(m)) t = t.replace(/:\d+$/, '');
        else m = `-p udp ${m}`;
      }
      lines.push(`-A ${c} ${m} ${jump} ${t}`.replace(/ +/g, ' '));
    }
  }
  lines.push('COMMIT');
  return lines.join('\n');
}

function iptRuleset(g: Gen, nat: boolean, mark: boolean): IptPlan {
  return {
    text: [
      iptTable(g, 'raw', ['PREROUTING'], false, false),
      iptTable(g, 'mangle', ['PREROUTING', 'FORWARD', 'POSTROUTING'], false, mark),
      iptTable(g, 'nat', ['PREROUTING', 'POSTROUTING'], nat, false),
      iptTable(g, 'filter', ['FORWARD'], false, false),
      '',
    ].join('\n'),
  };
}

// ---------------------------------------------------------------------------------------------
// native nft rule sets

function nftMatches(g: Gen, hook: string, family: string): string {
  const m: string[] = [];
  const op = () => (g.chance(0.25) ? '!= ' : '');
  if (family === 'inet' && g.chance(0.1)) m.push('meta nfproto ipv4');
  if (g.chance(0.35)) m.push(`ip saddr ${op()}${prefixOf(g, C_ADDRS)}`);
  if (g.chance(0.3))
    m.push(
      g.chance(0.5)
        ? `ip daddr ${op()}${prefixOf(g, S_ADDRS)}`
        : `ip daddr { ${[...new Set([g.pick(S_ADDRS), g.pick(S_ADDRS)])].join(', ')} }`,
    );
  if (hook !== 'postrouting' && g.chance(0.2)) m.push(`iifname ${op()}"${g.pick(['rc0', 'rc*', 'r*', 'rs0'])}"`);
  if (hook !== 'prerouting' && g.chance(0.2)) m.push(`oifname ${op()}"${g.pick(['rs0', 'rs*', 'rc0'])}"`);
  if (g.chance(0.3)) {
    const r = g.int(0, 3);
    if (r === 0) m.push(`udp dport ${op()}${g.pick(PORTS)}`);
    else if (r === 1) m.push(`udp dport { ${[...new Set([g.pick(PORTS), g.pick(PORTS)])].join(', ')} }`);
    else if (r === 2) m.push(`udp sport ${g.int(20000, 21000)}-${g.int(21000, 22000)}`);
    else m.push(`tcp dport ${g.pick(PORTS)}`);
  } else if (g.chance(0.15)) m.push(`meta l4proto ${op()}${g.pick(['udp', 'tcp'])}`);
  if (g.chance(0.15)) m.push(g.pick(['meta mark 0x1', 'meta mark != 0x0', 'meta mark & 0x1 == 0x1', 'meta mark 0x2']));
  if (g.chance(0.15))
    m.push(g.pick(['ct state new', 'ct state established,related', 'ct state != new', 'ct state { new, invalid }']));
  if (g.chance(0.05)) m.push('th dport 7003');
  if (g.chance(0.03)) m.push('numgen random mod 2 == 0');
  return m.join(' ');
}

function nftRuleset(g: Gen, nat: boolean, mark: boolean): string {
  const out: string[] = [];
  const tables = g.int(1, 2);
  for (let t = 0; t < tables; t++) {
    const family = g.pick(['ip', 'inet']);
    out.push(`table ${family} kfl${t} {`);
    const chains: { hook: string; type: string; prio: number }[] = [];
    for (const hook of ['prerouting', 'forward', 'postrouting']) {
      if (g.chance(0.7)) chains.push({ hook, type: 'filter', prio: g.pick([-300, -160, -150, 0, 5, 100, 200]) });
    }
    if (nat && family === 'ip') {
      if (g.chance(0.7)) chains.push({ hook: 'prerouting', type: 'nat', prio: g.pick([-110, -100, -90]) });
      if (g.chance(0.7)) chains.push({ hook: 'postrouting', type: 'nat', prio: g.pick([90, 100, 110]) });
    }
    const user = g.chance(0.5);
    if (user) {
      out.push('  chain u1 {');
      for (let i = g.int(0, 3); i > 0; i--)
        out.push(`    ${nftMatches(g, 'forward', family)} ${g.pick(['accept', 'drop', 'return', 'counter'])}`);
      out.push('  }');
    }
    chains.forEach((c, i) => {
      const policy = c.type === 'filter' && g.chance(0.07) ? 'drop' : 'accept';
      out.push(`  chain c${i}${c.hook} {`, `    type ${c.type} hook ${c.hook} priority ${c.prio}; policy ${policy};`);
      for (let n = g.int(0, 5); n > 0; n--) {
        const verdicts = ['accept', 'return', 'counter'];
        if (c.type === 'filter') verdicts.push('drop');
        if (c.type === 'filter' && c.hook === 'forward') verdicts.push('reject');
        if (user && c.type === 'filter') verdicts.push('jump u1', 'goto u1');
        if (mark && c.type === 'filter' && c.hook === 'prerouting')
          verdicts.push('meta mark set 0x1', 'meta mark set 0x2');
        if (c.type === 'nat' && c.hook === 'prerouting')
          verdicts.push(
            `dnat to ${g.pick(S_ADDRS)}`,
            `dnat to ${g.pick(S_ADDRS)}:${g.pick(PORTS)}`,
            `dnat to ${g.pick(S_ADDRS)}`,
          );
        if (c.type === 'nat' && c.hook === 'postrouting')
          verdicts.push('masquerade', `snat to ${g.pick(['10.62.0.1', '10.99.0.9'])}`);
        let v = g.pick(verdicts);
        const sel = nftMatches(g, c.hook, family);
        if (/tcp/.test(sel)) v = v.replace(/^(dnat to \S+):\d+$/, '$1');
        // A dnat port needs a transport protocol match first.
        out.push(
          `    ${/^dnat to \S+:\d+/.test(v) ? 'meta l4proto udp ' : ''}${/^(drop|reject)/.test(v) && !/ip [sd]addr/.test(sel) ? `ip saddr ${g.pick(C_ADDRS)}/${g.pick([30, 31, 32])} ` : ''}${sel} ${v}`,
        );
      }
      out.push('  }');
    });
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// namespaces and packets

const RECEIVER = `
const dgram = require('node:dgram');
const addrs = JSON.parse(process.argv[1]), ports = JSON.parse(process.argv[2]);
let open = 0;
for (const a of addrs) for (const p of ports) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => process.stdout.write(JSON.stringify({ id: m.toString(), src: r.address, sport: r.port, dst: a, dport: p }) + '\\n'));
  s.bind(p, a, () => { if (++open === addrs.length * ports.length) process.stdout.write('ready\\n'); });
}`;

const SENDER = `
const dgram = require('node:dgram');
const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
let left = cases.length;
for (const c of cases) {
  const s = dgram.createSocket('udp4');
  s.bind(c.sport, c.src, () => s.send(c.id, c.dport, c.dst, () => { s.close(); if (--left === 0) process.exit(0); }));
}`;

interface Case {
  readonly id: string;
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
}

type Outcome = { kind: 'dropped' } | { kind: 'delivered'; src: string; sport: number; dst: string; dport: number };

function modelOutcome(fw: ReturnType<typeof rulesetOf>, c: Case): Outcome | 'unknown' {
  const env: EvalEnv = {
    localAddresses: new Set(R_LOCAL),
    primaryAddress: (dev) => (dev === 'rs0' ? '10.62.0.1' : dev === 'rc0' ? '10.61.0.1' : null),
  };
  let p: NfPacket = {
    family: 'inet',
    src: c.src,
    dst: c.dst,
    proto: 'udp',
    sport: c.sport,
    dport: c.dport,
    iif: 'rc0',
    oif: null,
    mark: 0,
  };
  for (const hook of ['prerouting', 'forward', 'postrouting'] as const) {
    if (hook === 'forward') p = { ...p, oif: 'rs0' };
    const v = evaluateHook(fw.hook('inet', hook), p, env);
    if (v.kind === 'unknown') return 'unknown';
    if (v.kind === 'drop') return { kind: 'dropped' };
    p = v.packet;
    // DNAT to R's own address would be delivered locally; the generator never asks for it.
    assert.ok(!R_LOCAL.includes(p.dst), `case ${c.id} was DNATed to the router itself`);
  }
  return { kind: 'delivered', src: p.src, sport: p.sport!, dst: p.dst, dport: p.dport! };
}

test('netfilter model equals the kernel on random iptables-legacy, iptables-nft and nft rule sets', {
  skip: !root && 'needs root for network namespaces',
  timeout: 240_000,
}, async () => {
  const seed = Number(process.env['NF_SEED'] ?? randomBytes(4).readUInt32BE(0));
  const r = rng(seed);
  const g = gen(r);
  const tag = `kfnf${randomBytes(3).toString('hex')}`;
  const [C, R, S] = ['c', 'r', 's'].map((x) => `${tag}${x}`) as [string, string, string];
  const inNs = (ns: string, argv: string[], input?: string) => {
    try {
      return sh(['ip', 'netns', 'exec', ns, ...argv], input);
    } catch (e) {
      throw new Error(`${argv.join(' ')}: ${(e as { stderr?: string }).stderr}\n${input ?? ''}`);
    }
  };
  let receiver: ChildProcess | null = null;
  try {
    for (const ns of [C, R, S]) sh(['ip', 'netns', 'add', ns]);
    sh(['ip', 'link', 'add', 'cR', 'netns', C, 'type', 'veth', 'peer', 'rc0', 'netns', R]);
    sh(['ip', 'link', 'add', 'sR', 'netns', S, 'type', 'veth', 'peer', 'rs0', 'netns', R]);
    const batch = (ns: string, lines: string[]) => inNs(ns, ['ip', '-batch', '-'], `${lines.join('\n')}\n`);
    batch(C, [
      'link set lo up',
      'link set cR up',
      ...C_ADDRS.map((a) => `addr add ${a}/24 dev cR`),
      'route add default via 10.61.0.1',
    ]);
    batch(S, [
      'link set lo up',
      'link set sR up',
      ...S_ADDRS.map((a) => `addr add ${a}/24 dev sR`),
      'route add default via 10.62.0.1',
    ]);
    batch(R, [
      'link set lo up',
      'link set rc0 up',
      'link set rs0 up',
      'addr add 10.61.0.1/24 dev rc0',
      'addr add 10.62.0.1/24 dev rs0',
    ]);
    inNs(R, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    for (const ns of [R, S])
      inNs(ns, ['sh', '-c', 'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done']);
    // Neighbours resolved before the first round, so no packet waits on ARP.
    for (const a of S_ADDRS) inNs(R, ['ping', '-c1', '-W1', a]);
    for (const a of C_ADDRS) inNs(C, ['ping', '-c1', '-W1', '-I', a, '10.61.0.1']);

    const seen = new Map<string, Outcome & { kind: 'delivered' }>();
    receiver = spawn('ip', ['netns', 'exec', S, NODE, '-e', RECEIVER, JSON.stringify(S_ADDRS), JSON.stringify(PORTS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    let ready!: () => void;
    const isReady = new Promise<void>((res) => (ready = res));
    receiver.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') ready();
        else {
          const m = JSON.parse(line) as Case & { id: string };
          seen.set(m.id, { kind: 'delivered', src: m.src, sport: m.sport, dst: m.dst, dport: m.dport });
        }
        nl = buf.indexOf('\n');
      }
    });
    await isReady;

    const rounds = Number(process.env['NF_ROUNDS'] ?? 48);
    const perRound = 36;
    let sport = 20000;
    let compared = 0;
    let unknown = 0;
    const byOutcome = { dropped: 0, delivered: 0, rewritten: 0 };
    const mismatches: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const mode = (['legacy', 'iptables-nft', 'nft', 'mixed'] as const)[round % 4]!;
      const writers: Writer[] = mode === 'mixed' ? ['legacy', 'iptables-nft', 'nft'] : [mode];
      const natWriter = g.pick(writers);
      const markWriter = g.pick(writers);
      inNs(R, ['nft', 'flush', 'ruleset']);
      const empty = ['*raw', '*mangle', '*nat', '*filter'].map((t) => `${t}\nCOMMIT`).join('\n') + '\n';
      inNs(
        R,
        ['iptables-legacy-restore'],
        writers.includes('legacy') ? iptRuleset(g, natWriter === 'legacy', markWriter === 'legacy').text : empty,
      );
      const loaded: string[] = [];
      if (writers.includes('iptables-nft')) {
        const t = iptRuleset(g, natWriter === 'iptables-nft', markWriter === 'iptables-nft').text;
        inNs(R, ['iptables-nft-restore'], t);
        loaded.push(t);
      }
      if (writers.includes('nft')) {
        const t = nftRuleset(g, natWriter === 'nft', markWriter === 'nft');
        inNs(R, ['nft', '-f', '-'], t);
        loaded.push(t);
      }
      // Read back as the collectors do.
      const dumps: IptablesDump[] = [];
      for (const [bin, backend] of [
        ['iptables-legacy-save', 'legacy'],
        ['iptables-nft-save', 'nft'],
      ] as const) {
        const d = parseIptablesSave(inNs(R, [bin]), backend, 'inet');
        assert.deepEqual(d.errors, []);
        if (Object.keys(d.value.tables).length > 0) dumps.push(d.value);
      }
      const fw = rulesetOf({ iptables: dumps, nftRuleset: null }, inNs(R, ['nft', '-j', 'list', 'ruleset']));
      assert.deepEqual(fw.gaps, []);

      const cases: Case[] = Array.from({ length: perRound }, (_, i) => ({
        id: `${round}.${i}`,
        src: g.pick(C_ADDRS),
        sport: sport++,
        dst: g.pick(S_ADDRS),
        dport: g.pick(PORTS),
      }));
      inNs(C, [NODE, '-e', SENDER], JSON.stringify(cases));
      await new Promise((res) => setTimeout(res, 150));
      for (const c of cases) {
        const want = modelOutcome(fw, c);
        if (want === 'unknown') {
          unknown++;
          continue;
        }
        compared++;
        const got: Outcome = seen.get(c.id) ?? { kind: 'dropped' };
        if (got.kind === 'dropped') byOutcome.dropped++;
        else if (got.src !== c.src || got.dst !== c.dst || got.dport !== c.dport) byOutcome.rewritten++;
        else byOutcome.delivered++;
        if (JSON.stringify(got) !== JSON.stringify(want))
          mismatches.push(
            `seed ${seed} round ${round} (${mode}) case ${c.id} ${c.src}:${c.sport} -> ${c.dst}:${c.dport}: kernel ${JSON.stringify(got)}, model ${JSON.stringify(want)}\n${dumps.map((d) => JSON.stringify(d.tables)).join('\n')}\n${loaded.join('\n')}`,
          );
      }
    }
    console.log(
      `netfilter model vs kernel: seed ${seed}, ${rounds} rule sets, ${compared} packets compared (${byOutcome.delivered} delivered, ${byOutcome.rewritten} rewritten by NAT, ${byOutcome.dropped} dropped), ${unknown} unknown`,
    );
    assert.deepEqual(mismatches.slice(0, 3), []);
    assert.ok(compared >= rounds * perRound * 0.8, `only ${compared} of ${rounds * perRound} verdicts were decided`);
    assert.ok(
      byOutcome.dropped > 50 && byOutcome.delivered > 50 && byOutcome.rewritten > 20,
      JSON.stringify(byOutcome),
    );
  } finally {
    receiver?.kill();
    for (const ns of [C, R, S]) {
      try {
        sh(['ip', 'netns', 'del', ns]);
      } catch {}
    }
  }
});
