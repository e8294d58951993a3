/**
 * The catalog's lab faults (src/analyzers/fault-catalog) with what the e2e test needs beyond the catalog's data:
 * the state probes it names, and each role's node as the lab's API shows it (for evidence patterns).
 */
import { FAULT_CATALOG } from '../../src/analyzers/fault-catalog/catalog.js';
import type {
  FaultEntry,
  LabBackend,
  LabPackaging,
  NodeVars,
  ProbeName,
  Role,
  RunVars,
} from '../../src/analyzers/fault-catalog/types.js';
import { inNode, kubectlJSON, type Lab, type LabPod, run } from './lab.js';

export type { LabBackend as Backend, Role };

export interface FaultContext {
  lab: Lab;
  node: string;
  peer: string;
  third: string;
  pods: LabPod[];
}

export interface LabFault {
  readonly name: string;
  readonly changes: string;
  readonly lab: LabPackaging;
}

export const FAULTS: readonly LabFault[] = FAULT_CATALOG.filter(
  (e): e is FaultEntry & { lab: LabPackaging } => e.lab !== undefined,
).map((e) => ({ name: e.id, changes: e.changes, lab: e.lab }));

/** The state probes the catalog names: true while the fault is in place, false once healed. */
export const PROBES: Readonly<Record<ProbeName, { what: string; check: (c: FaultContext) => boolean }>> = {
  'flanneld-healthz-down': { what: 'flanneld healthz on node:8081', check: (c) => !healthz(c, c.node) },
  'peer-route-missing': {
    what: "node's route to peer's podCIDR",
    check: (c) => !routeExists(c.node, podCIDR(c, c.peer)),
  },
  'annotations-gone': {
    what: "node's flannel annotations",
    check: (c) => nodeAnnotation(c, c.node, 'flannel.alpha.coreos.com/public-ip') === undefined,
  },
  'forward-policy-drop': {
    what: 'FORWARD policy on node',
    check: (c) => /-P FORWARD DROP/.test(inNodeOut(c.node, ['iptables', '-S', 'FORWARD'])),
  },
  'stale-route-present': {
    what: 'route to 10.244.250.0/24 on node',
    check: (c) => routeExists(c.node, '10.244.250.0/24'),
  },
  'network-unavailable': {
    what: 'NetworkUnavailable condition',
    check: (c) => conditionStatus(c, c.node, 'NetworkUnavailable') === 'True',
  },
  'public-ip-99': {
    what: "node's public-ip annotation",
    check: (c) => nodeAnnotation(c, c.node, 'flannel.alpha.coreos.com/public-ip')?.endsWith('.99') === true,
  },
  'route6-missing': {
    what: "node's IPv6 route to the peer's podCIDR",
    check: (c) => !routeExists(c.node, nodeJSON(c, c.peer).spec.podCIDRs?.[1] ?? 'none', true),
  },
  'nft-postrtg-no-masquerade': {
    what: 'postrtg rules on node',
    check: (c) => !/masquerade/.test(inNodeOut(c.node, ['nft', 'list', 'chain', 'ip', 'flannel-ipv4', 'postrtg'])),
  },
  'eth0-mtu-9000': {
    what: "node's eth0 MTU",
    check: (c) => inNode(c.node, ['cat', '/sys/class/net/eth0/mtu']).stdout.trim() === '9000',
  },
  'podcidr-empty': { what: "node's spec.podCIDR", check: (c) => podCIDR(c, c.node) === '' },
  // not compared with the node's backend-type annotation: flanneld's udp backend publishes backend-type "" and
  // backend-data "null" (seen in the lab), so a doctor check must not read "" as a mismatch either
  'netconf-backend-differs': {
    what: 'ConfigMap backend vs the backend flanneld runs',
    check: (c) => configMapBackend(c) !== runningType(c),
  },
};

/** Each role's node as the API shows it, read before the fault is injected. */
export function runVars(c: FaultContext): RunVars {
  const one = (name: string): NodeVars => {
    const n = nodeJSON(c, name);
    const cidr = n.spec.podCIDR ?? '';
    const ip = n.status.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
    return { name, ip, podCIDR: cidr, podNet: cidr.split('/')[0] ?? '' };
  };
  return { node: one(c.node), peer: one(c.peer), third: one(c.third) };
}

// --- state probes ----------------------------------------------------------------------------------------------

function inNodeOut(node: string, cmd: string[]): string {
  return inNode(node, cmd).stdout;
}
function routeExists(node: string, cidr: string, ipv6 = false): boolean {
  return inNodeOut(node, ['ip', ...(ipv6 ? ['-6'] : []), 'route', 'show', cidr]).trim() !== '';
}
interface NodeJSON {
  metadata: { annotations?: Record<string, string> };
  spec: { podCIDR?: string; podCIDRs?: string[] };
  status: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] };
}
function nodeJSON(c: FaultContext, node: string): NodeJSON {
  return kubectlJSON<NodeJSON>(c.lab, ['get', 'node', node]);
}
function podCIDR(c: FaultContext, node: string): string {
  return nodeJSON(c, node).spec.podCIDR ?? '';
}
function conditionStatus(c: FaultContext, node: string, type: string): string | undefined {
  return nodeJSON(c, node).status.conditions?.find((x) => x.type === type)?.status;
}
function nodeAnnotation(c: FaultContext, node: string, key: string): string | undefined {
  return nodeJSON(c, node).metadata.annotations?.[key];
}
function runningType(c: FaultContext): string {
  return c.lab.backend === 'vxlan-directrouting' ? 'vxlan' : c.lab.backend;
}
function configMapBackend(c: FaultContext): string | undefined {
  const cm = kubectlJSON<{ data: Record<string, string> }>(c.lab, [
    '-n',
    'kube-flannel',
    'get',
    'configmap',
    'kube-flannel-cfg',
  ]);
  const netconf = JSON.parse(cm.data['net-conf.json'] ?? '{}') as { Backend?: { Type?: string } };
  return netconf.Backend?.Type;
}
function healthz(c: FaultContext, node: string): boolean {
  const ip = nodeJSON(c, node).status.addresses?.find((a) => a.type === 'InternalIP')?.address;
  return ip !== undefined && run('curl', ['-fs', '--max-time', '2', `http://${ip}:8081/healthz`]).code === 0;
}
