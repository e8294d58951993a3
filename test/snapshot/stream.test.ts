// The streamed analysis (doctor --from: host by host as the file is read) against the whole-file one
// (JSON.parse, validate, analyse): the same report, to the byte, on every fixture, the bundled example,
// other key orders and chunk sizes down to one byte; every file the whole read refuses is refused by the
// streaming reader too (the caller then reads it whole for the message), and none it accepts falls back.
// The fuzz corpus goes through the same comparison in test/snapshot/fuzz.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyze } from '../../src/analyzers/run.js';
import { analyzeChunks, analyzeFromFile } from '../../src/commands/analyze-from.js';
import { exitCodeFor } from '../../src/commands/doctor.js';
import { UserError } from '../../src/errors.js';
import { buildReport } from '../../src/render/report.js';
import { renderJSON } from '../../src/render/structured.js';
import { styleFor } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import { parseSnapshot } from '../../src/snapshot/io.js';
import { NotStreamable } from '../../src/snapshot/stream.js';

const FILES = [
  'fixtures/example/broken-vxlan.json',
  ...readdirSync('fixtures/snapshots')
    .flatMap((b) => readdirSync(`fixtures/snapshots/${b}`).map((f) => `fixtures/snapshots/${b}/${f}`))
    .filter((f) => f.endsWith('.json'))
    .sort(),
];

type Report = ReturnType<typeof buildReport>;
const rendered = (r: Report) =>
  `${renderJSON(r)}\n${renderText(r, styleFor({ isTTY: false }, {}, true), 120)}\nexit ${exitCodeFor(r, 'warning')}`;

function whole(text: string): string {
  const snapshot = parseSnapshot(text, 'x.json');
  return rendered(buildReport(snapshot, analyze(snapshot)));
}

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function streamed(text: string, size = 4096): Promise<string> {
  const { snapshot, result } = await analyzeChunks(chunked(Buffer.from(text), size), {});
  return rendered(buildReport(snapshot, result));
}

test('every fixture and the bundled example: the streamed report is the whole-file report', async () => {
  assert.ok(FILES.length > 50);
  for (const f of FILES) {
    const text = readFileSync(f, 'utf8');
    assert.equal(await streamed(text), whole(text), f);
  }
});

test('chunks of 1, 3 and 64 bytes, compact JSON and hosts before the cluster: the same report', async () => {
  const text = readFileSync('fixtures/example/broken-vxlan.json', 'utf8');
  const want = whole(text);
  for (const size of [1, 3, 64]) assert.equal(await streamed(text, size), want, `chunks of ${size}`);
  const v = JSON.parse(text);
  assert.equal(await streamed(JSON.stringify(v), 7), want, 'compact');
  const { hosts, ...rest } = v;
  const hostsFirst = JSON.stringify({ hosts, ...rest });
  assert.ok(hostsFirst.startsWith('{"hosts":'));
  assert.equal(await streamed(hostsFirst, 5), whole(hostsFirst), 'hosts first');
  assert.equal(whole(hostsFirst), want);
});

test('strings with quotes, backslashes and brackets inside, split at every byte: the same report', async () => {
  const v = JSON.parse(readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8'));
  const name = Object.keys(v.hosts)[0]!;
  // A raw command's output is free text: make it the worst case for a byte scanner.
  const raw = v.hosts[name].data.raw as { stdout: string }[] | undefined;
  assert.ok(Array.isArray(raw) && raw.length > 0, 'the fixture keeps raw command output');
  raw[0]!.stdout = 'a "quoted" } ] \\ {[ \\" \\\\" end\\';
  v.source.description = '}]"\\{[';
  const text = JSON.stringify(v, null, 1);
  assert.equal(await streamed(text, 1), whole(text));
  assert.equal(await streamed(text, 2), whole(text));
});

/** The bytes, when the whole read refuses them: the streaming reader must refuse them too. */
const REFUSED: readonly [string, string][] = [
  ['not JSON', '{"schemaVersion": 1,'],
  ['trailing garbage', `${readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8')} x`],
  ['an array', '[]'],
  ['no schemaVersion', '{"hosts": {}}'],
  ['a wrong schemaVersion', '{"schemaVersion": 99}'],
  ['a BOM', `\ufeff${readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8')}`],
];

test('what the whole read refuses, the streaming reader refuses (and the message is the whole read’s)', async () => {
  const v = JSON.parse(readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8'));
  const name = Object.keys(v.hosts)[0]!;
  const badRoute = structuredClone(v);
  badRoute.hosts[name].data.routes.data[3].dst = 7;
  const noErrors = structuredClone(v);
  delete noErrors.errors;
  const badHost = structuredClone(v);
  badHost.hosts[name] = { status: 'ok' };
  const cases: [string, string][] = [
    ...REFUSED,
    ['a wrong route dst', JSON.stringify(badRoute)],
    ['no errors', JSON.stringify(noErrors)],
    ['a host without data', JSON.stringify(badHost)],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'kf-stream-'));
  try {
    for (const [what, text] of cases) {
      assert.throws(() => parseSnapshot(text, 'x.json'), UserError, what);
      await assert.rejects(streamed(text, 11), NotStreamable, what);
      // doctor --from: the whole read's own line, naming the file and the JSON path.
      const file = join(dir, 'bad.json');
      writeFileSync(file, text);
      const want = (() => {
        try {
          parseSnapshot(text, file);
        } catch (e) {
          return (e as Error).message;
        }
      })();
      await assert.rejects(analyzeFromFile(file, {}), (e: Error) => e instanceof UserError && e.message === want);
    }
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(badRoute));
    await assert.rejects(analyzeFromFile(file, {}), {
      message: `${file} is not a valid snapshot: hosts.${name}.data.routes.data[3].dst: expected string, got number 7`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('duplicate host keys (JSON.parse keeps the last) are read whole, with the same report', async () => {
  const text = readFileSync('fixtures/snapshots/vxlan/healthy.json', 'utf8');
  const v = JSON.parse(text);
  const name = Object.keys(v.hosts)[0]!;
  const host = JSON.stringify(v.hosts[name]);
  const failed = JSON.stringify({ status: 'failed', error: 'exec: timeout' });
  const dup = JSON.stringify(v).replace(`"hosts":{`, `"hosts":{${JSON.stringify(name)}:${failed},`);
  assert.ok(dup.includes(host));
  await assert.rejects(streamed(dup), NotStreamable);
  const dir = mkdtempSync(join(tmpdir(), 'kf-stream-'));
  try {
    const file = join(dir, 'dup.json');
    writeFileSync(file, dup);
    const { snapshot, result } = await analyzeFromFile(file, {});
    assert.equal(rendered(buildReport(snapshot, result)), whole(dup));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
