/**
 * Fuzzing `capture -r … --xfrm-state … --decrypt-esp -w …` with mutated real inputs: the sample
 * capture and the scapy vectors (pcap in both byte orders, ns, pcapng written by editcap and by
 * scapy; Ethernet, VLAN, SLL, SLL2, raw IP) and real `ip xfrm state` text (the fixtures, iproute2
 * output from the seed pages). Mutations: bit flips, truncation, huge and lying length fields,
 * wrong magic, duplicated and deleted spans, random chunking of the stream; for xfrm text, broken
 * tokens, keys of odd length or without `0x`, lost newlines, control characters.
 *
 * Each case must end with exit 0 or 3 (a clear UserError), never a crash, within a time bound,
 * with bounded memory, and with no key material (any 16-hex-digit window of a key in the state
 * text, or a key's base64) in what is printed. Most cases run in-process; a few dozen through the
 * CLI. Cases that once failed are kept in fuzz-regressions/ and replayed first.
 * FUZZ_SEED=<n> replays a run; FUZZ_RUNS=<n> changes the number of cases per kind.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { runCapture } from '../../src/capture/run.js';
import { EXIT, UserError } from '../../src/errors.js';
import { makeVectors, ROOT, type Vectors } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 800);
/** Whole CLI processes are slow on a loaded 2-core machine; the in-process cases carry the volume. */
const CLI_RUNS = Number(process.env.FUZZ_CLI_RUNS ?? 12);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
/** A case that takes longer than this is a hang: the inputs are a few kB. */
const CASE_MS = 3000;
/** Exit codes capture may give: done, or bad input. Internal error (5) is a failure. */
const ALLOWED = new Set<number>([EXIT.ok, EXIT.usage]);
const REGRESSIONS = join(ROOT, 'test/capture/fuzz-regressions');

let v: Vectors;
let work: string;
const seeds: { pcap: { name: string; data: Buffer }[]; pcapng: { name: string; data: Buffer }[]; state: string[] } = {
  pcap: [],
  pcapng: [],
  state: [],
};

before(() => {
  v = makeVectors();
  work = mkdtempSync(join(tmpdir(), 'kf-fuzz-'));
  const add = (name: string, data: Buffer) =>
    (data.readUInt32LE(0) === 0x0a0d0d0a ? seeds.pcapng : seeds.pcap).push({ name, data });
  for (const f of ['esp-mix.pcap', 'esp-mix.pcapng']) add(f, readFileSync(join(ROOT, 'fixtures/pcap', f)));
  for (const f of readdirSync(v.dir).filter((f) => /\.pcapng?$/.test(f) && !f.includes('expected')))
    add(f, readFileSync(join(v.dir, f)));
  seeds.state.push(readFileSync(join(ROOT, 'fixtures/pcap/esp-mix.xfrm-state.txt'), 'utf8'));
  seeds.state.push(readFileSync(join(v.dir, 'xfrm-state.txt'), 'utf8'));
  seeds.state.push(readFileSync(join(ROOT, 'fixtures/raw/seeds/000-ip-x-s.txt'), 'utf8'));
  for (const f of readdirSync(join(ROOT, 'fixtures/xfrm')).filter((f) => f.startsWith('state') || f.includes('-state')))
    seeds.state.push(readFileSync(join(ROOT, 'fixtures/xfrm', f), 'utf8'));
});
after(() => {
  v.cleanup();
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Mutations

/** Offsets of the length fields a reader trusts: pcap record caplen/origLen, pcapng block lengths and EPB caplen. */
function lengthFields(b: Buffer): number[] {
  const out: number[] = [];
  if (b.length < 24) return out;
  if (b.readUInt32LE(0) === 0x0a0d0d0a) {
    const be = b.readUInt32BE(8) === 0x1a2b3c4d;
    let off = 0;
    while (off + 12 <= b.length) {
      const type = be ? b.readUInt32BE(off) : b.readUInt32LE(off);
      const len = be ? b.readUInt32BE(off + 4) : b.readUInt32LE(off + 4);
      out.push(off + 4, off + len - 4);
      if (type === 6) out.push(off + 20, off + 24);
      if (type === 1) out.push(off + 12);
      if (len < 12 || len % 4) break;
      off += len;
    }
  } else {
    const be = b.readUInt32BE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b23c4d;
    out.push(16, 20);
    let off = 24;
    while (off + 16 <= b.length) {
      out.push(off + 8, off + 12);
      off += 16 + (be ? b.readUInt32BE(off + 8) : b.readUInt32LE(off + 8));
    }
  }
  // a lying block length (0) puts its trailing copy before the block: only offsets inside the buffer are fields
  return out.filter((o) => o >= 0 && o + 4 <= b.length);
}

type BinMutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; field: number; value: number; le: boolean }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'magic'; value: number }
  | { kind: 'dup'; at: number; len: number }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'resize'; unit: number; len: number };

/** Start and length of each pcap record (header included) or pcapng block, for consistent resizing. */
function units(b: Buffer): { start: number; len: number; ng: boolean; be: boolean }[] {
  const out: { start: number; len: number; ng: boolean; be: boolean }[] = [];
  if (b.length < 24) return out;
  const ng = b.readUInt32LE(0) === 0x0a0d0d0a;
  const be = ng
    ? b.readUInt32BE(8) === 0x1a2b3c4d
    : b.readUInt32BE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b23c4d;
  let off = ng ? 0 : 24;
  while (off + (ng ? 12 : 16) <= b.length) {
    const len = ng
      ? be
        ? b.readUInt32BE(off + 4)
        : b.readUInt32LE(off + 4)
      : 16 + (be ? b.readUInt32BE(off + 8) : b.readUInt32LE(off + 8));
    if (len < 12 || off + len > b.length) break;
    out.push({ start: off, len, ng, be });
    off += len;
  }
  return out;
}

const u32Value = fc.oneof(
  fc.constantFrom(
    0,
    1,
    3,
    11,
    12,
    15,
    16,
    0x7fffffff,
    0x80000000,
    0xfffffff0,
    0xffffffff,
    262145,
    16 * 1024 * 1024 + 4,
  ),
  fc.integer({ min: 0, max: 0xffffffff }),
);

const binMutation: fc.Arbitrary<BinMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), field: fc.nat(), value: u32Value, le: fc.boolean() }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: u32Value }),
  fc.record({
    kind: fc.constant('magic' as const),
    value: fc.oneof(
      fc.constantFrom(0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a, 0x1a2b3c4d, 0),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
  }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 256 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  // A record or block cut or grown with its length fields kept consistent: the outer framing
  // holds, the inside lies (an interface block of 12 bytes, a packet block shorter than its caplen).
  fc.record({ kind: fc.constant('resize' as const), unit: fc.nat(), len: fc.integer({ min: 0, max: 96 }) }),
);

function mutateBinary(seed: Buffer, ms: readonly BinMutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = (n: number) => n % b.length;
    switch (m.kind) {
      case 'flip':
        b[at(m.at)]! ^= 1 << m.bit;
        break;
      case 'truncate':
        b = b.subarray(0, at(m.at));
        break;
      case 'length': {
        const fields = lengthFields(b);
        if (fields.length === 0) break;
        const o = fields[m.field % fields.length]!;
        if (m.le) b.writeUInt32LE(m.value >>> 0, o);
        else b.writeUInt32BE(m.value >>> 0, o);
        break;
      }
      case 'u32':
        if (b.length >= 4) b.writeUInt32LE(m.value >>> 0, Math.min(at(m.at), b.length - 4));
        break;
      case 'magic':
        if (b.length >= 4) b.writeUInt32LE(m.value >>> 0, 0);
        break;
      case 'dup': {
        const s = at(m.at);
        b = Buffer.concat([b.subarray(0, s), b.subarray(s, s + m.len), b.subarray(s)]);
        break;
      }
      case 'delete': {
        const s = at(m.at);
        b = Buffer.concat([b.subarray(0, s), b.subarray(s + m.len)]);
        break;
      }
      case 'resize': {
        const us = units(b);
        if (us.length === 0) break;
        const u = us[m.unit % us.length]!;
        const w = (v: number, o: number, buf: Buffer) => (u.be ? buf.writeUInt32BE(v, o) : buf.writeUInt32LE(v, o));
        if (u.ng) {
          // New total length, a multiple of 4 from 12: body cut or zero-padded, both length fields rewritten.
          const len = 12 + 4 * Math.floor(m.len / 4) * (m.len % 2 ? 1 : 3);
          const body = Buffer.alloc(len - 12);
          b.copy(body, 0, u.start + 8, u.start + Math.min(u.len - 4, len - 4));
          const block = Buffer.concat([b.subarray(u.start, u.start + 8), body, Buffer.alloc(4)]);
          w(len, 4, block);
          w(len, len - 4, block);
          b = Buffer.concat([b.subarray(0, u.start), block, b.subarray(u.start + u.len)]);
        } else {
          const cap = m.len * 7;
          const rec = Buffer.concat([
            b.subarray(u.start, u.start + Math.min(u.len, 16 + cap)),
            Buffer.alloc(Math.max(0, 16 + cap - u.len)),
          ]);
          w(cap, 8, rec);
          b = Buffer.concat([b.subarray(0, u.start), rec, b.subarray(u.start + u.len)]);
        }
        break;
      }
    }
  }
  return b;
}

const XFRM_WORDS = [
  'src',
  'dst',
  'proto',
  'esp',
  'spi',
  'reqid',
  'mode',
  'tunnel',
  'transport',
  'aead',
  'enc',
  'auth',
  'auth-trunc',
  'encap',
  'type',
  'espinudp',
  'sport',
  'dport',
  'sel',
  'rfc4106(gcm(aes))',
  'cbc(aes)',
  'hmac(sha256)',
  'ecb(cipher_null)',
  'replay-window',
  'flag',
  '128',
  '96',
  '0',
  '4500',
  '10.0.0.1',
  'fd00::1',
  '0x',
  '0xzz',
  '<redacted',
];

type TextMutation =
  | { kind: 'char'; at: number; ch: string }
  | { kind: 'deleteLine' | 'dupLine'; line: number }
  | { kind: 'token'; at: number; word: string }
  | { kind: 'dropToken'; at: number }
  | { kind: 'hex'; at: number; digits: number; prefix: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'collapse'; with: string };

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({
    kind: fc.constant('char' as const),
    at: fc.nat(),
    ch: fc.oneof(
      fc.constantFrom('\n', '\r', '\t', ' ', '\0', '\u001b[2J', '\\', '"', 'é', '\u{1F511}'),
      fc.string({ maxLength: 2 }),
    ),
  }),
  fc.record({ kind: fc.constantFrom('deleteLine' as const, 'dupLine' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('token' as const), at: fc.nat(), word: fc.constantFrom(...XFRM_WORDS) }),
  fc.record({ kind: fc.constant('dropToken' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('hex' as const),
    at: fc.nat(),
    digits: fc.integer({ min: 1, max: 140 }),
    prefix: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('collapse' as const), with: fc.constantFrom('', ' ', '\t') }),
);

function mutateText(seed: string, ms: readonly TextMutation[], rnd: () => number): string {
  let t = seed;
  for (const m of ms) {
    const at = (n: number) => (t.length === 0 ? 0 : n % t.length);
    const lines = () => t.split('\n');
    switch (m.kind) {
      case 'char':
        t = t.slice(0, at(m.at)) + m.ch + t.slice(at(m.at) + 1);
        break;
      case 'deleteLine':
      case 'dupLine': {
        const ls = lines();
        const i = m.line % ls.length;
        if (m.kind === 'deleteLine') ls.splice(i, 1);
        else ls.splice(i, 0, ls[i]!);
        t = ls.join('\n');
        break;
      }
      case 'token':
      case 'dropToken': {
        const words = t.split(/( +|\t|\n)/);
        const i = (m.at % Math.max(1, Math.ceil(words.length / 2))) * 2;
        words[i] = m.kind === 'token' ? m.word : '';
        t = words.join('');
        break;
      }
      case 'hex': {
        const hex = Array.from({ length: m.digits }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
        t = `${t.slice(0, at(m.at))}${m.prefix ? '0x' : ''}${hex}${t.slice(at(m.at))}`;
        break;
      }
      case 'truncate':
        t = t.slice(0, at(m.at));
        break;
      case 'collapse':
        t = t.replace(/\n\s*/g, m.with);
        break;
    }
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Running one case and checking it

/** Every 16-hex-digit window of every key-like hex run in the state text, and each key's base64. */
function keyForms(state: string): string[] {
  const out = new Set<string>();
  for (const m of state.matchAll(/[0-9a-f]{16,}/gi)) {
    const hex = m[0].toLowerCase();
    for (let i = 0; i + 16 <= hex.length; i++) out.add(hex.slice(i, i + 16));
    if (hex.length % 2 === 0) out.add(Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, ''));
  }
  return [...out].filter((f) => f.length >= 16);
}

function leaks(printed: string, state: string): string | null {
  const low = printed.toLowerCase();
  for (const f of keyForms(state)) if (low.includes(f.toLowerCase())) return f;
  return null;
}

class Sink extends Writable {
  chunks: Buffer[] = [];
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function chunked(b: Buffer, sizes: readonly number[]): Buffer[] {
  if (sizes.length === 0) return [b];
  const out: Buffer[] = [];
  let i = 0;
  for (let k = 0; i < b.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

let peakRss = 0;

async function inProcess(pcap: Buffer, state: string, sizes: readonly number[]): Promise<void> {
  const statePath = join(work, 'state.txt');
  writeFileSync(statePath, state);
  const stdout = new Sink();
  const stderr = new Sink();
  const stdin = Readable.from(chunked(pcap, sizes));
  const started = performance.now();
  let code: number = EXIT.ok;
  try {
    await runCapture({ read: '-', write: '-', xfrmState: statePath, decryptEsp: true }, { stdin, stdout, stderr });
  } catch (e) {
    if (!(e instanceof UserError)) throw new Error(`crash: ${(e as Error).stack ?? String(e)}`);
    code = e.exitCode;
    stderr.write(`${e.message}\n`);
  }
  const took = performance.now() - started;
  assert.ok(took < CASE_MS, `case took ${Math.round(took)} ms`);
  assert.ok(ALLOWED.has(code), `exit ${code}`);
  const printed = stderr.text();
  const leaked = leaks(printed, state);
  assert.equal(leaked, null, `key material ${leaked} in: ${printed.slice(0, 2000)}`);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}

function runCli(
  args: string[],
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      join(ROOT, 'bin/kubectl-flannel'),
      args,
      // The hang bound for a whole process: generous, since a loaded 2-core machine takes 20 s to start one.
      { timeout: 120_000, maxBuffer: 1 << 26, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number | string }).code ?? null) : 0;
        const signal = err ? ((err as { signal?: string | null }).signal ?? null) : null;
        resolve({ code: typeof code === 'number' ? code : null, signal, stdout, stderr });
      },
    );
  });
}

async function throughCli(name: string, pcap: Buffer, state: string): Promise<void> {
  const dir = mkdtempSync(join(work, 'cli-'));
  writeFileSync(join(dir, 'in.pcap'), pcap);
  writeFileSync(join(dir, 'state.txt'), state);
  const r = await runCli([
    'capture',
    '-r',
    join(dir, 'in.pcap'),
    '--xfrm-state',
    join(dir, 'state.txt'),
    '--decrypt-esp',
    '-w',
    join(dir, 'out.pcap'),
  ]);
  if (r.code === null || !ALLOWED.has(r.code)) {
    const file = join(REGRESSIONS, `found-cli-${SEED}-${name.replace(/\W+/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ why: `exit ${r.code}`, pcap: pcap.toString('base64'), state }, null, 1)}\n`,
    );
    assert.fail(
      `${name}: exit ${r.code} (${r.signal ?? 'no signal'}); input kept in ${file}: ${r.stderr.slice(0, 500)}`,
    );
  }
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${name}: a stack trace`);
  assert.equal(leaks(r.stdout + r.stderr, state), null, `${name}: key material in ${r.stderr}`);
  rmSync(dir, { recursive: true, force: true });
}

const binCase = (kind: 'pcap' | 'pcapng') =>
  fc.record({
    seed: fc.nat(),
    state: fc.nat(),
    mutations: fc.array(binMutation, { minLength: 1, maxLength: 6 }),
    sizes: fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 4 }),
    kind: fc.constant(kind),
  });

const stateCase = fc.record({
  seed: fc.nat(),
  pcap: fc.nat(),
  mutations: fc.array(textMutation, { minLength: 1, maxLength: 8 }),
  noise: fc.integer({ min: 1, max: 2 ** 30 }),
});

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length]!;
}

function buildBin(c: { seed: number; state: number; mutations: BinMutation[]; kind: 'pcap' | 'pcapng' }) {
  const seed = pick(seeds[c.kind], c.seed);
  return { name: seed.name, pcap: mutateBinary(seed.data, c.mutations), state: pick(seeds.state, c.state) };
}

function buildState(c: { seed: number; pcap: number; mutations: TextMutation[]; noise: number }) {
  let x = c.noise;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  return { pcap: pick(seeds.pcap, c.pcap).data, state: mutateText(pick(seeds.state, c.seed), c.mutations, rnd) };
}

// ---------------------------------------------------------------------------------------------

test('fuzz regressions: every kept case still ends cleanly, in-process and through the CLI', async () => {
  const cases = readdirSync(REGRESSIONS).filter((f) => f.endsWith('.json'));
  assert.ok(cases.length > 0);
  for (const f of cases) {
    const c = JSON.parse(readFileSync(join(REGRESSIONS, f), 'utf8')) as {
      pcap: string;
      state: string;
      why: string;
    };
    const pcap = Buffer.from(c.pcap, 'base64');
    await inProcess(pcap, c.state, []);
    await throughCli(f, pcap, c.state);
  }
});

/**
 * Runs a property; on failure keeps the shrunk input in fuzz-regressions/ (so the first test
 * replays it from then on) and fails naming the file and the seed.
 */
async function fuzz<C>(
  label: string,
  arb: fc.Arbitrary<C>,
  build: (c: C) => { pcap: Buffer; state: string },
  run: (c: C, input: { pcap: Buffer; state: string }) => Promise<void>,
): Promise<void> {
  const r = await fc.check(
    fc.asyncProperty(arb, (c) => run(c, build(c))),
    { numRuns: RUNS, seed: SEED },
  );
  if (!r.failed) return;
  const c = r.counterexample?.[0];
  if (c === undefined) throw new Error(`${label}: property failed without a counterexample (seed ${SEED})`);
  const input = build(c);
  const file = join(REGRESSIONS, `found-${label}-${SEED}.json`);
  const why = String((r.errorInstance as Error | undefined)?.message ?? r.errorInstance).slice(0, 300);
  writeFileSync(
    file,
    `${JSON.stringify({ why, seed: SEED, case: c, pcap: input.pcap.toString('base64'), state: input.state }, null, 1)}\n`,
  );
  assert.fail(`${label}: failed after ${r.numRuns} cases (FUZZ_SEED=${SEED}); input kept in ${file}: ${why}`);
}

for (const kind of ['pcap', 'pcapng'] as const) {
  test(`fuzz: ${RUNS} mutated ${kind} inputs through capture --decrypt-esp (seed ${SEED})`, () =>
    fuzz(kind, binCase(kind), buildBin, (c, i) => inProcess(i.pcap, i.state, c.sizes)));
}

test(`fuzz: ${RUNS} mutated xfrm-state inputs through capture --decrypt-esp (seed ${SEED})`, () =>
  fuzz('xfrm-state', stateCase, buildState, (_c, i) => inProcess(i.pcap, i.state, [])));

test('fuzz: memory stayed bounded over all cases', () => {
  // The inputs are a few kB; a reader that buffered a lying length would grow far past this.
  assert.ok(peakRss < 512 * 1024 * 1024, `peak RSS ${Math.round(peakRss / 2 ** 20)} MB`);
});

test(`fuzz: ${CLI_RUNS} mutated inputs through the real CLI (seed ${SEED})`, async () => {
  const bins = fc.sample(fc.oneof(binCase('pcap'), binCase('pcapng')), {
    numRuns: CLI_RUNS - CLI_RUNS / 3,
    seed: SEED,
  });
  const states = fc.sample(stateCase, { numRuns: CLI_RUNS / 3, seed: SEED });
  const cases = [
    ...bins.map((c, i) => ({ ...buildBin(c), name: `bin ${i}` })),
    ...states.map((c, i) => ({ name: `state ${i}`, ...buildState(c) })),
  ];
  for (let i = 0; i < cases.length; i += 2)
    await Promise.all(cases.slice(i, i + 2).map((c) => throughCli(c.name, c.pcap, c.state)));
});
