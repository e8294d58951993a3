/**
 * One error type for everything that goes wrong talking to the Kubernetes API.
 *
 * client-node fails in three shapes: `ApiException` for a non-2xx answer (body = raw text,
 * usually a V1Status), undici's `TypeError: fetch failed` for transport trouble (the real
 * reason on `.cause`), and, for exec, a ws error such as `Unexpected server response: 403`.
 * Callers only ever see a KubeAccessError whose message says what was attempted (verb +
 * resource, as RBAC names them) and why it failed.
 */

export type KubeAccessErrorKind =
  /** RBAC denied the request (403). */
  | 'forbidden'
  /** The credentials were rejected (401). */
  | 'unauthorized'
  | 'not-found'
  /** DNS, TCP, TLS: the API server was not reached. */
  | 'unreachable'
  | 'timeout'
  /** Any other answer from the API server (409, 422, 5xx …). */
  | 'api';

/** What was attempted, in RBAC terms: `get pods/exec` in namespace kube-flannel, name x. */
export interface KubeOperation {
  readonly verb: string;
  readonly resource: string;
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
}

export class KubeAccessError extends Error {
  constructor(
    readonly kind: KubeAccessErrorKind,
    readonly op: KubeOperation,
    readonly detail: string,
    readonly httpStatus: number | null = null,
  ) {
    super(describe(kind, op, detail));
    this.name = 'KubeAccessError';
  }
}

export function describeOperation(op: KubeOperation): string {
  const where = op.namespace ? ` in namespace ${op.namespace}` : '';
  const what = op.name ? ` ${op.name}` : '';
  return `${op.verb} ${op.resource}${what}${where}`;
}

function describe(kind: KubeAccessErrorKind, op: KubeOperation, detail: string): string {
  const attempt = describeOperation(op);
  switch (kind) {
    case 'forbidden':
      return `permission denied: cannot ${attempt} (RBAC needs verb "${op.verb}" on resource "${op.resource}"; see rbac/clusterrole.yaml): ${detail}`;
    case 'unauthorized':
      return `the API server rejected the credentials (401) while trying to ${attempt}: ${detail}`;
    case 'not-found':
      return `not found: ${attempt}: ${detail}`;
    case 'unreachable':
      return `cannot reach the API server to ${attempt}: ${detail}`;
    case 'timeout':
      return `timed out trying to ${attempt}: ${detail}`;
    case 'api':
      return `the API server refused to ${attempt}: ${detail}`;
  }
}

interface StatusBody {
  message?: string;
  reason?: string;
}

function parseStatus(body: unknown): StatusBody | null {
  let text: string | null = null;
  if (typeof body === 'string') text = body;
  else if (Buffer.isBuffer(body)) text = body.toString('utf8');
  else if (body && typeof body === 'object') return body as StatusBody;
  if (!text) return null;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as StatusBody) : { message: text };
  } catch {
    return { message: text.slice(0, 300) };
  }
}

function kindForStatus(code: number): KubeAccessErrorKind {
  if (code === 401) return 'unauthorized';
  if (code === 403) return 'forbidden';
  if (code === 404) return 'not-found';
  if (code === 408 || code === 504) return 'timeout';
  return 'api';
}

/** Walks `.cause` chains to the innermost message, where undici keeps ECONNREFUSED and friends. */
function rootCause(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const anyErr = e as { message?: string; code?: string; cause?: unknown; errors?: unknown[] };
    if (anyErr.message && !parts.includes(anyErr.message)) parts.push(anyErr.message);
    else if (anyErr.code) parts.push(anyErr.code);
    // AggregateError (happy eyeballs) hides the real errors in .errors.
    e = anyErr.cause ?? (Array.isArray(anyErr.errors) ? anyErr.errors[0] : undefined);
  }
  return parts.join(': ') || String(err);
}

function isAbort(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

/** Maps anything client-node, undici or ws throws into a KubeAccessError for `op`. */
export function toKubeAccessError(err: unknown, op: KubeOperation): KubeAccessError {
  if (err instanceof KubeAccessError) return err;
  const e = err as { code?: unknown; body?: unknown; name?: string; message?: string; cause?: unknown };
  // ApiException: numeric HTTP code plus the raw body.
  if (typeof e?.code === 'number' && 'body' in (e as object)) {
    const status = parseStatus(e.body);
    const detail = status?.message ?? `HTTP ${e.code}`;
    return new KubeAccessError(kindForStatus(e.code), op, detail, e.code);
  }
  if (isAbort(err) || (e?.cause && isAbort(e.cause))) {
    const reason = (e?.cause as Error | undefined)?.message ?? e?.message ?? 'aborted';
    return new KubeAccessError('timeout', op, reason);
  }
  const message = e?.message ?? String(err);
  // ws handshake failure: "Unexpected server response: 403".
  const ws = /Unexpected server response: (\d{3})/.exec(message);
  if (ws) {
    const code = Number(ws[1]);
    return new KubeAccessError(kindForStatus(code), op, `HTTP ${code} on the exec WebSocket upgrade`, code);
  }
  if (message === 'No active cluster!' || message === 'No cluster is defined.') {
    return new KubeAccessError('unreachable', op, 'the kubeconfig has no cluster for the current context');
  }
  return new KubeAccessError('unreachable', op, rootCause(err));
}
