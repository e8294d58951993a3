/**
 * Runs argv on this machine, optionally inside a network namespace (`ip netns exec NS …`).
 * No shell: argv goes straight to execve, so addresses and paths cannot be re-interpreted.
 * Used by `doctor --local` and by the fixture builder, which collects from namespaces.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { CommandResult, CommandRunner } from './runner.js';

export interface LocalRunnerOptions {
  /** Run every command inside this network namespace. */
  readonly netns?: string;
  /** Environment of the commands (e.g. a PATH without some tool); defaults to this process's. */
  readonly env?: NodeJS.ProcessEnv;
  readonly defaultTimeoutMs?: number;
}

const MAX_BUFFER = 256 * 1024 * 1024;

export function localRunner(opts: LocalRunnerOptions = {}): CommandRunner {
  // `ip` for `ip netns exec` is found on this process's PATH, so a test PATH in `env` changes
  // only what runs inside the namespace.
  const ipBin = opts.netns !== undefined ? (which('ip', process.env['PATH'] ?? '') ?? 'ip') : null;
  return {
    description: opts.netns !== undefined ? `netns ${opts.netns}` : 'local host',
    shell: { rerunMissingTools: false },
    run(argv, runOpts = {}) {
      const start = performance.now();
      const [file, ...args] = ipBin !== null ? [ipBin, 'netns', 'exec', opts.netns ?? '', ...argv] : argv;
      const timeout = runOpts.timeoutMs ?? opts.defaultTimeoutMs ?? 30_000;
      return new Promise<CommandResult>((resolve) => {
        if (file === undefined || argv.length === 0) {
          resolve({ argv, exitCode: null, stdout: '', stderr: '', durationMs: 0, error: 'empty command' });
          return;
        }
        execFile(
          file,
          args,
          {
            encoding: 'utf8',
            maxBuffer: MAX_BUFFER,
            timeout,
            killSignal: 'SIGKILL',
            env: opts.env ?? process.env,
            ...(runOpts.signal ? { signal: runOpts.signal } : {}),
          },
          (err, stdout, stderr) => {
            const durationMs = Math.round(performance.now() - start);
            if (!err) {
              resolve({ argv, exitCode: 0, stdout, stderr, durationMs });
              return;
            }
            const e = err as NodeJS.ErrnoException & {
              code?: string | number;
              killed?: boolean;
              signal?: string | null;
            };
            if (typeof e.code === 'number') {
              resolve({ argv, exitCode: e.code, stdout, stderr, durationMs });
            } else if (runOpts.signal?.aborted) {
              resolve({ argv, exitCode: null, stdout, stderr, durationMs, error: 'aborted' });
            } else if (e.killed) {
              resolve({
                argv,
                exitCode: null,
                stdout,
                stderr,
                durationMs,
                timedOut: true,
                error: `timed out after ${timeout} ms`,
              });
            } else if (e.code === 'ENOENT') {
              resolve({ argv, exitCode: null, stdout, stderr, durationMs, error: `${file}: command not found` });
            } else {
              resolve({
                argv,
                exitCode: null,
                stdout,
                stderr,
                durationMs,
                error: e.message.split('\n')[0] ?? String(e.code),
              });
            }
          },
        );
      });
    },
  };
}

function which(name: string, path: string): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}
