// Snapshot fuzzing: every backend's healthy fixture, mutated (fields deleted, nulled, retyped, huge or
// negative numbers, odd strings, control characters, duplicated nodes and entries), goes through what
// `doctor --from` does: parse, validate, analyse, report, render. Each case must end in a documented
// exit code with no exception, within a time bound, and with no raw control character in the text.
// 2,000+ cases in-process, a few dozen through the real CLI binary. A failing case prints its fixture
// and mutations as JSON: add it to fuzz-regressions.json, which is replayed first on every run.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { analyze } from '../../src/analyzers/run.js';
import { analyzeChunks } from '../../src/commands/analyze-from.js';
import { exitCodeFor } from '../../src/commands/doctor.js';
import { EXIT, UserError } from '../../src/errors.js';
import { neutralise } from '../../src/neutralise.js';
import { buildReport } from '../../src/render/report.js';
import { renderJSON } from '../../src/render/structured.js';
import { styleFor } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import { parseSnapshot } from '../../src/snapshot/io.js';
import { NotStreamable } from '../../src/snapshot/stream.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = readonly (string | number)[];
type Mutation =
  | { readonly op: 'delete' | 'null' | 'duplicate'; readonly path: Path }
  | { readonly op: 'set'; readonly path: Path; readonly value: Json };
interface Case {
  readonly fixture: string;
  readonly mutations: readonly Mutation[];
}

const DOCUMENTED = new Set<number>(Object.values(EXIT).filter((c) => c !== EXIT.runtime && c !== EXIT.cluster));
// Raw C0 (but newline and tab), DEL and C1: what the text output must never carry from the data.
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const CASE_BUDGET_MS = 5000;

const FIXTURES = readdirSync('fixtures/snapshots')
  .filter((b) => readdirSync(`fixtures/snapshots/${b}`).includes('healthy.json'))
  .sort();
const TEXT = new Map(FIXTURES.map((b) => [b, readFileSync(`fixtures/snapshots/${b}/healthy.json`, 'utf8')]));

/** Every path in the tree; command output under `raw` is one leaf per command, not thousands. */
function pathsOf(v: Json, path: Path = [], out: Path[] = []): Path[] {
  if (path.length) out.push(path);
  if (path.at(-2) === 'raw') return out;
  if (Array.isArray(v)) v.forEach((e, i) => pathsOf(e, [...path, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) pathsOf(v[k]!, [...path, k], out);
  return out;
}
const PATHS = new Map(FIXTURES.map((b) => [b, pathsOf(JSON.parse(TEXT.get(b)!))]));

const ODD_STRINGS = [
  '',
  ' ',
  '::',
  '0.0.0.0/0',
  '10.0.0.0/33',
  '256.256.256.256',
  '10.244.1.0/-1',
  'fe80::1%eth0',
  '::ffff:10.0.0.1/128',
  'ff:ff:ff:ff:ff:ff',
  'null',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  'x'.repeat(5000),
  'ñ€😀',
  '\u001b]0;owned\u0007',
  '\u001b[2J\u001b[31mred',
  '\u009b31m',
  'line\r\nforged: line',
  '\u0000',
  '\u202eevil',
];
const ODD_NUMBERS = [0, -1, -65536, 0.5, 1e308, -1e308, 2 ** 53 + 2, 4294967296, 65536, Number.MIN_VALUE];

const valueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(...ODD_STRINGS),
  fc.constantFrom<Json>(...ODD_NUMBERS),
  fc.constantFrom<Json>(true, false, [], {}, [null], { status: 'ok' }, { status: 'failed', error: '\u001b[31m' }),
  fc.string({ maxLength: 12 }),
  fc.integer(),
);

function mutationArb(fixture: string): fc.Arbitrary<Mutation> {
  const paths = PATHS.get(fixture)!;
  const path = fc.nat({ max: paths.length - 1 }).map((i) => paths[i]!);
  return fc.oneof(
    fc.record({ op: fc.constantFrom('delete' as const, 'null' as const, 'duplicate' as const), path }),
    fc.record({ op: fc.constant('set' as const), path, value: valueArb }),
    // Duplicate nodes, the case flanneld itself never produces.
    fc.constant<Mutation>({ op: 'duplicate', path: ['cluster', 'nodes', 'data', 0] }),
  );
}

const caseArb: fc.Arbitrary<Case> = fc.constantFrom(...FIXTURES).chain((fixture) =>
  fc.record({
    fixture: fc.constant(fixture),
    mutations: fc.array(mutationArb(fixture), { minLength: 1, maxLength: 4 }),
  }),
);

function apply(root: Json, m: Mutation): void {
  let parent: Json = root;
  for (const k of m.path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return;
    parent = (parent as Record<string | number, Json>)[k] ?? null;
  }
  if (parent === null || typeof parent !== 'object') return;
  const key = m.path.at(-1)!;
  const p = parent as Record<string | number, Json>;
  if (!(key in p)) return;
  if (m.op === 'delete') {
    if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
    else delete p[key];
  } else if (m.op === 'null') p[key] = null;
  else if (m.op === 'set') p[key] = m.value;
  else if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 0, structuredClone(parent[key]!));
}

function mutated(c: Case): string {
  const root = JSON.parse(TEXT.get(c.fixture)!) as Json;
  for (const m of c.mutations) apply(root, m);
  return JSON.stringify(root);
}

/** What `doctor --from` does with the text, in-process: the exit code and everything it would print. */
function doctor(text: string): { code: number; out: string } {
  let snapshot: ReturnType<typeof parseSnapshot>;
  try {
    snapshot = parseSnapshot(text, 'fuzz.json');
  } catch (e) {
    // As cli.ts prints it.
    if (e instanceof UserError) return { code: e.exitCode, out: `kubectl-flannel: ${neutralise(e.message)}\n` };
    throw e;
  }
  const report = buildReport(snapshot, analyze(snapshot));
  const out = renderText(report, styleFor({ isTTY: false }, {}, true));
  renderJSON(report);
  return { code: exitCodeFor(report, 'warning'), out };
}

function check(c: Case): number {
  const started = performance.now();
  let result: { code: number; out: string };
  try {
    result = doctor(mutated(c));
  } catch (e) {
    assert.fail(`crash (${(e as Error).stack}) on case ${JSON.stringify(c)}`);
  }
  const ms = performance.now() - started;
  assert.ok(ms < CASE_BUDGET_MS, `took ${Math.round(ms)} ms: ${JSON.stringify(c)}`);
  assert.ok(DOCUMENTED.has(result.code), `exit ${result.code}: ${JSON.stringify(c)}`);
  assert.ok(!RAW_CONTROL.test(result.out), `raw control character in output: ${JSON.stringify(c)}`);
  if (/check \S+ failed: /.test(result.out)) checkFailures.push(c);
  return result.code;
}

/** Cases where a check threw on a snapshot the schema accepted: exit 6 is honest, but each is a check bug to fix. */
const checkFailures: Case[] = [];

const REGRESSIONS = JSON.parse(readFileSync('test/snapshot/fuzz-regressions.json', 'utf8')) as Case[];

test('fuzz regressions: every kept case still ends in a documented exit', () => {
  assert.ok(REGRESSIONS.length > 0);
  for (const c of REGRESSIONS) check(c);
});

test('2,000 mutated snapshots over every backend: no crash, documented exit, bounded time, no raw control character', () => {
  let ran = 0;
  const seen = new Map<number, number>();
  fc.assert(
    fc.property(caseArb, (c) => {
      const code = check(c);
      ran++;
      seen.set(code, (seen.get(code) ?? 0) + 1);
    }),
    { numRuns: 2000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
  );
  assert.equal(ran, 2000);
  console.log(
    `exit codes: ${JSON.stringify(Object.fromEntries(seen))}; a check threw in ${checkFailures.length} cases`,
  );
  for (const c of checkFailures.slice(0, 5)) console.log(`  check threw: ${JSON.stringify(c)}`);
  // The mutations must reach both sides of the boundary: refused inputs and analysed ones.
  assert.ok((seen.get(EXIT.usage) ?? 0) > 100, `refused: ${JSON.stringify([...seen])}`);
  assert.ok(
    [EXIT.ok, EXIT.errors, EXIT.warnings, EXIT.incomplete].reduce((n: number, k) => n + (seen.get(k) ?? 0), 0) > 100,
    `analysed: ${JSON.stringify([...seen])}`,
  );
});

test('the corpus and 300 mutated snapshots: the streamed analysis reports as the whole-file one, or refuses what it refuses', async () => {
  const rendered = (r: ReturnType<typeof buildReport>) =>
    `${renderJSON(r)}\n${renderText(r, styleFor({ isTTY: false }, {}, true))}\nexit ${exitCodeFor(r, 'warning')}`;
  const cases = [...REGRESSIONS, ...fc.sample(caseArb, { numRuns: 300, seed: Number(process.env.FUZZ_SEED ?? 13) })];
  let refused = 0;
  for (const c of cases) {
    const text = mutated(c);
    let want: string | null = null;
    try {
      const snapshot = parseSnapshot(text, 'fuzz.json');
      want = rendered(buildReport(snapshot, analyze(snapshot)));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
    }
    // Odd chunk sizes: boundaries fall inside keys, strings and escapes.
    const chunks = (async function* () {
      const bytes = Buffer.from(text);
      for (let i = 0; i < bytes.length; i += 997) yield bytes.subarray(i, i + 997);
    })();
    if (want === null) {
      refused++;
      await assert.rejects(analyzeChunks(chunks, {}), NotStreamable, JSON.stringify(c));
      continue;
    }
    const { snapshot, result } = await analyzeChunks(chunks, {});
    assert.equal(rendered(buildReport(snapshot, result)), want, JSON.stringify(c));
  }
  assert.ok(refused > 20 && refused < cases.length - 20, `both sides: ${refused} of ${cases.length} refused`);
});

test('two dozen mutated snapshots through the real CLI binary', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kf-fuzz-'));
  const cases = fc.sample(caseArb, { numRuns: 24, seed: 8 });
  const runOne = async (c: Case, i: number) => {
    const file = join(dir, `case-${i}.json`);
    writeFileSync(file, mutated(c));
    const r = await run('bin/kubectl-flannel', ['doctor', '--from', file, '--fail-on', 'warning']);
    assert.ok(r.status !== null && DOCUMENTED.has(r.status), `exit ${r.status} ${r.stderr}: ${JSON.stringify(c)}`);
    assert.equal(r.status, doctor(mutated(c)).code, 'the CLI and the in-process path agree');
    assert.ok(!RAW_CONTROL.test(r.stdout + r.stderr), `raw control character: ${JSON.stringify(c)}`);
    assert.ok(!/\n\s+at /.test(r.stderr), `stack trace: ${r.stderr}`);
  };
  // Four at a time: each is mostly Node's start-up.
  for (let i = 0; i < cases.length; i += 4) await Promise.all(cases.slice(i, i + 4).map((c, j) => runOne(c, i + j)));
});

function run(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1', KUBECTL_FLANNEL_DEBUG: '' } },
      (err, stdout, stderr) =>
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}
