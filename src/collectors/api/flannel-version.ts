/**
 * Which flannel runs in the cluster, per packaging, for `kubectl flannel version`:
 * - kube-flannel (the upstream manifest or its Helm chart): the DaemonSet locateFlannel finds, its flanneld
 *   container's image tag;
 * - Canal (projectcalico's canal.yaml, RKE2's rke2-canal): a kube-system DaemonSet labelled k8s-app=canal whose
 *   flannel container is named kube-flannel; that container's image tag;
 * - k3s: flannel is compiled into k3s, so no object carries flannel's version; the k3s version (the nodes'
 *   kubelet version) is reported and flannel's is "unknown".
 */
import type { V1DaemonSet, V1Node } from '@kubernetes/client-node';
import type { KubeClient } from '../../kube/client.js';
import { KubeAccessError } from '../../kube/errors.js';
import { type FlannelLocator, locateFlannel } from './cluster.js';

export type Packaging = 'kube-flannel' | 'canal' | 'k3s';

export type FlannelVersion =
  | {
      readonly found: true;
      readonly packaging: Packaging;
      /** flannel's version from the image tag (`v0.28.9`), or "unknown" when the tag does not say. */
      readonly version: string;
      readonly image?: string;
      /** namespace/name of the DaemonSet the version was read from. */
      readonly daemonSet?: string;
      readonly note?: string;
    }
  | { readonly found: false; readonly version: 'unknown'; readonly reason: string };

/** The tag of an image reference (`registry:5000/flannel:v0.28.9@sha256:…` → `v0.28.9`), or null. */
export function imageTag(image: string): string | null {
  const name = image.split('@')[0] ?? '';
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) || null : null;
}

/** flannel's version from a tag: the leading vX.Y.Z (rancher's `v0.25.1-build20240910` → `v0.25.1`), else the tag. */
export function versionFromTag(tag: string | null): string {
  if (!tag) return 'unknown';
  return /^v?\d+\.\d+\.\d+/.exec(tag)?.[0] ?? tag;
}

function fromDaemonSet(packaging: Packaging, ds: V1DaemonSet, container: string): FlannelVersion {
  const c = ds.spec?.template.spec?.containers.find((x) => x.name === container);
  const image = c?.image ?? '';
  return {
    found: true,
    packaging,
    version: versionFromTag(imageTag(image)),
    image,
    daemonSet: `${ds.metadata?.namespace ?? ''}/${ds.metadata?.name ?? ''}`,
  };
}

/** k3s reports itself in every node's kubelet version (`v1.33.4+k3s1`). */
export function k3sVersion(nodes: readonly V1Node[]): string | null {
  for (const n of nodes) {
    const v = n.status?.nodeInfo?.kubeletVersion ?? '';
    if (/\+k3s\d*$/.test(v)) return v;
  }
  return null;
}

/** Looks for each packaging in turn; cluster-access failures propagate (the caller reports "unknown"). */
export async function detectFlannelVersion(client: KubeClient, loc: FlannelLocator = {}): Promise<FlannelVersion> {
  try {
    const found = await locateFlannel(client, loc);
    // Embedded flannel has no DaemonSet: its version is the distribution's, found below.
    if (found.daemonSet)
      return fromDaemonSet(
        found.packaging.kind === 'canal' ? 'canal' : 'kube-flannel',
        found.daemonSet,
        found.container,
      );
  } catch (e) {
    // locateFlannel says "not found" as a UserError; anything from the API itself is rethrown.
    if (e instanceof KubeAccessError) throw e;
    if (!(e instanceof Error) || !/^flannel not found/.test(e.message)) throw e;
  }
  const canal = (await client.listDaemonSets('kube-system', 'k8s-app=canal'))[0];
  if (canal) return fromDaemonSet('canal', canal, 'kube-flannel');
  const k3s = k3sVersion(await client.listNodes());
  if (k3s)
    return {
      found: true,
      packaging: 'k3s',
      version: 'unknown',
      note: `flannel is built into k3s ${k3s}; no cluster object carries flannel's own version`,
    };
  return {
    found: false,
    version: 'unknown',
    reason: 'no kube-flannel DaemonSet (app=flannel in kube-flannel or kube-system), no Canal DaemonSet, not k3s',
  };
}
