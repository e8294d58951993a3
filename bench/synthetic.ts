/**
 * A synthetic N-node vxlan cluster: every node with a route, neighbour and fdb entry per peer
 * (about N of each per node), healthy unless a fault is asked for. Used by bench/analyze.ts and by
 * the large-cluster report test.
 *
 * Faults:
 * - `underlay-ip-changed`: node-0 came back with a new underlay IP (its Node, lease, eth0 and
 *   flannel.1 carry it), but every peer's fdb entry for node-0's VtepMAC still sends to the old one.
 */
import type { HostState, KubeNode, Link, Route, Snapshot } from '../src/snapshot/types.js';
import { SCHEMA_VERSION } from '../src/snapshot/types.js';

export type SyntheticFault = 'underlay-ip-changed';
export const SYNTHETIC_FAULTS: readonly SyntheticFault[] = ['underlay-ip-changed'];

const ip = (k: number) => `172.${16 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
const podNet = (k: number) => `10.${(k >> 8) + 1}.${k & 255}.0`;
const mac = (k: number) =>
  `0a:58:00:00:${((k >> 8) & 255).toString(16).padStart(2, '0')}:${(k & 255).toString(16).padStart(2, '0')}`;
/** Where node k's underlay is now: node-0 moved to an address no node had, under underlay-ip-changed. */
const underlay = (N: number, k: number, fault: SyntheticFault | null) =>
  fault === 'underlay-ip-changed' && k === 0 ? ip(N) : ip(k);
const ok = <T>(data: T) => ({ status: 'ok' as const, data });

function host(N: number, k: number, fault: SyntheticFault | null): HostState {
  const name = `node-${k}`;
  const link = (ifindex: number, n: string, mtu: number, extra: Partial<Link>): Link => ({
    ifindex,
    name: n,
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu,
    operstate: 'UP',
    mac: mac(k),
    kind: null,
    master: null,
    parent: null,
    vxlan: null,
    addresses: [],
    ...extra,
  });
  const links: Link[] = [
    link(2, 'eth0', 1500, {
      addresses: [{ family: 'inet', local: underlay(N, k, fault), prefixlen: 8, scope: 'global' }],
    }),
    link(3, 'flannel.1', 1450, {
      kind: 'vxlan',
      vxlan: { id: 1, local: underlay(N, k, fault), dev: 'eth0', port: 8472, learning: false, gbp: false },
      addresses: [{ family: 'inet', local: podNet(k), prefixlen: 32, scope: 'global' }],
    }),
    link(4, 'cni0', 1450, {
      kind: 'bridge',
      addresses: [{ family: 'inet', local: podNet(k).replace(/0$/, '1'), prefixlen: 24, scope: 'global' }],
    }),
  ];
  const routes: Route[] = [
    {
      family: 'inet',
      table: 'main',
      dst: `${podNet(k)}/24`,
      type: 'unicast',
      gateway: null,
      dev: 'cni0',
      protocol: 'kernel',
      scope: 'link',
      prefsrc: null,
      metric: null,
      flags: [],
    },
  ];
  const neigh = [];
  const fdb = [];
  for (let p = 0; p < N; p++) {
    if (p === k) continue;
    routes.push({
      family: 'inet',
      table: 'main',
      dst: `${podNet(p)}/24`,
      type: 'unicast',
      gateway: podNet(p),
      dev: 'flannel.1',
      protocol: null,
      scope: null,
      prefsrc: null,
      metric: null,
      flags: ['onlink'],
    });
    neigh.push({ dst: podNet(p), dev: 'flannel.1', lladdr: mac(p), state: ['PERMANENT'] });
    fdb.push({
      mac: mac(p),
      dev: 'flannel.1',
      // Peers programmed node-0's entry before it moved; nothing replaced it (the fault).
      dst: ip(p),
      vlan: null,
      master: null,
      flags: ['self'],
      state: 'permanent',
    });
  }
  return {
    node: name,
    kernel: '6.18',
    via: 'bench',
    links: ok(links),
    routes: ok(routes),
    rules: ok([]),
    neighbours: ok(neigh),
    fdb: ok(fdb),
    xfrmStates: ok([]),
    xfrmPolicies: ok([]),
    wireguard: ok([]),
    subnetEnv: ok({
      network: '10.0.0.0/8',
      subnet: `${podNet(k).replace(/0$/, '1')}/24`,
      ipv6Network: null,
      ipv6Subnet: null,
      mtu: 1450,
      ipMasq: true,
    }),
    sysctls: ok({ 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' }),
    firewall: ok({ iptables: [], nftRuleset: null }),
    routeGets: ok({}),
    raw: [],
  };
}

function node(N: number, k: number, fault: SyntheticFault | null): KubeNode {
  return {
    name: `node-${k}`,
    internalIPs: [underlay(N, k, fault)],
    podCIDRs: [`${podNet(k)}/24`],
    flannelAnnotations: {
      'kube-subnet-manager': 'true',
      'backend-type': 'vxlan',
      'public-ip': underlay(N, k, fault),
      'backend-data': JSON.stringify({ VNI: 1, VtepMAC: mac(k) }),
    },
    ready: { status: 'True' },
    networkUnavailable: { status: 'False', reason: 'FlannelIsUp' },
    unschedulable: false,
    taints: [],
  };
}

export function syntheticSnapshot(N: number, fault: SyntheticFault | null = null): Snapshot {
  return {
    schemaVersion: SCHEMA_VERSION,
    collectedAt: new Date().toISOString(),
    source: {
      kind: 'fixture',
      description: `bench ${N} nodes${fault ? `, ${fault}` : ''}`,
      toolVersion: 'bench',
      keysIncluded: false,
    },
    cluster: {
      flannel: ok({
        namespace: 'kube-flannel',
        daemonSet: { name: 'kube-flannel-ds', image: 'flannel:v0.28.9', args: [], desired: N, ready: N },
        netConf: ok({
          network: '10.0.0.0/8',
          ipv6Network: null,
          enableIPv4: true,
          enableIPv6: false,
          enableNFTables: false,
          backend: {
            type: 'vxlan' as const,
            vni: 1,
            port: 8472,
            gbp: false,
            learning: false,
            directRouting: false,
            mtu: null,
          },
          warnings: [],
        }),
        netConfRaw: null,
        cniConfRaw: null,
      }),
      nodes: ok(Array.from({ length: N }, (_, k) => node(N, k, fault))),
      flannelPods: ok(
        Array.from({ length: N }, (_, k) => ({
          name: `kube-flannel-ds-${k}`,
          namespace: 'kube-flannel',
          node: `node-${k}`,
          phase: 'Running',
          ready: true,
          restarts: 0,
          waitingReason: null,
          lastTermination: null,
          image: 'flannel:v0.28.9',
          logTail: [],
        })),
      ),
      networkPolicies: ok([]),
    },
    hosts: Object.fromEntries(Array.from({ length: N }, (_, k) => [`node-${k}`, ok(host(N, k, fault))])),
    errors: [],
  };
}
