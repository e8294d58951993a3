// Every command's --help ends its option list with the exit codes it can end with: exactly these codes,
// in order, each with what it means (README: "Exit codes").

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const help = (args: string[]) => {
  const r = spawnSync('bin/kubectl-flannel', [...args, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

/** The codes listed under "Exit codes:", in the order printed. */
function exitCodes(text: string): number[] {
  const section = /\nExit codes:\n((?: {2}\d+ {2}\S.*\n?)+)/.exec(text);
  assert.ok(section, `no "Exit codes:" section in:\n${text}`);
  return section[1]!
    .trim()
    .split('\n')
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

const EXPECTED: Record<string, number[]> = {
  doctor: [0, 1, 2, 3, 4, 5, 6],
  trace: [0, 2, 3, 4, 5],
  bundle: [0, 3, 4, 5],
  checks: [0, 3, 5],
  capture: [0, 3, 4, 5],
  cleanup: [0, 3, 4, 5],
  completion: [0, 3, 5],
  version: [0, 3, 5],
};

test('the top-level --help lists every exit code', () => {
  assert.deepEqual(exitCodes(help([])), [0, 1, 2, 3, 4, 5, 6]);
});

test('every command listed in --help documents its exit codes', () => {
  const commands = [...help([]).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  assert.deepEqual([...commands].sort(), Object.keys(EXPECTED).sort(), 'a command without an expectation here');
  for (const c of commands) assert.deepEqual(exitCodes(help([c])), EXPECTED[c], `${c} --help`);
});
