/**
 * Shell completion. kubectl (1.26+) completes plugin arguments by running
 * `kubectl_complete-flannel ARGS… WORD` (bin/kubectl_complete-flannel calls `__complete` here)
 * and reading Cobra's protocol: one candidate per line (`value\tdescription`), then
 * `:<directive>` (4 = no file completion, 0 = default, files allowed).
 *
 * Candidates come from the commander tree, so new commands and flags complete without changes
 * here; --context comes from the kubeconfig and --node from the cluster (bounded to 3 s).
 */
import type { Command, Option } from 'commander';
import { EXIT } from '../errors.js';
import { addExitCodes } from './exit-codes.js';

const NO_FILE = 4;
const DEFAULT = 0;
const FILE_FLAGS = new Set(['--kubeconfig', '--from', '--save']);

function longName(o: Option): string {
  return o.long ?? o.short ?? '';
}

function findOption(cmd: Command, word: string): Option | undefined {
  return cmd.options.find((o) => o.long === word || o.short === word);
}

function optionValue(args: readonly string[], names: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const n of names) {
      if (a === n) return args[i + 1];
      if (a.startsWith(`${n}=`)) return a.slice(n.length + 1);
    }
  }
  return undefined;
}

async function valuesFor(flag: string, args: readonly string[]): Promise<string[]> {
  const kube = { kubeconfig: optionValue(args, ['--kubeconfig']), context: optionValue(args, ['--context']) };
  try {
    // Loaded on use, not at start: the Kubernetes client and ink are most of the start-up time (bench/startup.sh).
    const [{ KubeClient }, { loadKubeConfig, readKubeConfigFiles }] = await Promise.all([
      import('../kube/client.js'),
      import('../kube/kubeconfig.js'),
    ]);
    if (flag === '--context')
      return readKubeConfigFiles({ kubeconfig: kube.kubeconfig })
        .kc.getContexts()
        .map((c) => c.name);
    if (flag === '--node') {
      const cfg = loadKubeConfig(kube);
      return (await new KubeClient(cfg.kc, 3000).listNodes()).map((n) => n.metadata?.name ?? '').filter(Boolean);
    }
  } catch {
    // Completion must never print errors into the user's command line.
  }
  return [];
}

export async function complete(program: Command, words: readonly string[]): Promise<string> {
  const args = words.slice(0, -1);
  const current = words[words.length - 1] ?? '';
  let cmd = program;
  for (const w of args) {
    const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (sub) cmd = sub;
  }
  const prev = args[args.length - 1];
  const prevOpt = prev?.startsWith('-') ? findOption(cmd, prev) : undefined;
  let lines: string[] = [];
  let directive = NO_FILE;
  if (prevOpt && (prevOpt.required || prevOpt.optional)) {
    const flag = longName(prevOpt);
    if (FILE_FLAGS.has(flag)) directive = DEFAULT;
    else if (prevOpt.argChoices) lines = prevOpt.argChoices;
    else lines = await valuesFor(flag, args);
  } else if (current.startsWith('-')) {
    lines = [
      ...cmd.options.filter((o) => !o.hidden).map((o) => `${longName(o)}\t${o.description}`),
      '--help\tdisplay help',
    ];
  } else if (cmd.commands.length) {
    lines = cmd.commands
      .filter((c) => !(c as Command & { _hidden?: boolean })._hidden && !c.name().startsWith('__'))
      .map((c) => `${c.name()}\t${c.description().split('\n')[0]}`);
  }
  const matching = lines.filter((l) => l.startsWith(current));
  return [...matching, `:${directive}`].join('\n') + '\n';
}

export function registerComplete(program: Command): void {
  program
    .command('__complete', { hidden: true })
    .description('shell completion protocol (used by kubectl_complete-flannel)')
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[]) => {
      process.stdout.write(await complete(program, words));
    });
  const completion = program.command('completion');
  addExitCodes(completion, [[EXIT.ok, 'the script was printed']]);
  completion
    .description('Print a bash completion script (`kubectl flannel` completes through kubectl_complete-flannel)')
    .argument('<shell>', 'bash')
    .action((shell: string) => {
      if (shell !== 'bash') {
        process.stderr.write(
          `kubectl-flannel: completion for ${JSON.stringify(shell)} is not available; supported: bash (kubectl's own completion covers the others through kubectl_complete-flannel)\n`,
        );
        process.exitCode = EXIT.usage;
        return;
      }
      process.stdout.write(`# kubectl-flannel bash completion: source <(kubectl-flannel completion bash)
_kubectl_flannel() {
  local out directive
  out=$(kubectl-flannel __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
  directive=\${out##*:}
  out=$(printf '%s\\n' "$out" | sed '$d' | cut -f1)
  COMPREPLY=($(compgen -W "$out" -- "\${COMP_WORDS[COMP_CWORD]}"))
  if [ \${#COMPREPLY[@]} -eq 0 ] && [ "$directive" = 0 ]; then COMPREPLY=($(compgen -f -- "\${COMP_WORDS[COMP_CWORD]}")); fi
}
complete -F _kubectl_flannel kubectl-flannel
`);
    });
}
