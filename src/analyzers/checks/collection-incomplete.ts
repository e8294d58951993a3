import type { HostState } from '../../snapshot/types.js';
import { defineCheck } from '../check.js';

/** Parts every backend's checks read; a failure there hides real problems. */
const CORE: readonly (keyof HostState)[] = [
  'links',
  'routes',
  'neighbours',
  'fdb',
  'subnetEnv',
  'sysctls',
  'firewall',
  'cni',
];
const BY_BACKEND: Readonly<Record<string, readonly (keyof HostState)[]>> = {
  ipsec: ['xfrmStates', 'xfrmPolicies'],
  wireguard: ['wireguard'],
  'host-gw': ['routeGets'],
  vxlan: [],
};

/** The parts of a node's state the checks read for a backend: a gap in these is reported. */
export function relevantParts(backend: string | null): readonly (keyof HostState)[] {
  return [...CORE, ...(backend ? (BY_BACKEND[backend] ?? []) : [])];
}

export default defineCheck({
  id: 'collection-incomplete',
  severity: 'warning',
  title: 'Everything doctor needs was collected',
  failureModes: [],
  docs: {
    meaning:
      'A node, an API object or a command could not be collected (exec failed, timeout, missing tool or permission). Checks stay silent on what they cannot see, so a problem there would go unreported.',
    impact: 'The report may be incomplete: a clean verdict does not cover what was not collected.',
    fix: 'Re-run doctor for the node (--node <node>) and read the reason; grant the missing permission (rbac/clusterrole.yaml) or use --image for a helper pod with the missing tool.',
  },
  scope: 'cluster',
  run({ model, summaries, errors }, report) {
    const c = model.snapshot.cluster;
    for (const [what, part] of [
      ['flannel installation', c.flannel],
      ['Nodes', c.nodes],
      ['flannel pods', c.flannelPods],
      ['NetworkPolicies', c.networkPolicies],
    ] as const) {
      if (part.status === 'failed' || part.status === 'timeout')
        report({
          node: null,
          message: `${what} could not be read: ${part.error}`,
          evidence: [`${what}: ${part.status}: ${part.error}`],
        });
    }
    for (const n of summaries) {
      if (n.hostError !== null) {
        report({
          node: n.name,
          message: `kernel state was not collected: ${n.hostError}`,
          evidence: [`${n.name}: ${n.hostError}`],
        });
        continue;
      }
      for (const { part, status, error } of n.gaps)
        report({
          node: n.name,
          message: `${part} was not collected (${status}): ${error}`,
          evidence: [`${part}: ${status}: ${error}`],
        });
    }
    for (const e of errors)
      report({ node: e.node, message: `${e.what}: ${e.error}`, evidence: [`${e.what}: ${e.error}`] });
  },
});
