/**
 * Resolves trace's SRC and DST to IP addresses: an IP stays as it is; NAMESPACE/NAME or NAME
 * (in the kubeconfig context's namespace) is read from the API. Unless the user focused
 * collection with --node, only the nodes the two pods run on are collected.
 */
import type { Command } from 'commander';
import { EXIT, UserError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { KubeAccessError } from '../kube/errors.js';
import { familyOf } from '../net/cidr.js';
import { DEFAULTS, parseDuration } from './cluster-options.js';

export async function resolvePodIPs(cmd: Command, args: readonly string[]): Promise<string[]> {
  const o = cmd.opts<{ kubeconfig?: string; context?: string; requestTimeout?: number; node?: string[] }>();
  if (args.every((a) => familyOf(a))) return [...args];
  try {
    // Loaded on use, not at start: the Kubernetes client and ink are most of the start-up time (bench/startup.sh).
    const [{ KubeClient }, { loadKubeConfig }] = await Promise.all([
      import('../kube/client.js'),
      import('../kube/kubeconfig.js'),
    ]);
    const cfg = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context });
    const client = new KubeClient(
      cfg.kc,
      o.requestTimeout ?? parseDuration(DEFAULTS.requestTimeout, '--request-timeout'),
    );
    const defaultNs = cfg.namespace ?? 'default';
    const nodes = new Set<string>();
    const ips: string[] = [];
    for (const a of args) {
      if (familyOf(a)) {
        ips.push(a);
        continue;
      }
      const [ns, name] = a.includes('/') ? (a.split('/', 2) as [string, string]) : [defaultNs, a];
      const pod = await client.readPod(ns, name).catch(async (e: unknown) => {
        if (a.includes('/') || !(e instanceof KubeAccessError) || e.kind !== 'not-found') throw e;
        throw new UserError(await notInNamespace(client, ns, name), EXIT.usage);
      });
      const ip = pod.status?.podIP;
      if (!ip) throw new UserError(`pod ${ns}/${name} has no IP yet (phase ${pod.status?.phase ?? 'unknown'})`);
      if (pod.spec?.hostNetwork)
        throw new UserError(
          `pod ${ns}/${name} uses the host network (${ip}); trace pod-network pods, or give node IPs`,
        );
      if (pod.spec?.nodeName) nodes.add(pod.spec.nodeName);
      ips.push(ip);
    }
    if (!o.node?.length && nodes.size) cmd.setOptionValue('node', [...nodes]);
    return ips;
  } catch (e) {
    if (e instanceof KubeAccessError)
      throw new UserError(e.message, e.kind === 'not-found' ? EXIT.usage : EXIT.cluster);
    throw e;
  }
}

/**
 * A bare NAME is looked up in the context's namespace, as kubectl does; the pod is often in another one. Saying
 * where it is spares the user a `kubectl get pods -A`. The search is one list filtered by the API server; if it
 * is refused, the message says only what was not found.
 */
async function notInNamespace(client: KubeClient, ns: string, name: string): Promise<string> {
  const base = `no pod ${name} in namespace ${ns} (the context's namespace)`;
  const elsewhere = await client
    .listPodsAllNamespaces('', undefined, `metadata.name=${name}`)
    .then((pods) => [...new Set(pods.map((p) => p.metadata?.namespace ?? '').filter(Boolean))].sort())
    .catch(() => null);
  if (elsewhere === null) return `${base}; give NAMESPACE/NAME`;
  if (elsewhere.length === 0) return `${base}, nor in any other namespace`;
  const shown = elsewhere.slice(0, 3).map((n) => `${n}/${name}`);
  return `${base}; give NAMESPACE/NAME: ${shown.join(', ')}${elsewhere.length > 3 ? `, … (${elsewhere.length} namespaces)` : ''}`;
}
