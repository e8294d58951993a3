/**
 * CommandRunners that reach a node through the Kubernetes API.
 *
 * - PodExecRunner: exec into one container (the node's kube-flannel pod, or a helper pod).
 * - NodeRunner: what the per-node collector gets. It prefers the node's running flannel pod
 *   (hostNetwork, already has ip/nft/swanctl/wg, no image pull: works air-gapped) and falls
 *   back to a helper pod when there is no usable flannel pod, when a tool is missing from the
 *   flannel image, or when the flannel pod disappears mid-run.
 * - netns helpers: find a pod's network namespace under /var/run/netns by its IP and run
 *   commands inside it with nsenter (helper pods only: they mount /var/run/netns and hold SYS_ADMIN).
 */
import type { Exec } from '@kubernetes/client-node';
import { KubeAccessError } from '../../kube/errors.js';
import { execInPod } from '../../kube/exec.js';
import type { HelperPods } from './helper-pods.js';
import { HELPER_CONTAINER } from './helper-pods.js';
import type { CommandResult, CommandRunner } from './runner.js';

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

function failed(argv: readonly string[], error: string, started: number): CommandResult {
  return { argv, exitCode: null, stdout: '', stderr: '', durationMs: Math.round(performance.now() - started), error };
}

function combine(a?: AbortSignal, b?: AbortSignal): AbortSignal | undefined {
  return a && b ? AbortSignal.any([a, b]) : (a ?? b);
}

export interface PodTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

/** Result of one exec, plus why it should be retried elsewhere. */
export type PodRunResult = CommandResult & {
  readonly toolMissing?: boolean;
  readonly podGone?: boolean;
  readonly accessError?: KubeAccessError;
};

export class PodExecRunner implements CommandRunner {
  readonly description: string;
  readonly shell = { rerunMissingTools: false };
  constructor(
    private readonly exec: Exec,
    readonly target: PodTarget,
    private readonly defaults: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined },
    kind = 'pod',
  ) {
    this.description = `${kind} ${target.namespace}/${target.pod}`;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<PodRunResult> {
    const started = performance.now();
    try {
      return await execInPod(this.exec, {
        ...this.target,
        argv,
        timeoutMs: opts.timeoutMs ?? this.defaults.timeoutMs,
        signal: combine(opts.signal, this.defaults.signal),
      });
    } catch (e) {
      if (e instanceof KubeAccessError) {
        return {
          ...failed(argv, e.message, started),
          accessError: e,
          podGone: e.kind === 'not-found',
          ...(e.kind === 'timeout' ? { timedOut: true } : {}),
        };
      }
      return failed(argv, `exec in ${this.description} failed: ${(e as Error).message}`, started);
    }
  }
}

export interface NodeRunnerOptions {
  readonly node: string;
  readonly exec: Exec;
  /** The node's kube-flannel pod, when it is running. */
  readonly flannelPod: PodTarget | null;
  /** null when helper pods are disabled (--no-helper-pods). */
  readonly helpers: HelperPods | null;
  readonly timeoutMs: number;
  /** The per-node deadline and the run's cancellation. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Re-run a command the flannel image lacks in the helper pod. Only worth it when the helper
   * runs a different image (--image): with flannel's own image the tool is missing there too.
   */
  readonly fallbackOnMissingTool?: boolean | undefined;
  /** Called when the runner switches to a helper pod, with the reason. */
  readonly onFallback?: ((reason: string) => void) | undefined;
  /** Why there is no flannel pod to use (default: none runs on the node). */
  readonly noFlannelPodReason?: string | undefined;
}

export class NodeRunner implements CommandRunner {
  private readonly primary: PodExecRunner | null;
  private helper: Promise<PodExecRunner> | null = null;
  /** Why the helper pod was used, for the snapshot. */
  readonly fallbackReasons: string[] = [];
  /** Tools the flannel image lacks (argv[0] of commands that were re-run in the helper). */
  readonly missingInFlannelPod = new Set<string>();
  private primaryGone = false;
  /** Set after RBAC refused exec: every further command would be refused the same way. */
  private refused: string | null = null;

  constructor(private readonly o: NodeRunnerOptions) {
    this.primary = o.flannelPod
      ? new PodExecRunner(o.exec, o.flannelPod, { timeoutMs: o.timeoutMs, signal: o.signal })
      : null;
    if (!this.primary) this.noteFallback(o.noFlannelPodReason ?? 'no running kube-flannel pod on this node');
  }

  /** flannel's image and the helper's both have a shell. */
  get shell(): CommandRunner['shell'] {
    return { rerunMissingTools: this.o.helpers !== null && this.o.fallbackOnMissingTool === true };
  }

  get description(): string {
    const parts: string[] = [];
    if (this.primary && !this.primaryGone) parts.push(this.primary.description);
    const needsHelper = !this.primary || this.primaryGone;
    if (this.helper || (needsHelper && this.o.helpers)) parts.push(`helper pod (${this.fallbackReasons.join('; ')})`);
    return parts.join(' + ') || `no access (${this.fallbackReasons.join('; ')}; helper pods disabled)`;
  }

  private noteFallback(reason: string): void {
    if (!this.fallbackReasons.includes(reason)) this.fallbackReasons.push(reason);
    this.o.onFallback?.(reason);
  }

  private helperRunner(): Promise<PodExecRunner> {
    if (!this.o.helpers) return Promise.reject(new Error('helper pods are disabled (--no-helper-pods)'));
    const helpers = this.o.helpers;
    this.helper ??= helpers
      .ensure(this.o.node, this.o.signal)
      .then(
        (ref) =>
          new PodExecRunner(
            this.o.exec,
            { namespace: ref.namespace, pod: ref.name, container: HELPER_CONTAINER },
            { timeoutMs: this.o.timeoutMs, signal: this.o.signal },
            'helper pod',
          ),
      );
    // A failed start is remembered: every later command reports the same reason at once.
    return this.helper;
  }

  private async viaHelper(argv: readonly string[], opts: RunOptions, started: number): Promise<CommandResult> {
    let runner: PodExecRunner;
    try {
      runner = await this.helperRunner();
    } catch (e) {
      return failed(
        argv,
        `no way onto node ${this.o.node}: ${this.fallbackReasons.join('; ')}; helper pod: ${(e as Error).message}`,
        started,
      );
    }
    return runner.run(argv, opts);
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const started = performance.now();
    if (this.refused) return failed(argv, this.refused, started);
    if (!this.primary || this.primaryGone) return this.viaHelper(argv, opts, started);
    const r = await this.primary.run(argv, opts);
    if (r.accessError && (r.accessError.kind === 'forbidden' || r.accessError.kind === 'unauthorized')) {
      this.refused = r.accessError.message;
      return r;
    }
    if (r.podGone) {
      this.primaryGone = true;
      this.noteFallback(`kube-flannel pod ${this.primary.target.pod} disappeared`);
      return this.viaHelper(argv, opts, started);
    }
    if (r.toolMissing && argv[0]) this.missingInFlannelPod.add(argv[0]);
    if (r.toolMissing && this.o.helpers && this.o.fallbackOnMissingTool && argv[0]) {
      this.noteFallback(`${argv[0]} missing in the kube-flannel image`);
      const h = await this.viaHelper(argv, opts, started);
      // If the helper image lacks it too, report the flannel pod's answer, which says what is missing.
      return h.error !== undefined && h.exitCode === null ? r : h;
    }
    return r;
  }

  /** A runner that only ever uses the helper pod (for work in pod network namespaces). */
  helperOnly(): CommandRunner {
    return {
      description: `helper pod on ${this.o.node}`,
      run: (argv, opts) => {
        if (!this.fallbackReasons.includes('pod network namespace work'))
          this.fallbackReasons.push('pod network namespace work');
        return this.viaHelper(argv, opts ?? {}, performance.now());
      },
    };
  }
}

/** Default directory where containerd and CRI-O keep pod network namespaces. */
export const NETNS_DIR = '/var/run/netns';

/** Every network namespace's addresses under `dir`, in one shell loop: nodes can hold hundreds of pod netns. */
export function podNetnsArgv(dir = NETNS_DIR): string[] {
  if (!/^\/[\w./-]*$/.test(dir)) throw new Error(`unsafe netns directory: ${dir}`);
  return [
    'sh',
    '-c',
    `for f in ${dir}/*; do [ -e "$f" ] || continue; echo "@@netns $f"; nsenter --net="$f" ip -o addr show 2>/dev/null; done`,
  ];
}

/**
 * Finds the network namespace under `dir` that holds `podIP`, by listing every namespace's
 * addresses in one exec. Returns the namespace's path, or null.
 */
export async function findPodNetns(
  runner: CommandRunner,
  podIP: string,
  opts: RunOptions & { dir?: string } = {},
): Promise<string | null> {
  const dir = opts.dir ?? NETNS_DIR;
  if (!/^[0-9a-fA-F:.]+$/.test(podIP)) throw new Error(`not an IP address: ${podIP}`);
  if (!/^\/[\w./-]*$/.test(dir)) throw new Error(`unsafe netns directory: ${dir}`);
  const r = await runner.run(podNetnsArgv(dir), opts);
  if (r.exitCode === null && r.error)
    throw new Error(`listing network namespaces via ${runner.description}: ${r.error}`);
  let current: string | null = null;
  const family = podIP.includes(':') ? 'inet6' : 'inet';
  const holders: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('@@netns ')) current = line.slice('@@netns '.length);
    else if (current && new RegExp(`\\s${family}\\s${podIP.replace(/\./g, '\\.')}/\\d+\\s`).test(line)) {
      if (!holders.includes(current)) holders.push(current);
    }
  }
  if (holders.length <= 1) return holders[0] ?? null;
  // Several namespaces hold the IP (a leftover netns, or namespaces of other nodes visible here): the pod's is
  // the one whose veth peer sits in this node's namespace, which `ip link` names as link-netns.
  const links = await runner.run(['ip', '-o', 'link', 'show'], opts);
  const linked = holders.filter((h) =>
    new RegExp(`\\slink-netns ${escapeRe(h.slice(h.lastIndexOf('/') + 1))}(\\s|$)`, 'm').test(links.stdout),
  );
  return linked.length === 1 ? linked[0]! : holders[0]!;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs every command inside the network namespace at `nsPath` (needs SYS_ADMIN: helper pods or local root). */
export function netnsRunner(base: CommandRunner, nsPath: string): CommandRunner {
  return {
    description: `${base.description}, netns ${nsPath}`,
    run: (argv, opts) => base.run(['nsenter', `--net=${nsPath}`, '--', ...argv], opts),
  };
}
