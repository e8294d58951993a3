import { defineCheck } from '../check.js';
import { ok } from '../model.js';
import { podEndsOf, podLabel, podMtuCommand } from '../pod-ends.js';

export default defineCheck({
  id: 'pod-eth0-mtu',
  severity: 'error',
  title: "A pod's eth0 has the MTU of its host-side veth",
  failureModes: [34],
  docs: {
    meaning:
      "The CNI plugin creates both ends of a pod's veth with FLANNEL_MTU. An eth0 whose MTU was changed later (by a process in the pod with NET_ADMIN, a sidecar, an init script) no longer matches its peer on the node. A veth drops every frame above the receiving end's MTU without an ICMP: packets larger than the smaller end die there, in the direction toward it. Read inside each pod's network namespace, so only where the collector can enter them (--node-access helper-pod, --local); a kube-flannel pod mounts no /var/run/netns.",
    impact:
      'Small packets pass, so ping and DNS work; TCP transfers and TLS handshakes to or from the pod stall when the pod advertises a larger MSS than the path carries (eth0 above the veth), or large UDP packets toward the pod vanish (eth0 below the veth).',
    fix: 'On <node>: nsenter --net=<the pod netns file> ip link set dev eth0 mtu <the host veth MTU>, and find what changed it in the pod; re-creating the pod gives it FLANNEL_MTU again.',
  },
  scope: 'node',
  runNode({ node: n }, report) {
    if (!n.host) return;
    const F = ok(n.host.subnetEnv)?.mtu ?? null;
    for (const { pod, veth } of podEndsOf(n.host)) {
      if (pod.mtu === veth.mtu) continue;
      // a host veth out of step with FLANNEL_MTU is the mtu check's (the pod was created under another MTU); a pod
      // end that kept FLANNEL_MTU is then the right one
      if (F !== null && veth.mtu !== F && pod.mtu === F) continue;
      const want = F ?? veth.mtu;
      const above = pod.mtu > veth.mtu;
      report({
        node: n.name,
        message: above
          ? `pod ${podLabel(pod)}: ${pod.name} MTU ${pod.mtu} is above its host veth ${veth.name} MTU ${veth.mtu}: the pod's packets of ${veth.mtu + 1}-${pod.mtu} bytes die at ${veth.name} on ${n.name}`
          : `pod ${podLabel(pod)}: ${pod.name} MTU ${pod.mtu} is below its host veth ${veth.name} MTU ${veth.mtu}: packets of ${pod.mtu + 1}-${veth.mtu} bytes toward the pod die at its ${pod.name}`,
        evidence: [
          `${pod.netns}: ${pod.name}@if${pod.peerIfindex} mtu ${pod.mtu}`,
          `${veth.name}@if${pod.ifindex} mtu ${veth.mtu}${veth.master ? ` master ${veth.master}` : ''}`,
          ...(F !== null ? [`FLANNEL_MTU=${F}`] : []),
        ],
        fix: `On ${n.name}: ${podMtuCommand(pod, want)}`,
      });
    }
  },
});
