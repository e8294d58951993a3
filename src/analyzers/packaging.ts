/** Which packaging the snapshot was collected from, and the flanneld flags it implies, for the checks. */
import type { Packaging } from '../snapshot/types.js';
import type { Model } from './model.js';

/** Snapshots from before packagings were told apart are kube-flannel. */
export function packagingOf(model: Model): Packaging {
  const f = model.snapshot.cluster.flannel;
  return (f.status === 'ok' ? f.data.packaging : undefined) ?? { kind: 'kube-flannel' };
}

/** flanneld's command-line flags, when known (the DaemonSet's container); [] for embedded flannel. */
export function flanneldArgs(model: Model): readonly string[] {
  const f = model.snapshot.cluster.flannel;
  return f.status === 'ok' ? (f.data.daemonSet?.args ?? []) : [];
}

/** A Go bool flag: `--name`, `--name=true|false` (also `-name`), last one wins; `dflt` when absent. */
export function boolFlag(args: readonly string[], name: string, dflt: boolean): boolean {
  let v = dflt;
  for (const a of args) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a);
    if (!m || m[1] !== name) continue;
    v = m[2] === undefined ? true : /^(1|t|true)$/i.test(m[2]);
  }
  return v;
}

/**
 * The checks say "restart the flannel pod", kube-flannel's way to restart flanneld. k3s has no flannel pod: its
 * flanneld runs inside k3s, so the same action is restarting the k3s service on that node (k3s-agent on agents).
 * Returns the rewrite of a fix for the snapshot's packaging, or null where the checks' words already fit.
 */
export function restartFor(p: Packaging): ((fix: string) => string) | null {
  if (p.kind !== 'embedded' || p.distribution !== 'k3s') return null;
  const service = 'systemctl restart k3s (k3s runs flanneld embedded; k3s-agent on an agent node)';
  return (fix) =>
    fix
      .replace(/ \(kubectl -n \S+ delete pod [^()]*\)/g, '')
      .replace(
        /^Restart (?:the flannel pod|flanneld) on (\S+?)(?=[\s,.:;(]|$)/,
        (_m, node: string) => `On ${node}: ${service}`,
      )
      .replace(/, then restart the flannel pod\b/g, ', then systemctl restart k3s');
}

/**
 * The checks write flannel's pod as `kubectl -n kube-flannel delete pod <pod>` (or `logs <pod>`). Where the
 * snapshot has the pod on the finding's node, the command names it and the namespace flannel runs in (Canal:
 * kube-system, whose pods also run calico-node, so its logs name the kube-flannel container), so it can be pasted.
 * Returns null for embedded flannel (no pod) and snapshots whose pods were not read.
 */
export function podCommandsFor(model: Model): ((fix: string, node: string | null) => string) | null {
  const f = model.snapshot.cluster.flannel;
  const pods = model.snapshot.cluster.flannelPods;
  if (f.status !== 'ok' || pods.status !== 'ok' || packagingOf(model).kind === 'embedded') return null;
  const byNode = new Map<string, (typeof pods.data)[number][]>();
  for (const p of pods.data) if (p.node !== null) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
  const logs = packagingOf(model).kind === 'canal' ? 'logs -c kube-flannel' : 'logs';
  return (fix, node) => {
    const own = node === null ? undefined : byNode.get(node);
    // Two pods on one node (a rollout in flight): which one to name is not known.
    const pod = own?.length === 1 ? own[0] : undefined;
    if (!pod) return fix;
    return fix.replace(
      /kubectl -n kube-flannel (delete pod|logs) <pod>/g,
      (_m, verb: string) => `kubectl -n ${pod.namespace} ${verb === 'logs' ? logs : verb} ${pod.name}`,
    );
  };
}
