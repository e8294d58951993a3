/**
 * A synthetic N-node vxlan cluster: every node with a route, neighbour and fdb entry per peer
 * (about N of each per node), healthy unless a fault is asked for. Used by bench/analyze.ts and by
 * the large-cluster report test.
 *
 * Faults:
 * - `underlay-ip-changed`: node-0 came back with a new underlay IP (its Node, lease, eth0 and
 *   flannel.1 carry it), but every peer's fdb entry for node-0's VtepMAC still sends to the old one.
 */
import { parseNetConf } from '../src/parse/netconf.js';
import type { HostState, IptablesDump, KubeNode, Link, Route, Snapshot } from '../src/snapshot/types.js';
import { SCHEMA_VERSION } from '../src/snapshot/types.js';

/** The ConfigMap every synthetic cluster runs: flanneld's VXLAN defaults (VNI 1, port 8472), as its parser reads them. */
const NET_CONF = (() => {
  const r = parseNetConf('{"Network": "10.0.0.0/8", "Backend": {"Type": "vxlan"}}');
  if (!r.ok) throw new Error(r.error);
  return r.netConf;
})();

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

/** The kernel's three default rules, as every node lists them. */
const DEFAULT_RULES = [
  { family: 'inet' as const, priority: 0, text: 'from all lookup local' },
  { family: 'inet' as const, priority: 32766, text: 'from all lookup main' },
  { family: 'inet' as const, priority: 32767, text: 'from all lookup default' },
];

/** flanneld's iptables rules for the node (§8.1, --ip-masq), with kube-proxy's usual chains around them. */
function flannelRules(k: number): IptablesDump {
  const own = `${podNet(k)}/24`;
  const net = '10.0.0.0/8';
  const masq = '-m comment --comment "flanneld masq"';
  const fwd = '-m comment --comment "flanneld forward"';
  return {
    backend: 'nft',
    family: 'inet',
    tables: {
      filter: {
        chains: {
          INPUT: { policy: 'ACCEPT' },
          FORWARD: { policy: 'DROP' },
          OUTPUT: { policy: 'ACCEPT' },
          'FLANNEL-FWD': { policy: '-' },
          'KUBE-FIREWALL': { policy: '-' },
          'KUBE-FORWARD': { policy: '-' },
        },
        rules: [
          { chain: 'INPUT', spec: '-j KUBE-FIREWALL' },
          { chain: 'FORWARD', spec: '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD' },
          { chain: 'FORWARD', spec: `${fwd} -j FLANNEL-FWD` },
          { chain: 'OUTPUT', spec: '-j KUBE-FIREWALL' },
          { chain: 'FLANNEL-FWD', spec: `-s ${net} ${fwd} -j ACCEPT` },
          { chain: 'FLANNEL-FWD', spec: `-d ${net} ${fwd} -j ACCEPT` },
          {
            chain: 'KUBE-FIREWALL',
            spec: '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
          },
          { chain: 'KUBE-FORWARD', spec: '-m conntrack --ctstate INVALID -j DROP' },
          { chain: 'KUBE-FORWARD', spec: '-m mark --mark 0x4000/0x4000 -j ACCEPT' },
        ],
      },
      nat: {
        chains: {
          PREROUTING: { policy: 'ACCEPT' },
          INPUT: { policy: 'ACCEPT' },
          OUTPUT: { policy: 'ACCEPT' },
          POSTROUTING: { policy: 'ACCEPT' },
          'FLANNEL-POSTRTG': { policy: '-' },
          'KUBE-SERVICES': { policy: '-' },
          'KUBE-POSTROUTING': { policy: '-' },
          'KUBE-SVC-NPX46M4PTMTKRN6Y': { policy: '-' },
        },
        rules: [
          { chain: 'PREROUTING', spec: '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES' },
          { chain: 'OUTPUT', spec: '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES' },
          { chain: 'POSTROUTING', spec: '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING' },
          { chain: 'POSTROUTING', spec: `${masq} -j FLANNEL-POSTRTG` },
          { chain: 'FLANNEL-POSTRTG', spec: `-m mark --mark 0x4000/0x4000 ${masq} -j RETURN` },
          { chain: 'FLANNEL-POSTRTG', spec: `-s ${own} -d ${net} ${masq} -j RETURN` },
          { chain: 'FLANNEL-POSTRTG', spec: `-s ${net} -d ${own} ${masq} -j RETURN` },
          { chain: 'FLANNEL-POSTRTG', spec: `! -s ${net} -d ${own} ${masq} -j RETURN` },
          { chain: 'FLANNEL-POSTRTG', spec: `-s ${net} ! -d 224.0.0.0/4 ${masq} -j MASQUERADE --random-fully` },
          { chain: 'FLANNEL-POSTRTG', spec: `! -s ${net} -d ${net} ${masq} -j MASQUERADE --random-fully` },
          { chain: 'KUBE-SERVICES', spec: '-d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y' },
          { chain: 'KUBE-SVC-NPX46M4PTMTKRN6Y', spec: '-p tcp -m tcp -j DNAT --to-destination 172.16.0.1:6443' },
          { chain: 'KUBE-POSTROUTING', spec: '-m mark ! --mark 0x4000/0x4000 -j RETURN' },
          { chain: 'KUBE-POSTROUTING', spec: '-j MARK --set-xmark 0x4000/0x0' },
          {
            chain: 'KUBE-POSTROUTING',
            spec: '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
          },
        ],
      },
    },
  };
}

/** What each node lists besides flannel's entries; `full` adds the default ip rules and the iptables rules. */
export interface SyntheticOptions {
  /** The default `ip rule`s and flanneld's iptables rules, so the FIB model and the path walk run (bench:analyze). */
  readonly full?: boolean;
}

function host(N: number, k: number, fault: SyntheticFault | null, opts: SyntheticOptions): HostState {
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
      dst: '172.0.0.0/8',
      type: 'unicast',
      gateway: null,
      dev: 'eth0',
      protocol: 'kernel',
      scope: 'link',
      prefsrc: underlay(N, k, fault),
      metric: null,
      flags: [],
    },
    {
      family: 'inet',
      table: 'local',
      dst: `${underlay(N, k, fault)}/32`,
      type: 'local',
      gateway: null,
      dev: 'eth0',
      protocol: 'kernel',
      scope: 'host',
      prefsrc: underlay(N, k, fault),
      metric: null,
      flags: [],
    },
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
    rules: ok(opts.full ? DEFAULT_RULES : []),
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
    firewall: ok({ iptables: opts.full ? [flannelRules(k)] : [], nftRuleset: null }),
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

export function syntheticSnapshot(
  N: number,
  fault: SyntheticFault | null = null,
  opts: SyntheticOptions = {},
): Snapshot {
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
        netConf: ok(NET_CONF),
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
    hosts: Object.fromEntries(Array.from({ length: N }, (_, k) => [`node-${k}`, ok(host(N, k, fault, opts))])),
    errors: [],
  };
}
