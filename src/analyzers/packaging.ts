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
