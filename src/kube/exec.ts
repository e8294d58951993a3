/**
 * `kubectl exec` for one argv, with the quirks of client-node 2.x's Exec handled once:
 * - exec() resolves when the WebSocket opens, not when the command ends; the end is the V1Status
 *   on channel 3 (`Success`, or `Failure` with reason NonZeroExitCode and the code in causes);
 * - a socket that closes without a status is a failure, not success;
 * - nothing times out on its own: the deadline and the caller's signal close the socket;
 * - a refused handshake (RBAC, pod gone) rejects with a ws error, mapped to KubeAccessError;
 * - Exec's handler would `end()` process.stdout on a v5 close frame, so it gets private streams.
 */
import { createHash } from 'node:crypto';
import { PassThrough, type Readable, Writable } from 'node:stream';
import tls from 'node:tls';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
// Not re-exported by the package index; the package has no `exports` map, so the deep path is public.
import { WebSocketHandler, type WebSocketInterface } from '@kubernetes/client-node/dist/web-socket-handler.js';
import IsomorphicWs from 'isomorphic-ws';
import { KubeAccessError, toKubeAccessError } from './errors.js';

export interface ExecRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /**
   * Streaming: each stdout chunk goes here as it arrives and is not kept (the result's stdout is empty).
   * For long-running commands whose output is data, such as `tcpdump -w -`.
   */
  readonly onStdout?: ((chunk: Buffer) => void) | undefined;
  /** Each stderr chunk as it arrives; stderr is kept in the result as well. */
  readonly onStderr?: ((chunk: Buffer) => void) | undefined;
  /** Sent to the command's stdin; closing it closes the command's stdin. */
  readonly stdin?: Readable | undefined;
}

export type ExecStatus = 'ok' | 'nonzero' | 'failed' | 'timeout';

/**
 * One exec's outcome. Its first fields are exactly the collectors' CommandResult, so a pod runner
 * returns it as it is; it is spelled out here because kube sits below collectors and imports nothing from them.
 */
export interface ExecResult {
  readonly argv: readonly string[];
  /** null when the command could not be started or did not finish. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** Set when the command did not run to completion (not found, timeout, transport error). */
  readonly error?: string;
  readonly timedOut?: boolean;
  readonly status: ExecStatus;
  /** The command's executable does not exist in the container (exit 126/127 or a runtime error saying so). */
  readonly toolMissing: boolean;
}

/** Output beyond this is dropped (and said so): a runaway command must not exhaust memory. */
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(
    private readonly forward?: (chunk: Buffer) => void,
    private readonly keep = true,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.forward?.(chunk);
    if (!this.keep) return cb();
    if (this.size + chunk.length <= MAX_OUTPUT_BYTES) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    } else this.truncated = true;
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const TOOL_MISSING = /executable file not found|no such file or directory|not found in \$PATH|command not found/i;

function exitCodeOf(status: V1Status): number | null {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (status.reason === 'NonZeroExitCode' && cause?.message && /^\d+$/.test(cause.message))
    return Number(cause.message);
  // KWOK's streaming server (and runtimes whose errors are not k8s.io/utils ExitErrors) report a
  // non-zero exit as an InternalError ending in Go's "exit status N".
  const goExit = /: exit status (\d+)$/.exec(status.message ?? '');
  if (goExit) return Number(goExit[1]);
  return null;
}

type WsOptions = Record<string, unknown> & {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  servername?: string;
  rejectUnauthorized?: boolean;
};
type WsCtor = new (uri: string, protocols: string[], opts: WsOptions) => unknown;
// client-node's own WebSocket implementation (isomorphic-ws is `ws` on Node). A static import, so a bundler
// (scripts/bundle.mjs) sees it; its types name `ws`, whose typings are not installed, hence the cast.
const WebSocketImpl = IsomorphicWs as unknown as WsCtor;

/**
 * One TLS SecureContext per credential set instead of one per exec: building it (parsing the
 * CA bundle, certificate and key) was the largest single CPU cost of an exec on the lab.
 */
function cachedTlsFactory(): (uri: string, protocols: string[], opts: WsOptions) => unknown {
  const contexts = new Map<string, tls.SecureContext>();
  return (uri, protocols, opts) => {
    if (!uri.startsWith('wss:')) return new WebSocketImpl(uri, protocols, opts);
    const material = { ca: opts.ca, cert: opts.cert, key: opts.key } as Pick<
      tls.SecureContextOptions,
      'ca' | 'cert' | 'key'
    >;
    const id = createHash('sha256')
      .update(
        JSON.stringify([material.ca, material.cert, material.key].map((v) => (v === undefined ? null : String(v)))),
      )
      .digest('hex');
    let secureContext = contexts.get(id);
    if (!secureContext) {
      secureContext = tls.createSecureContext(material);
      contexts.set(id, secureContext);
    }
    return new WebSocketImpl(uri, protocols, { ...opts, secureContext });
  };
}

export function makeExec(kc: KubeConfig, ws?: WebSocketInterface): Exec {
  // Private streams: the handler writes close frames for stdin/stdout/stderr to these, never to ours.
  const sink = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
  const factory = cachedTlsFactory() as unknown as ConstructorParameters<typeof WebSocketHandler>[1];
  return new Exec(kc, ws ?? new WebSocketHandler(kc, factory, sink));
}

/**
 * Runs argv in a container. Resolves with the result for everything that happens once the
 * command started (including timeouts); rejects with KubeAccessError when exec was refused.
 */
export async function execInPod(exec: Exec, req: ExecRequest): Promise<ExecResult> {
  const started = performance.now();
  const stdout = new Collector(req.onStdout, req.onStdout === undefined);
  const stderr = new Collector(req.onStderr);
  const deadline = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([deadline, req.signal]) : deadline;
  const op = { verb: 'create', resource: 'pods/exec', namespace: req.namespace, name: req.pod };

  let settle!: (r: { status: V1Status | null; closeReason: string | null }) => void;
  const finished = new Promise<{ status: V1Status | null; closeReason: string | null }>(
    (resolve) => (settle = resolve),
  );
  let status: V1Status | null = null;

  const finish = (kind: ExecStatus, exitCode: number | null, error?: string): ExecResult => {
    const out = stdout.text();
    const err = stderr.text();
    const truncated = stdout.truncated || stderr.truncated ? ` (output truncated at ${MAX_OUTPUT_BYTES} bytes)` : '';
    const message = error !== undefined ? error + truncated : truncated ? truncated.trim() : undefined;
    const toolMissing =
      exitCode === 127 || exitCode === 126 || (exitCode === null && TOOL_MISSING.test(`${error ?? ''} ${err}`));
    return {
      argv: req.argv,
      exitCode,
      stdout: out,
      stderr: err,
      durationMs: Math.round(performance.now() - started),
      status: kind,
      toolMissing,
      ...(message !== undefined ? { error: message } : {}),
      ...(kind === 'timeout' ? { timedOut: true } : {}),
    };
  };

  if (signal.aborted) {
    return deadline.aborted
      ? finish('timeout', null, `timed out after ${req.timeoutMs} ms`)
      : finish('failed', null, 'cancelled');
  }

  let socket: Awaited<ReturnType<Exec['exec']>>;
  try {
    const connecting = exec.exec(
      req.namespace,
      req.pod,
      req.container,
      [...req.argv],
      stdout,
      stderr,
      req.stdin ?? null,
      false,
      (s) => {
        status = s;
        settle({ status: s, closeReason: null });
      },
    );
    // The handshake itself can hang (a black-holed API server), so it races the deadline too.
    socket = await new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      connecting.then(
        (ws) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) ws.close();
          resolve(ws);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  } catch (e) {
    if (signal.aborted && !(e instanceof Error && /Unexpected server response/.test(e.message))) {
      if (deadline.aborted) throw new KubeAccessError('timeout', op, `no exec connection within ${req.timeoutMs} ms`);
      throw new KubeAccessError('timeout', op, 'cancelled before the exec connection opened');
    }
    throw toKubeAccessError(e, op);
  }

  const onAbort = () => {
    settle({ status: null, closeReason: deadline.aborted ? 'timeout' : 'cancelled' });
    socket.close();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  let socketError: string | null = null;
  socket.on('error', (e: Error) => (socketError = e.message));
  const onClose = (code: number) => settle({ status: null, closeReason: `closed (code ${code})` });
  socket.on('close', onClose);
  if (socket.readyState === socket.CLOSED) onClose(1006);

  const end = await finished;
  signal.removeEventListener('abort', onAbort);
  if (socket.readyState !== socket.CLOSED) socket.close();

  const final = end.status ?? status;
  if (final) {
    const code = exitCodeOf(final);
    if (code === 0) return finish('ok', 0);
    if (code !== null) return finish('nonzero', code);
    return finish('failed', null, final.message ?? final.reason ?? 'exec failed without an exit code');
  }
  if (end.closeReason === 'timeout') return finish('timeout', null, `timed out after ${req.timeoutMs} ms`);
  if (end.closeReason === 'cancelled') return finish('failed', null, 'cancelled');
  return finish(
    'failed',
    null,
    `connection ${end.closeReason ?? 'closed'} before the command reported an exit status${socketError ? `: ${socketError}` : ''}`,
  );
}
