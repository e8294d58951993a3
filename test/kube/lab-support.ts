/**
 * Shared by the tests that need the real lab (kube-apiserver + etcd + KWOK nodes running real
 * flanneld in network namespaces, built by lab/). They never start or stop the lab: when it is
 * not up they skip, saying so. Point them elsewhere with KF_LAB_KUBECONFIG.
 */
import fs from 'node:fs';
import { KubeClient } from '../../src/kube/client.js';
import { type LoadedKubeConfig, loadKubeConfig } from '../../src/kube/kubeconfig.js';

export const LAB_KUBECONFIG = process.env['KF_LAB_KUBECONFIG'] ?? '/var/run/kubectl-flannel-lab/kubeconfig';

export interface Lab {
  readonly cfg: LoadedKubeConfig;
  readonly client: KubeClient;
  readonly nodes: string[];
}

let probed: Promise<Lab | string> | null = null;

/** The lab, or the reason the lab tests skip. */
export function lab(): Promise<Lab | string> {
  probed ??= (async () => {
    if (!fs.existsSync(LAB_KUBECONFIG)) return `the lab is not up (no ${LAB_KUBECONFIG}; start it with lab/lab up)`;
    try {
      const cfg = loadKubeConfig({ kubeconfig: LAB_KUBECONFIG });
      const client = new KubeClient(cfg.kc, 10_000);
      const nodes = (await client.listNodes()).map((n) => n.metadata?.name ?? '').sort();
      if (nodes.length === 0) return 'the lab has no nodes';
      return { cfg, client, nodes };
    } catch (e) {
      return `the lab's API server does not answer (${(e as Error).message})`;
    }
  })();
  return probed;
}

/** For node:test's `skip` option: false when the lab is up, else the reason. */
export async function skipUnlessLab(): Promise<false | string> {
  const l = await lab();
  return typeof l === 'string' ? l : false;
}

export async function requireLab(): Promise<Lab> {
  const l = await lab();
  if (typeof l === 'string') throw new Error(l);
  return l;
}

/**
 * Why the lab is not pristine, or null. Fault injection (`lab/lab break` … `heal`) restarts
 * flanneld and leaves real leftovers behind (fdb entries for a MAC or IP that was briefly
 * published), which doctor rightly reports; "finds nothing" is only asserted on a fresh lab.
 */
export async function notPristine(lab: Lab): Promise<string | null> {
  const pods = await lab.client.listPods('kube-flannel');
  const restarted = pods
    .filter((p) => (p.status?.containerStatuses ?? []).some((c) => c.restartCount > 0))
    .map((p) => p.metadata?.name);
  return restarted.length
    ? `the lab is not fresh: flannel pods ${restarted.join(', ')} restarted (faults were injected and healed); restart it with lab/lab down && lab/lab up`
    : null;
}
