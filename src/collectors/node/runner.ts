/**
 * How a collector reaches a node: something that runs one argv there and returns its output.
 * The local runner (this host or a network namespace) and the pod-exec runner (kubectl exec
 * into the node's flannel pod or a helper pod) both implement it, so the per-node collector
 * is written once.
 */
export interface CommandResult {
  readonly argv: readonly string[];
  /** null when the command could not be started or did not finish. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** Set when the command did not run to completion (not found, timeout, transport error). */
  readonly error?: string;
  readonly timedOut?: boolean;
}

export interface CommandRunner {
  /** A short human description, e.g. "pod kube-flannel/kube-flannel-ds-abcde" or "netns node1". */
  readonly description: string;
  /**
   * Set by runners that reach a POSIX shell on the node: the per-node collector then sends its
   * whole plan as one script (node-script.ts). `rerunMissingTools`: a tool missing there is
   * worth running on its own, because the runner then tries it elsewhere (a helper pod).
   */
  readonly shell?: { readonly rerunMissingTools: boolean };
  run(
    argv: readonly string[],
    opts?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<CommandResult>;
}
