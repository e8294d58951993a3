/**
 * The Kubernetes API as kubectl-flannel uses it: a handful of typed calls, each bounded by a
 * deadline (`--request-timeout`, client-node has none of its own) and the caller's abort
 * signal, each failing with a KubeAccessError that names the verb and resource.
 */
import {
  AppsV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  type KubeConfig,
  NetworkingV1Api,
  Observable,
  type RequestContext,
  type V1ConfigMap,
  type V1DaemonSet,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { type KubeOperation, toKubeAccessError } from './errors.js';

const PAGE = 500;

export interface CallOptions {
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Not bound by the client's own signal: clean-up must still run after Ctrl-C aborted the rest. */
  readonly detached?: boolean | undefined;
}

export class KubeClient {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly networking: NetworkingV1Api;
  private dispatcher: ReturnType<RequestContext['getDispatcher']> | undefined;

  constructor(
    readonly kc: KubeConfig,
    /** Default deadline for one API call; 0 means none (kubectl's --request-timeout=0). */
    readonly requestTimeoutMs: number,
    /** Aborts every call, e.g. on Ctrl-C. */
    readonly signal?: AbortSignal,
    /** Items per list page (kubectl's --chunk-size default). */
    readonly pageSize = PAGE,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.networking = kc.makeApiClient(NetworkingV1Api);
  }

  /** Runs one API call under a deadline and maps its failure to a KubeAccessError for `op`. */
  async call<T>(
    op: KubeOperation,
    fn: (options: ConfigurationOptions) => Promise<T>,
    opts: CallOptions = {},
  ): Promise<T> {
    const signals: AbortSignal[] = [];
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    if (timeoutMs > 0) signals.push(AbortSignal.timeout(timeoutMs));
    if (this.signal && !opts.detached) signals.push(this.signal);
    if (opts.signal) signals.push(opts.signal);
    const signal = AbortSignal.any(signals);
    // The object-style API hands these options to the observable layer, so the middleware
    // returns client-node's own Observable.
    const options: ConfigurationOptions = {
      middleware: [
        {
          pre: (ctx) => {
            ctx.setSignal(signal);
            // client-node builds a new undici Agent (TLS context, keep-alive socket) for every request;
            // one per client keeps a 1000-pod log sweep on a few pooled connections instead of 1000.
            const d = ctx.getDispatcher();
            if (d) {
              this.dispatcher ??= d;
              ctx.setDispatcher(this.dispatcher);
            }
            return new Observable(Promise.resolve(ctx));
          },
          post: (rsp) => new Observable(Promise.resolve(rsp)),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
    try {
      signal.throwIfAborted();
      return await fn(options);
    } catch (e) {
      if (signal.aborted && !(typeof (e as { code?: unknown }).code === 'number')) {
        throw toKubeAccessError(signal.reason ?? e, op);
      }
      throw toKubeAccessError(e, op);
    }
  }

  /** Lists in pages of PAGE, as kubectl does, so a 5000-node list does not load the API server in one response. */
  private async paged<T>(
    page: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
  ): Promise<T[]> {
    const all: T[] = [];
    let cont: string | undefined;
    do {
      const r = await page(cont);
      all.push(...r.items);
      cont = r.metadata?._continue || undefined;
    } while (cont);
    return all;
  }

  listNodes(labelSelector?: string, opts?: CallOptions): Promise<V1Node[]> {
    return this.call(
      { verb: 'list', resource: 'nodes' },
      (o) => this.paged((c) => this.core.listNode({ labelSelector, limit: this.pageSize, _continue: c }, o)),
      opts,
    );
  }

  readNode(name: string, opts?: CallOptions): Promise<V1Node> {
    return this.call({ verb: 'get', resource: 'nodes', name }, (o) => this.core.readNode({ name }, o), opts);
  }

  listDaemonSets(namespace: string, labelSelector?: string, opts?: CallOptions): Promise<V1DaemonSet[]> {
    return this.call(
      { verb: 'list', resource: 'daemonsets.apps', namespace },
      async (o) => (await this.apps.listNamespacedDaemonSet({ namespace, labelSelector }, o)).items,
      opts,
    );
  }

  readDaemonSet(namespace: string, name: string, opts?: CallOptions): Promise<V1DaemonSet> {
    return this.call(
      { verb: 'get', resource: 'daemonsets.apps', namespace, name },
      (o) => this.apps.readNamespacedDaemonSet({ namespace, name }, o),
      opts,
    );
  }

  readConfigMap(namespace: string, name: string, opts?: CallOptions): Promise<V1ConfigMap> {
    return this.call(
      { verb: 'get', resource: 'configmaps', namespace, name },
      (o) => this.core.readNamespacedConfigMap({ namespace, name }, o),
      opts,
    );
  }

  listPods(
    namespace: string,
    selectors: { labelSelector?: string; fieldSelector?: string } = {},
    opts?: CallOptions,
  ): Promise<V1Pod[]> {
    return this.call(
      { verb: 'list', resource: 'pods', namespace },
      (o) =>
        this.paged((c) =>
          this.core.listNamespacedPod({ namespace, ...selectors, limit: this.pageSize, _continue: c }, o),
        ),
      opts,
    );
  }

  listPodsAllNamespaces(labelSelector: string, opts?: CallOptions, fieldSelector?: string): Promise<V1Pod[]> {
    return this.call(
      { verb: 'list', resource: 'pods' },
      async (o) =>
        (await this.core.listPodForAllNamespaces({ labelSelector, ...(fieldSelector ? { fieldSelector } : {}) }, o))
          .items,
      opts,
    );
  }

  readPod(namespace: string, name: string, opts?: CallOptions): Promise<V1Pod> {
    return this.call(
      { verb: 'get', resource: 'pods', namespace, name },
      (o) => this.core.readNamespacedPod({ namespace, name }, o),
      opts,
    );
  }

  createPod(namespace: string, body: V1Pod, opts?: CallOptions): Promise<V1Pod> {
    return this.call(
      { verb: 'create', resource: 'pods', namespace, name: body.metadata?.name },
      (o) => this.core.createNamespacedPod({ namespace, body }, o),
      opts,
    );
  }

  async deletePod(namespace: string, name: string, opts?: CallOptions): Promise<void> {
    await this.call(
      { verb: 'delete', resource: 'pods', namespace, name },
      (o) =>
        this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0, propagationPolicy: 'Background' }, o),
      opts,
    );
  }

  readPodLog(
    namespace: string,
    name: string,
    container: string,
    q: { tailLines: number; previous: boolean },
    opts?: CallOptions,
  ): Promise<string> {
    return this.call(
      { verb: 'get', resource: 'pods/log', namespace, name },
      async (o) =>
        String(
          await this.core.readNamespacedPodLog(
            { namespace, name, container, tailLines: q.tailLines, previous: q.previous },
            o,
          ),
        ),
      opts,
    );
  }

  listNetworkPolicies(opts?: CallOptions): Promise<{ namespace: string; name: string }[]> {
    return this.call(
      { verb: 'list', resource: 'networkpolicies.networking.k8s.io' },
      async (o) =>
        (await this.networking.listNetworkPolicyForAllNamespaces({}, o)).items.map((p) => ({
          namespace: p.metadata?.namespace ?? '',
          name: p.metadata?.name ?? '',
        })),
      opts,
    );
  }
}
