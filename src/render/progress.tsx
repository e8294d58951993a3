/**
 * Collection progress on stderr (stdout carries only the report).
 *
 * On a terminal (stderr is a TTY and CI is unset) an ink view shows each node's progress live,
 * condensed for big clusters: counts, the nodes in flight, and the latest failures. Elsewhere,
 * one plain line per state change, so logs stay readable and greppable.
 */

import { Box, type Instance, render, Text } from 'ink';
import type React from 'react';
import type { NodeState, ProgressEvent } from '../snapshot/progress.js';

export interface ProgressRenderer {
  readonly onProgress: (e: ProgressEvent) => void;
  /** Final frame and release of the terminal. */
  readonly done: () => Promise<void>;
}

interface NodeRow {
  state: NodeState;
  via: string;
  commands: number;
  detail: string;
  durationMs: number | null;
  startedAt: number | null;
}

interface ViewState {
  phase: string;
  order: string[];
  nodes: Map<string, NodeRow>;
  warnings: string[];
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Plain lines: one per phase and per node state change. */
export function plainProgress(write: (line: string) => void): ProgressRenderer {
  const last = new Map<string, string>();
  return {
    onProgress(e) {
      switch (e.type) {
        case 'phase':
          if (e.phase !== 'done' && e.phase !== 'connect') write(e.message);
          break;
        case 'nodes':
          break;
        case 'warning':
          write(`warning: ${e.message}`);
          break;
        case 'node': {
          const key = `${e.state}|${e.detail ?? ''}`;
          if (last.get(e.node) === key) return;
          last.set(e.node, key);
          if (e.state === 'running' && e.detail) write(`${e.node}: using a helper pod (${e.detail})`);
          else if (e.state === 'running') write(`${e.node}: collecting via ${e.via ?? '?'}`);
          else if (e.state === 'ok')
            write(`${e.node}: done in ${seconds(e.durationMs ?? 0)} (${e.commands ?? 0} commands via ${e.via ?? '?'})`);
          else if (e.state === 'timeout' || e.state === 'failed')
            write(`${e.node}: ${e.state.toUpperCase()}: ${e.detail ?? ''}`);
          break;
        }
      }
    },
    done: async () => undefined,
  };
}

const MARK: Record<NodeState, { glyph: string; color: string }> = {
  queued: { glyph: '·', color: 'gray' },
  running: { glyph: '◌', color: 'cyan' },
  ok: { glyph: '✔', color: 'green' },
  failed: { glyph: '✘', color: 'red' },
  timeout: { glyph: '⏱', color: 'yellow' },
};

const MAX_RUNNING_SHOWN = 12;
const MAX_FAILURES_SHOWN = 6;

function ProgressView({ view, now }: { view: ViewState; now: number }): React.ReactElement {
  const rows = view.order.map((n) => [n, view.nodes.get(n)!] as const);
  const count = (s: NodeState) => rows.filter(([, r]) => r.state === s).length;
  const running = rows.filter(([, r]) => r.state === 'running');
  const failures = rows.filter(([, r]) => r.state === 'failed' || r.state === 'timeout');
  // Small clusters show every node; big ones show what is in flight and what went wrong.
  const shown = rows.length <= MAX_RUNNING_SHOWN ? rows : running.slice(0, MAX_RUNNING_SHOWN);
  return (
    <Box flexDirection="column">
      <Text bold>{view.phase}</Text>
      {rows.length > 0 && (
        <Text>
          nodes {count('ok') + count('failed') + count('timeout')}/{rows.length} done
          <Text color="green"> {count('ok')} ok</Text>
          {count('failed') > 0 && <Text color="red"> {count('failed')} failed</Text>}
          {count('timeout') > 0 && <Text color="yellow"> {count('timeout')} timed out</Text>}
          <Text color="cyan"> {running.length} running</Text>
        </Text>
      )}
      {shown.map(([name, r]) => (
        <Text key={name}>
          <Text color={MARK[r.state].color}>{MARK[r.state].glyph} </Text>
          {name}
          <Text color="gray">
            {' '}
            {r.state === 'running'
              ? `${r.commands} cmds · ${seconds(now - (r.startedAt ?? now))}`
              : r.durationMs !== null
                ? seconds(r.durationMs)
                : ''}
            {r.via ? ` · ${r.via}` : ''}
          </Text>
          {r.detail && r.state !== 'ok' ? (
            <Text color={r.state === 'running' ? 'yellow' : 'red'}> {r.detail}</Text>
          ) : null}
        </Text>
      ))}
      {rows.length > MAX_RUNNING_SHOWN &&
        failures.slice(-MAX_FAILURES_SHOWN).map(([name, r]) => (
          <Text key={`f-${name}`} color="red">
            {MARK[r.state].glyph} {name}: {r.detail}
          </Text>
        ))}
      {view.warnings.slice(-3).map((w, i) => (
        <Text key={`w-${i}`} color="yellow">
          ⚠ {w}
        </Text>
      ))}
    </Box>
  );
}

export function inkProgress(stream: NodeJS.WriteStream): ProgressRenderer {
  const view: ViewState = { phase: 'starting', order: [], nodes: new Map(), warnings: [] };
  let instance: Instance | null = null;
  const paint = () => {
    const el = <ProgressView view={view} now={performance.now()} />;
    if (instance) instance.rerender(el);
    else instance = render(el, { stdout: stream, stderr: stream, exitOnCtrlC: false, patchConsole: false });
  };
  // Elapsed times tick even when no event arrives.
  const timer = setInterval(paint, 250);
  timer.unref();
  return {
    onProgress(e) {
      if (e.type === 'phase') view.phase = e.message;
      else if (e.type === 'warning') view.warnings.push(e.message);
      else if (e.type === 'nodes') {
        for (const n of e.nodes) {
          if (!view.nodes.has(n)) {
            view.order.push(n);
            view.nodes.set(n, { state: 'queued', via: '', commands: 0, detail: '', durationMs: null, startedAt: null });
          }
        }
      } else {
        const row = view.nodes.get(e.node) ?? {
          state: 'queued',
          via: '',
          commands: 0,
          detail: '',
          durationMs: null,
          startedAt: null,
        };
        if (!view.nodes.has(e.node)) {
          view.order.push(e.node);
          view.nodes.set(e.node, row);
        }
        if (row.state === 'queued' && e.state === 'running') row.startedAt = performance.now();
        row.state = e.state;
        if (e.via) row.via = e.via;
        if (e.commands !== undefined) row.commands = e.commands;
        if (e.detail !== undefined) row.detail = e.detail;
        if (e.durationMs !== undefined) row.durationMs = e.durationMs;
      }
      paint();
    },
    async done() {
      clearInterval(timer);
      paint();
      instance?.unmount();
      await instance?.waitUntilExit().catch(() => undefined);
    },
  };
}

/** ink when stderr is a terminal and CI is unset; plain lines otherwise. */
export function progressRenderer(
  stream: NodeJS.WriteStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): ProgressRenderer {
  if (stream.isTTY && !env['CI']) return inkProgress(stream);
  return plainProgress((line) => stream.write(`${line}\n`));
}
