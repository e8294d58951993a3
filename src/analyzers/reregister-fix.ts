/**
 * The fix for a Node whose podCIDR is wrong (overlapping another's, outside the Network). spec.podCIDR cannot be
 * changed once set, so the Node must be registered again: drained (its pods hold addresses of the old range),
 * deleted, registered again by its kubelet (kube-controller-manager then allocates a free range of its
 * --cluster-cidr), cni0 deleted (the bridge plugin keeps the old gateway address and refuses every new pod; it
 * re-creates the bridge for the new range) and flanneld restarted, which takes the new lease.
 * `alsoRestart`: other nodes whose flanneld must replay the leases (a lease that goes away takes its routes away
 * on every node, also when another node still holds the same range).
 */
export function reregisterFix(node: string, alsoRestart: readonly string[], why: string): string {
  const restart = [node, ...alsoRestart];
  const list = restart.length === 1 ? restart[0] : `${restart.slice(0, -1).join(', ')} and ${restart.at(-1)}`;
  return `In the cluster: kubectl drain ${node} --ignore-daemonsets --delete-emptydir-data --force && kubectl delete node ${node}, then restart the kubelet on ${node}, then on ${node}: ip link delete cni0, then restart the flannel pod${restart.length > 1 ? 's' : ''} on ${list} (${why}; a podCIDR cannot change in place: the kubelet registers the Node again and kube-controller-manager allocates it a free range of its --cluster-cidr; the drained pods come back in the new range through their controllers, bare pods must be created again by hand)`;
}
