/** Pods' own eth0 paired with their host-side veth (a Link of the node), where the pods' namespaces were read. */
import { sameIP } from '../net/cidr.js';
import type { HostState, Link, PodInterface } from '../snapshot/types.js';
import { ok } from './model.js';

export interface PodEnd {
  /** The pod's end, inside its namespace: the MTU the pod sends with and takes in. */
  readonly pod: PodInterface;
  /** Its peer in the node's namespace: cni0's port (a cali veth on Canal). */
  readonly veth: Link;
}

/**
 * Each pod end whose peer is a veth of this node: the host veth points at the pod's namespace (its link-netnsid is
 * the namespace's id here) and at the pod end's ifindex, and the pod end at the host veth's. Namespace ids and
 * ifindexes are per namespace, so only all three together name one pair.
 */
export function podEndsOf(host: HostState): readonly PodEnd[] {
  const pods = ok(host.podInterfaces) ?? [];
  const links = ok(host.links) ?? [];
  const ends: PodEnd[] = [];
  if (pods.length > 0) {
    const byPeer = new Map<string, Link>();
    for (const l of links) if (isPodPort(l) && l.parent) byPeer.set(`${l.linkNetnsId} ${l.parent}`, l);
    for (const pod of pods) {
      const veth = byPeer.get(`${pod.nsid} if${pod.ifindex}`);
      if (veth && veth.ifindex === pod.peerIfindex) ends.push({ pod, veth });
    }
  }
  return ends;
}

/** The pod end that holds `ip`, or undefined (its namespace was not read, or the address is no pod's here). */
export function podEndOf(host: HostState, ip: string): PodEnd | undefined {
  return podEndsOf(host).find((e) => e.pod.addresses.some((a) => sameIP(a.local, ip)));
}

/**
 * A pod's host-side veth: a port of cni0 (the bridge CNI) or a cali veth (Calico's CNI on Canal), with its peer in
 * another namespace. Any other veth into a named namespace (a node's own tooling) is not a pod's.
 */
function isPodPort(l: Link): boolean {
  return l.linkNetnsId !== undefined && (l.master === 'cni0' || l.name.startsWith('cali'));
}

/** A pod as a finding names it: its address and its namespace's file name (the snapshot holds no Pod objects). */
export function podLabel(pod: PodInterface): string {
  const ip = pod.addresses.find((a) => a.family === 'inet') ?? pod.addresses[0];
  const ns = pod.netns.slice(pod.netns.lastIndexOf('/') + 1);
  return ip ? `${ip.local} (netns ${ns})` : `in netns ${ns}`;
}

/** The command that sets a pod end's MTU from the node (its namespace entered by file, as CNI does). */
export function podMtuCommand(pod: PodInterface, mtu: number): string {
  return `nsenter --net=${pod.netns} ip link set dev ${pod.name} mtu ${mtu}`;
}
