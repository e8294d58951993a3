/**
 * Helper pods: one per node, only where the node's flannel pod cannot do the job (absent, not
 * running, missing a tool, or work inside a pod's network namespace).
 *
 * They must never outlive the run: every pod carries the HELPER labels (so `kubectl flannel
 * cleanup` finds leftovers), `activeDeadlineSeconds` (the kubelet kills it even if this
 * process is SIGKILLed), and the registry below deletes them on success, error, SIGINT and
 * SIGTERM, including pods whose create request was still in flight.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../kube/client.js';
import { KubeAccessError } from '../../kube/errors.js';

export const HELPER_LABELS = {
  'app.kubernetes.io/name': 'kubectl-flannel',
  'app.kubernetes.io/component': 'node-helper',
} as const;
export const HELPER_SELECTOR = Object.entries(HELPER_LABELS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');
export const RUN_LABEL = 'kubectl-flannel/run';
export const NODE_LABEL = 'kubectl-flannel/node';
export const HELPER_CONTAINER = 'helper';

/** Capabilities the node commands need: netlink dumps and iptables (NET_ADMIN, NET_RAW), setns for pod netns (SYS_ADMIN). */
export const HELPER_CAPABILITIES = ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'] as const;

export interface HelperPodOptions {
  readonly namespace: string;
  readonly image: string;
  readonly imagePullSecrets: readonly string[];
  /** Short id shared by all helper pods of one run. */
  readonly runId: string;
  /** Dead-man switch: the kubelet kills the pod after this many seconds whatever happens to us. */
  readonly deadlineSeconds: number;
  /** Node directories the packaging keeps flannel's files in (k3s: under /var/lib/rancher/k3s), mounted read-only. */
  readonly hostPaths?: readonly string[];
}

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

/** A DNS-1123 label (≤ 63 chars) derived from a node name, with a hash when it had to be shortened. */
export function labelSafe(value: string, max = 63): string {
  const cleaned = value
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  if (cleaned.length <= max && cleaned === value) return cleaned;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 6);
  return `${cleaned.slice(0, max - 7).replace(/-+$/, '')}-${hash}`;
}

export function helperPodName(node: string, runId: string): string {
  return `kubectl-flannel-${runId}-${labelSafe(node, 63 - 'kubectl-flannel-'.length - runId.length - 1)}`;
}

/** The helper pod for `node`: pinned, host namespaces, minimal capabilities, bounded resources and lifetime. */
export function helperPodSpec(node: string, o: HelperPodOptions): V1Pod {
  const hostPath = (name: string, path: string, propagation?: string) => ({
    volume: { name, hostPath: { path } },
    mount: { name, mountPath: path, readOnly: true, ...(propagation ? { mountPropagation: propagation } : {}) },
  });
  const mounts = [
    hostPath('run-flannel', '/run/flannel'),
    hostPath('cni-conf', '/etc/cni/net.d'),
    // Pod network namespaces are bind mounts created after the helper starts: propagate them in.
    hostPath('netns', '/var/run/netns', 'HostToContainer'),
  ];
  for (const [i, path] of (o.hostPaths ?? []).entries())
    if (!mounts.some((m) => m.mount.mountPath === path)) mounts.push(hostPath(`flannel-files-${i}`, path));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: helperPodName(node, o.runId),
      namespace: o.namespace,
      labels: { ...HELPER_LABELS, [RUN_LABEL]: o.runId, [NODE_LABEL]: labelSafe(node) },
      annotations: {
        'kubectl-flannel/node-name': node,
        'kubectl-flannel/expires-at': new Date(Date.now() + o.deadlineSeconds * 1000).toISOString(),
      },
    },
    spec: {
      // nodeName bypasses the scheduler: the pod lands on this node even when it is cordoned or full.
      nodeName: node,
      hostNetwork: true,
      hostPID: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      restartPolicy: 'Never',
      activeDeadlineSeconds: o.deadlineSeconds,
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      tolerations: [{ operator: 'Exists' }],
      ...(o.imagePullSecrets.length ? { imagePullSecrets: o.imagePullSecrets.map((name) => ({ name })) } : {}),
      containers: [
        {
          name: HELPER_CONTAINER,
          image: o.image,
          imagePullPolicy: 'IfNotPresent',
          // The flannel image's entrypoint is flanneld; the helper only has to stay alive until deleted.
          command: ['sleep', String(o.deadlineSeconds)],
          securityContext: {
            privileged: false,
            runAsUser: 0,
            capabilities: { drop: ['ALL'], add: [...HELPER_CAPABILITIES] },
          },
          resources: {
            requests: { cpu: '10m', memory: '16Mi' },
            limits: { cpu: '250m', memory: '128Mi' },
          },
          volumeMounts: mounts.map((m) => m.mount),
        },
      ],
      volumes: mounts.map((m) => m.volume),
    },
  };
}

/** Waiting reasons after which the pod will not start without someone's help. */
const STUCK = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export interface HelperPodRef {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
}

/**
 * Creates helper pods on demand (at most one per node) and guarantees their deletion.
 */
export class HelperPods {
  private readonly byNode = new Map<string, Promise<HelperPodRef>>();
  /** Every pod we asked the API server to create, whether or not the create returned. */
  private readonly requested = new Map<string, HelperPodRef>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly client: KubeClient,
    readonly options: HelperPodOptions,
    private readonly startTimeoutMs = 60_000,
  ) {}

  /** The running helper pod on `node`, created on first use. */
  ensure(node: string, signal?: AbortSignal): Promise<HelperPodRef> {
    let p = this.byNode.get(node);
    if (!p) {
      p = this.start(node, signal);
      this.byNode.set(node, p);
      // A failed start may be retried by a later caller.
      p.catch(() => this.byNode.delete(node));
    }
    return p;
  }

  private async start(node: string, signal?: AbortSignal): Promise<HelperPodRef> {
    if (this.closed) throw new Error('helper pods are being cleaned up; not creating more');
    const body = helperPodSpec(node, this.options);
    const ref = { namespace: this.options.namespace, name: body.metadata!.name!, node };
    this.requested.set(ref.name, ref);
    const create = this.client.createPod(ref.namespace, body, { signal });
    this.inFlight.add(create);
    try {
      await create;
    } catch (e) {
      if (!(e instanceof KubeAccessError && e.httpStatus === 409)) throw e;
      // 409: a pod of this name exists already (a retried start); it is ours, keep using it.
    } finally {
      this.inFlight.delete(create);
    }
    try {
      await this.waitRunning(ref, signal);
    } catch (e) {
      await this.deleteOne(ref).catch(() => undefined);
      throw e;
    }
    return ref;
  }

  private async waitRunning(ref: HelperPodRef, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const pod = await this.client.readPod(ref.namespace, ref.name, { signal });
      const phase = pod.status?.phase;
      const cs = pod.status?.containerStatuses?.find((c) => c.name === HELPER_CONTAINER);
      if (phase === 'Running' && cs?.state?.running) return;
      if (phase === 'Failed' || phase === 'Succeeded') {
        throw new Error(
          `helper pod ${ref.namespace}/${ref.name} on node ${ref.node} ended (${phase}${pod.status?.reason ? `: ${pod.status.reason}` : ''})`,
        );
      }
      const waiting = cs?.state?.waiting;
      if (waiting?.reason && STUCK.has(waiting.reason)) {
        throw new Error(
          `helper pod ${ref.namespace}/${ref.name} on node ${ref.node} cannot start: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}; ` +
            'pass --image (and --image-pull-secret) with an image the node can pull',
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `helper pod ${ref.namespace}/${ref.name} on node ${ref.node} not running after ${Math.round(this.startTimeoutMs / 1000)} s (phase ${phase ?? 'unknown'}${waiting?.reason ? `, ${waiting.reason}` : ''})`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private async deleteOne(ref: HelperPodRef): Promise<void> {
    try {
      await this.client.deletePod(ref.namespace, ref.name, { timeoutMs: 10_000, detached: true });
    } catch (e) {
      if (e instanceof KubeAccessError && e.kind === 'not-found') return;
      throw e;
    }
  }

  /** Pods this run asked for so far. */
  names(): string[] {
    return [...this.requested.keys()];
  }

  /**
   * Deletes every helper pod of this run, after letting in-flight creates land (a create that
   * lands after its delete would leak until activeDeadlineSeconds).
   */
  async deleteAll(): Promise<{ deleted: string[]; failed: { name: string; error: string }[] }> {
    this.closed = true;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, 5000))]);
    const refs = [...this.requested.values()];
    const results = await Promise.allSettled(refs.map((r) => this.deleteOne(r)));
    const deleted: string[] = [];
    const failed: { name: string; error: string }[] = [];
    results.forEach((r, i) => {
      const name = refs[i]!.name;
      if (r.status === 'fulfilled') deleted.push(name);
      else failed.push({ name, error: (r.reason as Error).message });
    });
    // A create aborted on our side may still have landed on the server: sweep by this run's label.
    if (refs.length) {
      try {
        const left = await this.client.listPods(
          this.options.namespace,
          { labelSelector: `${RUN_LABEL}=${this.options.runId}` },
          { timeoutMs: 10_000, detached: true },
        );
        for (const p of left) {
          const ref = { namespace: this.options.namespace, name: p.metadata?.name ?? '', node: p.spec?.nodeName ?? '' };
          if (p.metadata?.deletionTimestamp) continue;
          try {
            await this.deleteOne(ref);
            if (!deleted.includes(ref.name)) deleted.push(ref.name);
          } catch (e) {
            failed.push({ name: ref.name, error: (e as Error).message });
          }
        }
      } catch (e) {
        failed.push({ name: `pods labelled ${RUN_LABEL}=${this.options.runId}`, error: (e as Error).message });
      }
    }
    this.requested.clear();
    return { deleted, failed };
  }
}

/** Deletes every helper pod left by any run (`kubectl flannel cleanup`), in all namespaces. */
export async function deleteLeftoverHelperPods(
  client: KubeClient,
  opts: { namespace?: string } = {},
): Promise<{ deleted: HelperPodRef[]; failed: { pod: HelperPodRef; error: string }[] }> {
  const pods = opts.namespace
    ? await client.listPods(opts.namespace, { labelSelector: HELPER_SELECTOR })
    : await client.listPodsAllNamespaces(HELPER_SELECTOR);
  const refs = pods.map((p) => ({
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    node: p.spec?.nodeName ?? '',
  }));
  const results = await Promise.allSettled(refs.map((r) => client.deletePod(r.namespace, r.name)));
  const deleted: HelperPodRef[] = [];
  const failed: { pod: HelperPodRef; error: string }[] = [];
  results.forEach((r, i) => {
    const pod = refs[i]!;
    if (r.status === 'fulfilled' || (r.reason instanceof KubeAccessError && r.reason.kind === 'not-found'))
      deleted.push(pod);
    else failed.push({ pod, error: (r.reason as Error).message });
  });
  return { deleted, failed };
}

/**
 * On SIGINT/SIGTERM: abort the run, run `cleanup` (bounded), then exit with 130/143. A second
 * signal exits at once and says how to remove what is left.
 */
export function installSignalCleanup(
  controller: AbortController,
  cleanup: () => Promise<void>,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): () => void {
  let cleaning = false;
  const handler = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? 130 : 143;
    if (cleaning) {
      log(`${sig} again: exiting now; remove leftover helper pods with: kubectl flannel cleanup`);
      process.exit(code);
    }
    cleaning = true;
    log(`${sig}: stopping; helper pods are deleted before exit`);
    controller.abort(new Error(`interrupted by ${sig}`));
    const bound = new Promise<void>((r) => setTimeout(r, 15_000).unref());
    void Promise.race([
      cleanup().catch((e: Error) => log(`cleanup failed: ${e.message}; run: kubectl flannel cleanup`)),
      bound,
    ]).finally(() => process.exit(code));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
