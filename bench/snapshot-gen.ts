/** The synthetic N-node vxlan snapshot the benches read: a route, neighbour and fdb entry per peer on every node. */
import type { HostState, KubeNode, Link, Route, Snapshot } from '../src/snapshot/types.js';
import { SCHEMA_VERSION } from '../src/snapshot/types.js';

const ip = (k: number) => `172.${16 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
const podNet = (k: number) => `10.${(k >> 8) + 1}.${k & 255}.0`;
const mac = (k: number) =>
  `0a:58:00:00:${((k >> 8) & 255).toString(16).padStart(2, '0')}:${(k & 255).toString(16).padStart(2, '0')}`;
const ok = <T>(data: T) => ({ status: 'ok' as const, data });

function host(k: number, N: number): HostState {
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
    link(2, 'eth0', 1500, { addresses: [{ family: 'inet', local: ip(k), prefixlen: 8, scope: 'global' }] }),
    link(3, 'flannel.1', 1450, {
      kind: 'vxlan',
      vxlan: { id: 1, local: ip(k), dev: 'eth0', port: 8472, learning: false, gbp: false },
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

function node(k: number): KubeNode {
  return {
    name: `node-${k}`,
    internalIPs: [ip(k)],
    podCIDRs: [`${podNet(k)}/24`],
    flannelAnnotations: {
      'kube-subnet-manager': 'true',
      'backend-type': 'vxlan',
      'public-ip': ip(k),
      'backend-data': JSON.stringify({ VNI: 1, VtepMAC: mac(k) }),
    },
    ready: { status: 'True' },
    networkUnavailable: { status: 'False', reason: 'FlannelIsUp' },
    unschedulable: false,
    taints: [],
  };
}

export function benchSnapshot(N: number): Snapshot {
  return {
    schemaVersion: SCHEMA_VERSION,
    collectedAt: new Date().toISOString(),
    source: { kind: 'fixture', description: `bench ${N} nodes`, toolVersion: 'bench', keysIncluded: false },
    cluster: {
      flannel: ok({
        namespace: 'kube-flannel',
        daemonSet: null,
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
      nodes: ok(Array.from({ length: N }, (_, k) => node(k))),
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
    hosts: Object.fromEntries(Array.from({ length: N }, (_, k) => [`node-${k}`, ok(host(k, N))])),
    errors: [],
  };
}
