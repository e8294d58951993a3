/**
 * `doctor --timings`: where one run's wall time went, on stderr, so a slow run on a big cluster can be
 * told apart into this process's own work (start-up, analysis, rendering, its CPU), the API reads and
 * the nodes' execs. Spans come from the progress events collection emits anyway; nothing is timed
 * when the flag is off.
 */
import type { Command } from 'commander';
import type { ProgressEvent } from '../snapshot/progress.js';

type Span =
  | 'start-up'
  | 'loading modules'
  | 'kubeconfig'
  | 'cluster read'
  | 'nodes'
  | 'cleanup'
  | 'analysis'
  | 'render';

export class Timings {
  private readonly spans = new Map<Span, number>();
  private open: { span: Span; at: number } | null = null;
  private readonly nodeMs: number[] = [];
  private nodes = 0;
  private concurrency: number | null = null;

  constructor() {
    // Node's own start, module loading and option parsing: everything before the command's action ran.
    this.spans.set('start-up', performance.now());
  }

  /** Closes the open span (if any) and opens `span`. */
  begin(span: Span): void {
    this.end();
    this.open = { span, at: performance.now() };
  }

  end(): void {
    if (!this.open) return;
    this.spans.set(this.open.span, (this.spans.get(this.open.span) ?? 0) + performance.now() - this.open.at);
    this.open = null;
  }

  /** Collection's progress events, mapped onto spans; a node's duration is its exec(s) plus parsing. */
  observe(e: ProgressEvent): void {
    if (e.type === 'phase') {
      if (e.phase === 'connect') this.begin('kubeconfig');
      else if (e.phase === 'cluster') this.begin('cluster read');
      else if (e.phase === 'nodes') this.begin('nodes');
      else if (e.phase === 'cleanup') this.begin('cleanup');
      else this.end();
    } else if (e.type === 'nodes') this.nodes = e.nodes.length;
    else if (e.type === 'node' && e.state !== 'running' && e.state !== 'queued' && e.durationMs !== undefined)
      this.nodeMs.push(e.durationMs);
  }

  setConcurrency(n: number): void {
    this.concurrency = n;
  }

  /** One line per span and one for this process's CPU, e.g. `timings: nodes 1840 ms (30 nodes, …)`. */
  lines(): string[] {
    this.end();
    const ms = (v: number) => `${Math.round(v)} ms`;
    const out: string[] = [];
    let total = 0;
    for (const [span, v] of this.spans) {
      total += v;
      let extra = '';
      if (span === 'nodes' && this.nodeMs.length > 0) {
        const sorted = [...this.nodeMs].sort((a, b) => a - b);
        const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
        extra = ` (${this.nodes} node(s)${this.concurrency ? `, ${this.concurrency} at a time` : ''}; per node median ${ms(median)}, max ${ms(sorted.at(-1)!)})`;
      }
      out.push(`timings: ${span} ${ms(v)}${extra}`);
    }
    const cpu = process.cpuUsage();
    out.push(
      `timings: total ${ms(total)}; this process's CPU ${ms((cpu.user + cpu.system) / 1000)} (user ${ms(cpu.user / 1000)}, system ${ms(cpu.system / 1000)})`,
    );
    return out;
  }
}

const byCommand = new WeakMap<Command, Timings>();

/** The command's Timings when it was run with --timings, else null. */
export function timingsFor(cmd: Command): Timings | null {
  if (cmd.opts<{ timings?: boolean }>().timings !== true) return null;
  let t = byCommand.get(cmd);
  if (!t) {
    t = new Timings();
    byCommand.set(cmd, t);
  }
  return t;
}
