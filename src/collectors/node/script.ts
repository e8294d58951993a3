/**
 * A node's whole command plan as one POSIX shell script, so collecting a node costs one exec
 * session instead of one per command (issue 13: 20,000 sessions through the API server for 1,000
 * nodes). The script runs each command's forms on the node in order and falls back there, as
 * host.ts would: to the next form when one exits non-zero (not for a missing tool, a timeout or
 * an "empty" stderr) or when a JSON form printed something that is not JSON. It prints every
 * result between marker lines carrying a per-run nonce; `parseScriptOutput` reads them back as
 * the CommandResults a per-command runner would have returned.
 *
 * host.ts still decides what each result means (parsing, fallback on a parse error): a result
 * it wants that the script did not produce is run on its own, so a wrong guess on the node costs
 * one more exec, never a different answer.
 */
import { randomBytes } from 'node:crypto';
import type { ParseResult } from '../../parse/issue.js';
import type { NodeCommand } from './commands.js';
import type { CommandResult, CommandRunner } from './runner.js';

export interface ScriptStep {
  readonly command: NodeCommand<unknown>;
  /** Run only when every one of these commands found no tool (exit 126/127). */
  readonly ifAllMissing?: readonly string[];
  /**
   * A shell test run on the node first; when it succeeds the step is skipped (e.g. the per-peer
   * `ip route get`s where `ip -batch` works, because the batch answers them).
   */
  readonly unless?: string;
}

export interface NodeScript {
  readonly argv: readonly string[];
  readonly nonce: string;
  /** argv of every form, by the index the script's markers use. */
  readonly forms: readonly (readonly string[])[];
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Exit codes after which a form's next form is not tried: missing tool, timeout. */
const FINAL = [126, 127, 124];

export function buildNodeScript(steps: readonly ScriptStep[], timeoutMs: number): NodeScript {
  const nonce = randomBytes(12).toString('hex');
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  const forms: (readonly string[])[] = [];
  const lines = [
    `M='@@kf-${nonce}'`,
    // stderr goes through a file; stdout stays in memory (a shell variable): it can hold key material
    // (`wg show all dump`, `ip xfrm state`), which must never be written to the node's disk.
    'd=$(mktemp -d 2>/dev/null || mktemp -d -p /dev/shm 2>/dev/null)',
    'if [ -z "$d" ] || [ ! -d "$d" ]; then echo "$M notmp"; exit 0; fi',
    `trap 'rm -rf "$d"' EXIT`,
    // `timeout` (coreutils or busybox) when it takes this syntax; else commands run unbounded and
    // the exec's own deadline stands.
    'T=; if command -v timeout >/dev/null 2>&1 && timeout 5 true >/dev/null 2>&1; then T=timeout; fi',
    // Centiseconds from /proc/uptime: read is a builtin, no process per timestamp.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template.
    'cs() { c=0; if read u _ </proc/uptime 2>/dev/null; then c=${u%.*}${u#*.}; c=${c#0}; fi; }',
    's() {',
    '  i=$1; shift; cs; a=$c',
    // The trailing x keeps the trailing newlines command substitution would strip.
    `  o=$(if [ -n "$T" ]; then $T ${secs} "$@" 2>"$d/e" </dev/null; else "$@" 2>"$d/e" </dev/null; fi; r=$?; echo x; exit $r)`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template.
    '  r=$?; o=${o%x}; cs',
    // stderr is printed by the shell's own read, not `cat`: a process per command was a third of the
    // script's CPU (measured: cat 1.8 ms, the command itself about 2 ms). The last line may lack its newline.
    `  echo "$M out $i"; printf '%s\\n' "$o"; echo "$M err $i"; l=; while IFS= read -r l; do printf '%s\\n' "$l"; done <"$d/e"; printf '%s' "$l"; echo; echo "$M end $i $r $(( (c - a) * 10 ))"`,
    '}',
    // Whether form `$1` should give way to the next: non-zero and not final, or JSON expected and not printed.
    'next() {',
    `  case $r in ${FINAL.join('|')}) return 1;; esac`,
    '  if [ "$r" -ne 0 ]; then if [ -n "$2" ] && grep -qiE "$2" "$d/e"; then return 1; fi; return 0; fi',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template.
    '  t=${o#"${o%%[![:space:]]*}"}',
    `  if [ "$1" = json ]; then case $t in '['*|'{'*) ;; *) return 0;; esac; fi`,
    '  return 1',
    '}',
  ];
  const tested = new Map<string, string>();
  for (const step of steps) {
    const cmd = step.command;
    const empty = cmd.emptyWhen ? quote(cmd.emptyWhen.source) : "''";
    const first = forms.length;
    for (const f of cmd.forms) forms.push(f.argv);
    const chain = cmd.forms.map((form, k) => {
      const run = `s ${first + k} ${form.argv.map(quote).join(' ')}`;
      // Each `next` looks at the form before this one.
      return k === 0 ? run : `if next ${kindOf(cmd.forms[k - 1]!.id)} ${empty}; then ${run}`;
    });
    let text = chain.join('; ') + '; fi'.repeat(cmd.forms.length - 1);
    if (step.ifAllMissing?.length) {
      const tests = step.ifAllMissing.map((id) => `case "$r_${variable(id)}" in 126|127) ;; *) x=0;; esac`);
      text = `x=1; ${tests.join('; ')}; if [ $x = 1 ]; then ${text}; fi`;
    }
    if (step.unless) {
      // Each distinct test runs once per script, however many steps it guards.
      let v = tested.get(step.unless);
      if (v === undefined) {
        v = `u${tested.size}`;
        tested.set(step.unless, v);
        lines.push(`if ${step.unless}; then ${v}=1; else ${v}=0; fi`);
      }
      text = `if [ $${v} = 1 ]; then :; else ${text}; fi`;
    }
    // What the command's last form exited with, for the steps that depend on it.
    lines.push(`r=; ${text}; r_${variable(cmd.id)}=$r`);
  }
  lines.push('echo "$M done"');
  return { argv: ['sh', '-c', lines.join('\n')], nonce, forms };
}

const kindOf = (formId: string) => (formId.endsWith(':json') ? 'json' : 'text');
const variable = (id: string) => id.replace(/[^A-Za-z0-9]/g, '_');

/**
 * The results the script printed, by argv (joined with NUL). A result whose end marker is
 * missing (output cut, script killed) is left out: host.ts runs that command on its own.
 */
export function parseScriptOutput(script: NodeScript, stdout: string): Map<string, CommandResult> {
  const out = new Map<string, CommandResult>();
  const m = `@@kf-${script.nonce}`;
  const re = new RegExp(
    `${m} out (\\d+)\\n([\\s\\S]*?)\\n${m} err \\1\\n([\\s\\S]*?)\\n${m} end \\1 (\\d+) (-?\\d+)\\n`,
    'g',
  );
  for (const match of stdout.matchAll(re)) {
    const argv = script.forms[Number(match[1])];
    if (!argv) continue;
    const code = Number(match[4]);
    const base = { argv, stdout: match[2]!, stderr: match[3]!, durationMs: Math.max(0, Number(match[5])) };
    out.set(
      argv.join('\0'),
      code === 124
        ? { ...base, exitCode: null, timedOut: true, error: 'timed out on the node' }
        : { ...base, exitCode: code },
    );
  }
  return out;
}

/**
 * Runs the script in one exec and returns a runner that answers from its results. A command
 * the script did not answer (output cut, an unexpected fallback, no temp dir on the node) runs
 * on its own; so does a missing tool when the runner re-runs those elsewhere (a helper pod).
 */
export async function scripted(
  inner: CommandRunner,
  steps: readonly ScriptStep[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<CommandRunner> {
  const script = buildNodeScript(steps, timeoutMs);
  // The script's commands each have `timeoutMs` on the node; the exec as a whole gets a few of those.
  const res = await runSafely(inner, script.argv, { timeoutMs: timeoutMs * 4, ...(signal ? { signal } : {}) });
  const results = parseScriptOutput(script, res.stdout);
  const rerunMissing = inner.shell?.rerunMissingTools === true;
  return {
    description: inner.description,
    run(argv, o) {
      const r = results.get(argv.join('\0'));
      if (!r || (rerunMissing && (r.exitCode === 126 || r.exitCode === 127))) return inner.run(argv, o);
      return Promise.resolve(r);
    },
  };
}

/** A runner that throws (a transport error) gives a failed result instead. */
export async function runSafely(
  runner: CommandRunner,
  argv: readonly string[],
  o: { timeoutMs: number; signal?: AbortSignal },
): Promise<CommandResult> {
  try {
    return await runner.run(argv, o);
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { argv, exitCode: null, stdout: '', stderr: '', durationMs: 0, error: `runner error: ${message}` };
  }
}

/** A one-form command whose output is taken as printed, for a script step outside the collector's plan. */
export function textCommand(id: string, argv: readonly string[]): NodeCommand<string> {
  return {
    id,
    forms: [{ id: `${id}:text`, argv, parse: (s): ParseResult<string> => ({ value: s, errors: [] }) }],
    optional: false,
  };
}
