import { covers, overlaps, type Prefix, parsePrefix } from '../../net/cidr.js';
import { lowestFreeRange } from '../../net/free-range.js';
import { defineCheck } from '../check.js';
import type { ClusterContext } from '../context.js';
import type { FlannelNode, Model } from '../model.js';

export default defineCheck({
  id: 'podcidr-unset',
  severity: 'error',
  title: 'Every node has a podCIDR',
  failureModes: [1, 44],
  docs: {
    meaning:
      'The Node has no spec.podCIDR (or, with EnableIPv6, no IPv6 entry in spec.podCIDRs). flanneld takes its lease from the podCIDR in kube-subnet-mgr mode.',
    impact:
      'flanneld exits with `failed to acquire lease: node "X" pod cidr not assigned`, the flannel pod crash-loops, and pods on the node stay in ContainerCreating.',
    fix: 'Give the Node a free range of the Network: kubectl patch node <node> --type merge -p \'{"spec":{"podCIDR":"<range>","podCIDRs":["<range>"]}}\' (spec.podCIDR may be set only while it is empty; doctor names the range: the one the node\'s subnet.env still holds when no other node has it, else the lowest free one), then restart the flannel pod on <node>. Where kube-controller-manager allocates ranges (--allocate-node-cidrs=true --cluster-cidr=<Network>; kubeadm: --pod-network-cidr), leave it to it and read the Node\'s events for CIDRNotAvailable.',
  },
  scope: 'node',
  runNode({ model, node: n, cluster }, report) {
    // Without net-conf.json the families flanneld needs are unknown: only a node with no podCIDR at all is wrong
    // (an IPv6-only node has no IPv4 one).
    const known = model.netConf !== null;
    const v4 = known ? model.netConf?.enableIPv4 !== false : !n.podCIDR && !n.podCIDRv6;
    const v6 = known && model.netConf?.enableIPv6 === true;
    const missing = [v4 && !n.podCIDR ? 'IPv4' : null, v6 && !n.podCIDRv6 ? 'IPv6' : null].filter(
      (x): x is string => x !== null,
    );
    if (missing.length === 0) return;
    const fix = patchFix(model, n, cluster, v4, v6);
    report({
      node: n.name,
      message: `node has no ${missing.join(' or ')} podCIDR`,
      evidence: [`spec.podCIDRs: ${JSON.stringify(n.kube.podCIDRs)}`],
      ...(fix ? { fix } : {}),
    });
  },
});

/**
 * The exact patch when the Node has no range at all (the API accepts podCIDRs only from empty; one family set
 * and the other missing needs the Node registered again), with one free range per family flanneld needs.
 */
function patchFix(model: Model, n: FlannelNode, cluster: ClusterContext, v4: boolean, v6: boolean): string | null {
  if (n.kube.podCIDRs.length > 0) return null;
  const env = n.host?.subnetEnv.status === 'ok' ? n.host.subnetEnv.data : null;
  const ranges: Chosen[] = [];
  for (const [want, net, held, fallback] of [
    [v4, model.network, env?.subnet, 24],
    [v6, model.network6, env?.ipv6Subnet, 64],
  ] as const) {
    if (!want) continue;
    if (!net) return null;
    const r = freeRangeFor(net, held ?? null, fallback, cluster.podCIDRs);
    if (!r) return null;
    ranges.push(r);
  }
  if (ranges.length === 0) return null;
  const patch = JSON.stringify({ spec: { podCIDR: ranges[0]!.text, podCIDRs: ranges.map((r) => r.text) } });
  const why = ranges.map((r) => `${r.text}: ${r.why}`).join('; ');
  return `In the cluster: kubectl patch node ${n.name} --type merge -p '${patch}', then restart the flannel pod on ${n.name} (${why}; spec.podCIDR may be set only while it is empty. Where kube-controller-manager allocates ranges, --allocate-node-cidrs=true, leave it to it instead: read the Node's events for CIDRNotAvailable and check its --cluster-cidr)`;
}

type Chosen = Prefix & { readonly why: string };

/**
 * The range flanneld on the node still holds (subnet.env), when it lies in the Network and no Node has it: its
 * running pods keep their addresses. Else the lowest free range of the length the other Nodes' ranges share
 * (kube-controller-manager's --node-cidr-mask-size; its defaults /24 and /64 when they do not agree).
 */
function freeRangeFor(net: Prefix, held: string | null, fallback: number, taken: readonly Prefix[]): Chosen | null {
  const family = taken.filter((t) => t.family === net.family);
  const lengths = new Set(family.map((t) => t.length));
  const length = lengths.size === 1 ? [...lengths][0]! : fallback;
  const h = held ? parsePrefix(held) : null;
  if (h && h.length === length && covers(net, h) && !family.some((t) => overlaps(t, h)))
    return { ...h, why: 'the range its subnet.env still holds, which no Node has' };
  const r = lowestFreeRange(net, length, family);
  return r ? { ...r, why: `the lowest range of Network ${net.text} no Node has` } : null;
}
