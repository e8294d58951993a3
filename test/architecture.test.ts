// The data flow as a rule: cluster → collectors → snapshot → analyzers → findings → renderers, and nothing
// imports upward. Every import in src/ is read and checked against the layer table below.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

/**
 * The layers, lowest first, each with the layers it may import (its own is always allowed).
 * - base: errors.ts (exit codes and UserError: what any layer raises when the user's input is wrong; it imports
 *   nothing and prints nothing, the CLI alone turns it into a line and an exit code), version.ts, node-floor.ts (the
 *   oldest Node the npm package runs on), net/ (CIDR math),
 *   files.ts (size-limited reads of user-named files, same-file tests), neutralise.ts (control characters shown
 *   escaped in anything printed).
 * - snapshot: the versioned data every later stage reads, its file I/O, and the progress events collection emits.
 * - parse: command text → snapshot types; knows nothing of how the text was obtained.
 * - kube: the API client and exec transport; knows nothing of what is collected.
 * - collectors: run the commands (kube exec or local), parse them, build the snapshot.
 * - analyzers: pure functions of a snapshot: not of the parsers, the API or the collectors.
 * - render: findings and progress to text; not the collectors (progress types live in snapshot).
 * - bundle, capture: side branches that read a snapshot or the parsers; neither sees the other or analysis.
 *   bundle and commands may use parse's redactors (parse/redact/): a saved snapshot or bundle file is redacted
 *   again on the way out, with the same per-format allowlists collection used.
 * - live: live capture and probes: tcpdump reached the collectors' way (flannel pod, helper pod) feeding capture's
 *   pipeline; doctor --probe's result goes into the snapshot like any collected part.
 * - commands: wire options to the layers below; a command module never imports another (shared: options.ts).
 * - cli: registers the commands.
 */
const LAYERS: readonly { readonly name: string; readonly may: readonly string[] }[] = [
  { name: 'base', may: [] },
  { name: 'snapshot', may: ['base'] },
  { name: 'parse', may: ['base', 'snapshot'] },
  { name: 'kube', may: ['base', 'snapshot'] },
  { name: 'collectors', may: ['base', 'snapshot', 'parse', 'kube'] },
  { name: 'analyzers', may: ['base', 'snapshot'] },
  { name: 'render', may: ['base', 'snapshot', 'analyzers'] },
  { name: 'bundle', may: ['base', 'snapshot', 'parse'] },
  { name: 'capture', may: ['base', 'snapshot', 'parse'] },
  { name: 'live', may: ['base', 'snapshot', 'parse', 'kube', 'collectors', 'capture'] },
  {
    name: 'commands',
    may: ['base', 'snapshot', 'parse', 'kube', 'collectors', 'analyzers', 'render', 'bundle', 'capture', 'live'],
  },
  { name: 'cli', may: ['base', 'commands'] },
];

/** The layer of a path relative to src/ (e.g. "analyzers/run.ts"). */
function layerOf(path: string): string {
  if (
    ['errors.ts', 'version.ts', 'node-floor.ts', 'files.ts', 'neutralise.ts'].includes(path) ||
    path.startsWith('net/')
  )
    return 'base';
  if (path === 'cli.ts') return 'cli';
  const top = path.split('/')[0]!;
  if (!path.includes('/') || !LAYERS.some((l) => l.name === top)) throw new Error(`src/${path} is in no layer`);
  return top;
}

/** Relative module specifiers of every static import, re-export and dynamic import() in a module. */
function importsOf(text: string): string[] {
  const out: string[] = [];
  // Statements begin a line (Biome formats them so); `[^;]*?` spans multi-line import lists.
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out.filter((s) => s.startsWith('.'));
}

const isCommandModule = (text: string) => /^export function register[A-Z]/m.test(text);

/** Every import that runs against the table, as "from → to (why)". `files` maps src-relative paths to text. */
function violations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [path, text] of files) {
    const from = layerOf(path);
    const allowed = LAYERS.find((l) => l.name === from)!.may;
    for (const spec of importsOf(text)) {
      const target = normalize(join(dirname(path), spec)).replace(/\.js$/, '.ts');
      if (target.startsWith('..')) {
        out.push(`src/${path} → ${spec} (outside src/)`);
        continue;
      }
      const resolved = files.has(target) ? target : files.has(target.replace(/\.ts$/, '.tsx')) ? `${target}x` : null;
      if (!resolved) {
        out.push(`src/${path} → ${spec} (no such module)`);
        continue;
      }
      const to = layerOf(resolved);
      if (to !== from && !allowed.includes(to))
        out.push(`src/${path} → src/${resolved} (${from} may not import ${to})`);
      if (from === 'commands' && to === 'commands' && isCommandModule(files.get(resolved)!))
        out.push(`src/${path} → src/${resolved} (a command imports another command; share through options.ts)`);
    }
  }
  return out;
}

function sourceFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(e.name)) files.set(relative('src', p), readFileSync(p, 'utf8'));
    }
  };
  walk('src');
  return files;
}

test('the layer table only lets a layer import layers listed before it (so it has no cycle)', () => {
  LAYERS.forEach((l, i) => {
    for (const m of l.may) {
      const j = LAYERS.findIndex((x) => x.name === m);
      assert.ok(j >= 0 && j < i, `${l.name} may import ${m}, which is not below it`);
    }
  });
});

test('every module in src/ imports only from layers below it', () => {
  const files = sourceFiles();
  assert.ok(files.size > 100, `read ${files.size} modules`);
  let imports = 0;
  for (const text of files.values()) imports += importsOf(text).length;
  assert.ok(imports > 300, `found ${imports} relative imports: the import reader works`);
  assert.deepEqual(violations(files), []);
});

test('the rule catches an upward import, a command importing a command, and a multi-line import', () => {
  const files = new Map([
    ['snapshot/types.ts', 'export type S = 1;\n'],
    ['collectors/host.ts', "import type { S } from '../snapshot/types.js';\nexport const h = 1;\n"],
    ['render/progress.tsx', "import {\n  type a,\n  b,\n} from '../collectors/host.js';\n"],
    ['analyzers/run.ts', "export async function f() {\n  return import('../collectors/host.js');\n}\n"],
    ['commands/doctor.ts', 'export function registerDoctor() {}\n'],
    ['commands/trace.ts', "import { x } from './doctor.js';\nexport function registerTrace() {}\n"],
  ]);
  assert.deepEqual(violations(files).sort(), [
    'src/analyzers/run.ts → src/collectors/host.ts (analyzers may not import collectors)',
    'src/commands/trace.ts → src/commands/doctor.ts (a command imports another command; share through options.ts)',
    'src/render/progress.tsx → src/collectors/host.ts (render may not import collectors)',
  ]);
});
/**
 * Module-level state that a check could write: `let`/`var`, a Map/Set/WeakMap/WeakSet not typed read-only, a
 * regex with the g or y flag (its lastIndex carries over). The runner hands checks their context instead.
 */
function moduleState(text: string): string[] {
  const lines = text.split('\n');
  return lines.filter((l) => {
    if (/^(export )?(let|var) /.test(l)) return true;
    const collection = /^(export )?const \w+\s*(?::\s*([^=]+))?=\s*new (Weak)?(Map|Set)\b/.exec(l);
    if (collection && !collection[2]?.trim().startsWith('Readonly')) return true;
    return /^(export )?const \w+[^=]*=\s*\/.*\/[a-z]*[gy][a-z]*;?$/.test(l);
  });
}

test('src/analyzers keeps no module-level mutable state', () => {
  const found: string[] = [];
  for (const [path, text] of sourceFiles())
    if (layerOf(path) === 'analyzers') for (const l of moduleState(text)) found.push(`src/${path}: ${l}`);
  assert.deepEqual(found, []);
  assert.deepEqual(
    moduleState(
      [
        'const cache = new WeakMap<Model, X>();',
        'let n = 0;',
        'const RE = /a/g;',
        "const OK: ReadonlySet<string> = new Set(['a']);",
        'const R = /a/i;',
      ].join('\n'),
    ),
    ['const cache = new WeakMap<Model, X>();', 'let n = 0;', 'const RE = /a/g;'],
  );
});
