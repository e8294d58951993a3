/**
 * A simulated flannel cluster made of real kernel state: each node is a network namespace on
 * a shared underlay bridge, configured with the same netlink objects flanneld creates for its
 * backend (flannel-internals.md §7, §8), with a real pod namespace behind cni0. Its snapshot
 * is collected with the real host collector, so fixtures are real `ip`, `bridge`,
 * `iptables-save` and `nft` output.
 *
 * What this kernel cannot do is substituted, and marked so in the snapshot's source:
 * - ipip and wireguard devices (no modules): a TUN device of the same name carries the real
 *   routes, and the collected link kind is rewritten to ipip/wireguard; `wg show all dump`
 *   output is built in wg(8)'s documented format.
 * - ESP SAs (no ESP in the kernel): `ip xfrm state` text in iproute2 6.x layout, parsed by the
 *   real parser. xfrm policies are real.
 * The Kubernetes side (Node objects with flannel's annotations, flannel pods, net-conf.json)
 * is what flanneld and the API server would hold for this state; the lab (lab/) runs the real
 * flanneld and kube-apiserver.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimBackend } from '../../src/analyzers/fault-catalog/types.js';
import { K3S_PATHS } from '../../src/collectors/api/cluster.js';
import { routeDecisionPlan } from '../../src/collectors/collect.js';
import { collectHost } from '../../src/collectors/node/host.js';
import { localRunner } from '../../src/collectors/node/local.js';
import { installFromNodeFiles, probeFlanneld, readNodeNetConf } from '../../src/collectors/node/node-files.js';
import { parseNetConf } from '../../src/parse/netconf.js';
import { redactNetConf } from '../../src/parse/redact/netconf.js';
import { parseWgDump } from '../../src/parse/wireguard.js';
import { parseXfrmState } from '../../src/parse/xfrm.js';
import {
  type Collected,
  type FlannelInstall,
  type FlannelPod,
  type HostState,
  type KubeNode,
  type Packaging,
  SCHEMA_VERSION,
  type Snapshot,
} from '../../src/snapshot/types.js';

export type { SimBackend };
export const SIM_BACKENDS: readonly SimBackend[] = [
  'vxlan',
  'vxlan-directrouting',
  'vxlan-dualstack',
  'host-gw',
  'udp',
  'ipip',
  'wireguard',
  'ipsec',
  'vxlan-nftables',
  'vxlan-canal',
  'vxlan-k3s',
  'vxlan-ipv6',
  'host-gw-dualstack',
];

/** Where k3s keeps flannel's files under its data dir (see src/collectors/cluster.ts K3S_PATHS). */
const K3S_CNI_CONF = {
  name: 'cbr0',
  cniVersion: '1.0.0',
  plugins: [
    { type: 'flannel', delegate: { hairpinMode: true, forceAddress: true, isDefaultGateway: true } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
  ],
};

export interface SimNode {
  readonly name: string;
  readonly ns: string;
  readonly podNs: string;
  readonly ip: string;
  readonly ip6: string;
  readonly podCIDR: string;
  readonly podNet: string;
  readonly podCIDR6: string;
  readonly podNet6: string;
  readonly podIP: string;
  readonly vtepMAC: string;
  readonly vtepMAC6: string;
  readonly wgPublicKey: string;
  readonly dir: string;
  /** The Node object; faults edit it. */
  kube: KubeNode;
  /** The node's flannel pod; null when the DaemonSet has none there. */
  pod: FlannelPod | null;
}

export const NETWORK = '10.244.0.0/16';
export const NETWORK6 = 'fd00:10:244::/56';
const UPLINK_MTU = 1500;
const HEALTHZ_PORT = 8081;

const OVERHEAD: Record<string, number> = { vxlan: 50, 'host-gw': 0, udp: 28, ipip: 20, wireguard: 80, ipsec: 77 };

export function canSimulate(): boolean {
  return process.getuid?.() === 0;
}

export function sh(...argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class SimCluster {
  readonly prefix = `kfs${randomBytes(3).toString('hex')}`;
  readonly nodes: SimNode[] = [];
  readonly sw: string;
  netConfText: string;
  networkPolicies: { namespace: string; name: string }[] = [];
  /** Per node, `ip xfrm state` text standing in for charon's SAs (the kernel has no ESP). */
  readonly xfrmStateText = new Map<string, string>();
  /** Per node, `wg show all dump` text standing in for WireGuard (the kernel has no wireguard). */
  readonly wgDump = new Map<string, string>();
  private destroyed = false;
  /** Per node, the stand-in for flanneld's health server (--healthz-port), when the flavor has one. */
  private readonly healthServers = new Map<string, ChildProcess>();

  constructor(
    readonly backend: SimBackend,
    readonly size = 3,
  ) {
    this.sw = `${this.prefix}sw`;
    this.netConfText = netConfFor(backend);
  }

  get flannelType(): string {
    return this.backend.startsWith('vxlan') ? 'vxlan' : this.backend.startsWith('host-gw') ? 'host-gw' : this.backend;
  }

  get dualStack(): boolean {
    return this.backend === 'vxlan-dualstack' || this.backend === 'host-gw-dualstack';
  }

  /** IPv4 pod networking (off only for IPv6-only). */
  get v4(): boolean {
    return this.backend !== 'vxlan-ipv6';
  }

  /** IPv6 pod networking: dual-stack or IPv6-only. */
  get v6(): boolean {
    return this.dualStack || !this.v4;
  }

  get nftables(): boolean {
    return this.backend === 'vxlan-nftables';
  }

  /** Canal: Calico's CNI plugin wires pods (cali* veths, a /32 route each, no cni0); flanneld adds the blackhole route. */
  get canal(): boolean {
    return this.backend === 'vxlan-canal';
  }

  /** k3s: flanneld embedded in k3s, no DaemonSet, net-conf.json and the CNI config under /var/lib/rancher/k3s. */
  get k3s(): boolean {
    return this.backend === 'vxlan-k3s';
  }

  /** flanneld's flags as the packaging passes them. */
  get flanneldArgs(): string[] {
    if (this.k3s) return [];
    return [
      '--ip-masq',
      '--kube-subnet-mgr',
      ...(this.canal ? ['--ip-blackhole-route'] : []),
      ...(this.healthz ? [`--healthz-port=${HEALTHZ_PORT}`] : []),
    ];
  }

  /** The nftables flavor runs with kube-flannel.yml's --healthz-port=8081 and a health server per node. */
  get healthz(): boolean {
    return this.nftables;
  }

  /**
   * A stand-in for flanneld's health server on the node: a real HTTP server in the node's network
   * namespace answering /healthz and /readyz with 200 as flanneld does once ready. `hang` stops it
   * (SIGSTOP), the way a hung flanneld still holds its listening socket.
   */
  private startHealthServer(n: SimNode): void {
    const script = `require('node:http').createServer((q, r) => { r.statusCode = q.url === '/healthz' || q.url === '/readyz' ? 200 : 404; r.end(); }).listen(${HEALTHZ_PORT}, '0.0.0.0')`;
    const child = spawn('ip', ['netns', 'exec', n.ns, process.execPath, '-e', script], { stdio: 'ignore' });
    child.unref();
    this.healthServers.set(n.name, child);
  }

  hang(n: SimNode): void {
    this.healthServers.get(n.name)?.kill('SIGSTOP');
  }

  private async waitHealthServers(): Promise<void> {
    for (const n of this.nodes) {
      for (let i = 0; i < 50; i++) {
        try {
          sh('ip', 'netns', 'exec', n.ns, 'curl', '-fs', '--max-time', '1', `http://127.0.0.1:${HEALTHZ_PORT}/healthz`);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }

  netConfPath(n: SimNode): string {
    return join(n.dir, 'net-conf.json');
  }

  /** FLANNEL_MTU for this backend on a 1500-byte uplink. */
  get mtu(): number {
    return UPLINK_MTU - OVERHEAD[this.flannelType]!;
  }

  ns(node: SimNode, ...argv: string[]): string {
    return sh('ip', 'netns', 'exec', node.ns, ...argv);
  }

  node(name: string): SimNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no sim node ${name}`);
    return n;
  }

  build(): this {
    try {
      sh('ip', 'netns', 'add', this.sw);
      sh('ip', '-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge');
      sh('ip', '-n', this.sw, 'link', 'set', 'br0', 'up');
      for (let k = 1; k <= this.size; k++) this.nodes.push(this.addNode(k));
      for (const n of this.nodes) this.programBackend(n);
      if (this.healthz) for (const n of this.nodes) this.startHealthServer(n);
      return this;
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  private addNode(k: number): SimNode {
    const name = `node${k}`;
    const ns = `${this.prefix}n${k}`;
    const podNs = `${this.prefix}p${k}`;
    const mac = (seed: string) => {
      const h = createHash('sha256').update(`${this.backend}/${name}/${seed}`).digest();
      return [(h[0]! & 0xfe) | 0x02, ...h.subarray(1, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
    };
    const n: SimNode = {
      name,
      ns,
      podNs,
      ip: `192.168.56.1${k}`,
      ip6: `fd00:56::1${k}`,
      podCIDR: `10.244.${k}.0/24`,
      podNet: `10.244.${k}.0`,
      podCIDR6: `fd00:10:244:${k}::/64`,
      podNet6: `fd00:10:244:${k}::`,
      podIP: `10.244.${k}.2`,
      vtepMAC: mac('v4'),
      vtepMAC6: mac('v6'),
      wgPublicKey: createHash('sha256').update(`wg/${name}`).digest('base64'),
      dir: mkdtempSync(join(tmpdir(), `${this.prefix}${name}-`)),
      kube: undefined as unknown as KubeNode,
      pod: undefined as unknown as FlannelPod,
    };
    sh('ip', 'netns', 'add', ns);
    sh('ip', 'netns', 'add', podNs);
    sh('ip', 'link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `e${k}`, 'netns', this.sw);
    sh('ip', '-n', this.sw, 'link', 'set', `e${k}`, 'master', 'br0', 'up');
    const x = (...argv: string[]) => this.ns(n, ...argv);
    x('ip', 'link', 'set', 'lo', 'up');
    x('ip', 'addr', 'add', `${n.ip}/24`, 'dev', 'eth0');
    if (this.v6) x('ip', 'addr', 'add', `${n.ip6}/64`, 'dev', 'eth0', 'nodad');
    x('ip', 'link', 'set', 'eth0', 'up');
    x('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    if (this.v6) x('sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    const p = (...argv: string[]) => sh('ip', 'netns', 'exec', podNs, ...argv);
    if (this.canal) {
      // Calico's CNI plugin: a cali<hash> veth without a bridge or address, a /32 route to the pod on it,
      // and in the pod a default route via 169.254.1.1 that the host answers by proxy ARP.
      const cali = `cali${createHash('sha256').update(n.podIP).digest('hex').slice(0, 11)}`;
      x('ip', 'link', 'add', cali, 'mtu', String(this.mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
      x('ip', 'link', 'set', cali, 'up');
      x('sysctl', '-qw', `net.ipv4.conf.${cali}.proxy_arp=1`);
      // felix answers at once (the kernel's default delays a proxied reply by up to 0.8 s)
      x('sysctl', '-qw', `net.ipv4.neigh.${cali}.proxy_delay=0`);
      x('ip', 'route', 'add', `${n.podIP}/32`, 'dev', cali, 'scope', 'link');
      p('ip', 'link', 'set', 'lo', 'up');
      p('ip', 'link', 'set', 'eth0', 'mtu', String(this.mtu), 'up');
      p('ip', 'addr', 'add', `${n.podIP}/32`, 'dev', 'eth0');
      p('ip', 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
      p('ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
      // The kernel answers ARP for 169.254.1.1 by proxy only when it routes that address out of another device
      // (arp_process); a real node does through its default route, so the simulated Canal node has one too
      // (the gateway, like 169.254.1.1 itself, is never reached by pod-to-pod traffic).
      x('ip', 'route', 'add', 'default', 'via', '192.168.56.1', 'dev', 'eth0', 'onlink');
      // flanneld --ip-blackhole-route (main.go: "in case the bridge plugin is not enabled (e.g. Canal)").
      x('ip', 'route', 'add', 'blackhole', n.podCIDR);
    } else {
      // cni0 and one pod, as the bridge CNI plugin leaves them after the first pod ADD.
      x('ip', 'link', 'add', 'cni0', 'mtu', String(this.mtu), 'type', 'bridge');
      if (this.v4) x('ip', 'addr', 'add', `10.244.${k}.1/24`, 'dev', 'cni0');
      if (this.v6) x('ip', 'addr', 'add', `fd00:10:244:${k}::1/64`, 'dev', 'cni0', 'nodad');
      x('ip', 'link', 'set', 'cni0', 'up');
      const veth = `veth${createHash('sha256').update(n.podIP).digest('hex').slice(0, 8)}`;
      x('ip', 'link', 'add', veth, 'mtu', String(this.mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
      x('ip', 'link', 'set', veth, 'master', 'cni0', 'up');
      p('ip', 'link', 'set', 'lo', 'up');
      p('ip', 'link', 'set', 'eth0', 'mtu', String(this.mtu), 'up');
      if (this.v4) {
        p('ip', 'addr', 'add', `${n.podIP}/24`, 'dev', 'eth0');
        p('ip', 'route', 'add', 'default', 'via', `10.244.${k}.1`);
      }
      if (this.v6) {
        p('ip', 'addr', 'add', `fd00:10:244:${k}::2/64`, 'dev', 'eth0', 'nodad');
        p('ip', '-6', 'route', 'add', 'default', 'via', `fd00:10:244:${k}::1`);
      }
    }
    if (this.k3s) writeFileSync(this.netConfPath(n), this.netConfText);
    this.writeSubnetEnv(n);
    this.installCni(n);
    this.installRules(n);
    n.kube = this.kubeNode(n);
    n.pod = this.k3s
      ? null
      : this.canal
        ? { ...healthyPod(n.name), name: `canal-${healthyPod(n.name).name.slice(-5)}`, namespace: 'kube-system' }
        : healthyPod(n.name);
    return n;
  }

  writeSubnetEnv(n: SimNode): void {
    const k = n.podNet.split('.')[2];
    const lines = this.v4 ? [`FLANNEL_NETWORK=${NETWORK}`, `FLANNEL_SUBNET=10.244.${k}.1/24`] : [];
    if (this.v6) lines.push(`FLANNEL_IPV6_NETWORK=${NETWORK6}`, `FLANNEL_IPV6_SUBNET=fd00:10:244:${k}::1/64`);
    lines.push(`FLANNEL_MTU=${this.mtu}`, 'FLANNEL_IPMASQ=true');
    writeFileSync(this.subnetEnvPath(n), lines.join('\n') + '\n');
  }

  subnetEnvPath(n: SimNode): string {
    return join(n.dir, 'subnet.env');
  }

  cniConfDir(n: SimNode): string {
    return join(n.dir, 'net.d');
  }

  cniBinDir(n: SimNode): string {
    return join(n.dir, 'bin');
  }

  /** What flannel's init containers and the node's CNI package leave: the cbr0 conflist and the plugins (empty stand-ins; only their names are read). */
  private installCni(n: SimNode): void {
    // also what the init containers do on every pod start: write the config and the binaries again
    mkdirSync(this.cniConfDir(n), { recursive: true });
    mkdirSync(this.cniBinDir(n), { recursive: true });
    if (this.canal) {
      // calico's install-cni: 10-canal.conflist from canal-config's cni_network_config, Calico's binaries.
      writeFileSync(
        join(this.cniConfDir(n), '10-canal.conflist'),
        JSON.stringify({
          name: 'k8s-pod-network',
          cniVersion: '1.0.0',
          plugins: [
            {
              type: 'calico',
              datastore_type: 'kubernetes',
              nodename: n.name,
              mtu: 0,
              ipam: { type: 'host-local', subnet: 'usePodCidr' },
              policy: { type: 'k8s' },
            },
            { type: 'portmap', snat: true, capabilities: { portMappings: true } },
          ],
        }),
      );
      for (const b of ['bandwidth', 'calico', 'calico-ipam', 'flannel', 'host-local', 'loopback', 'portmap'])
        writeFileSync(join(this.cniBinDir(n), b), '');
      return;
    }
    if (this.k3s) {
      // k3s writes its own 10-flannel.conflist; its data/cni dir holds links to the cni multicall binary.
      writeFileSync(join(this.cniConfDir(n), '10-flannel.conflist'), JSON.stringify(K3S_CNI_CONF, null, 2));
      for (const b of ['bandwidth', 'bridge', 'cni', 'firewall', 'flannel', 'host-local', 'loopback', 'portmap'])
        writeFileSync(join(this.cniBinDir(n), b), '');
      return;
    }
    writeFileSync(
      join(this.cniConfDir(n), '10-flannel.conflist'),
      JSON.stringify(
        {
          name: 'cbr0',
          cniVersion: '0.3.1',
          plugins: [
            { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
            { type: 'portmap', capabilities: { portMappings: true } },
          ],
        },
        null,
        2,
      ),
    );
    for (const b of ['bandwidth', 'bridge', 'flannel', 'host-local', 'loopback', 'portmap'])
      writeFileSync(join(this.cniBinDir(n), b), '');
  }

  /** flanneld's masquerade and forward rules, exactly as §8.1 (iptables mode, --ip-masq). */
  private installRules(n: SimNode): void {
    if (this.nftables) return this.installNftRules(n);
    if (!this.v4) return;
    const ipt = (...a: string[]) => this.ns(n, 'iptables-nft', ...a);
    const masq = ['-m', 'comment', '--comment', 'flanneld masq'];
    const fwd = ['-m', 'comment', '--comment', 'flanneld forward'];
    ipt('-t', 'nat', '-N', 'FLANNEL-POSTRTG');
    ipt('-t', 'nat', '-A', 'POSTROUTING', ...masq, '-j', 'FLANNEL-POSTRTG');
    ipt('-t', 'nat', '-A', 'FLANNEL-POSTRTG', '-m', 'mark', '--mark', '0x4000/0x4000', ...masq, '-j', 'RETURN');
    ipt('-t', 'nat', '-A', 'FLANNEL-POSTRTG', '-s', n.podCIDR, '-d', NETWORK, ...masq, '-j', 'RETURN');
    ipt('-t', 'nat', '-A', 'FLANNEL-POSTRTG', '-s', NETWORK, '-d', n.podCIDR, ...masq, '-j', 'RETURN');
    ipt('-t', 'nat', '-A', 'FLANNEL-POSTRTG', '!', '-s', NETWORK, '-d', n.podCIDR, ...masq, '-j', 'RETURN');
    ipt(
      '-t',
      'nat',
      '-A',
      'FLANNEL-POSTRTG',
      '-s',
      NETWORK,
      '!',
      '-d',
      '224.0.0.0/4',
      ...masq,
      '-j',
      'MASQUERADE',
      '--random-fully',
    );
    ipt(
      '-t',
      'nat',
      '-A',
      'FLANNEL-POSTRTG',
      '!',
      '-s',
      NETWORK,
      '-d',
      NETWORK,
      ...masq,
      '-j',
      'MASQUERADE',
      '--random-fully',
    );
    ipt('-N', 'FLANNEL-FWD');
    ipt('-A', 'FORWARD', ...fwd, '-j', 'FLANNEL-FWD');
    ipt('-A', 'FLANNEL-FWD', '-s', NETWORK, ...fwd, '-j', 'ACCEPT');
    ipt('-A', 'FLANNEL-FWD', '-d', NETWORK, ...fwd, '-j', 'ACCEPT');
  }

  /**
   * nftables mode as flanneld v0.28.9 programs it (pkg/trafficmngr/nftables): both tables at start, then
   * per enabled family a forward chain and a postrtg chain of six rules. The kernel prints them back.
   */
  private installNftRules(n: SimNode): void {
    const lines: string[] = [];
    for (const [fam, table] of [
      ['ip', 'flannel-ipv4'],
      ['ip6', 'flannel-ipv6'],
    ] as const)
      lines.push(`add table ${fam} ${table} { comment "rules for ${table}"; }`);
    const chains = (fam: 'ip' | 'ip6', table: string, net: string, pod: string, mcast: string) => {
      lines.push(
        `add chain ${fam} ${table} forward { comment "chain to accept flannel traffic"; type filter hook forward priority filter; }`,
        `add rule ${fam} ${table} forward ${fam} saddr ${net} accept`,
        `add rule ${fam} ${table} forward ${fam} daddr ${net} accept`,
        `add chain ${fam} ${table} postrtg { comment "chain to manage traffic masquerading by flannel"; type nat hook postrouting priority srcnat; }`,
        `add rule ${fam} ${table} postrtg meta mark 0x4000 return`,
        `add rule ${fam} ${table} postrtg ${fam} saddr ${pod} ${fam} daddr ${net} return`,
        `add rule ${fam} ${table} postrtg ${fam} saddr ${net} ${fam} daddr ${pod} return`,
        `add rule ${fam} ${table} postrtg ${fam} saddr != ${pod} ${fam} daddr ${net} return`,
        `add rule ${fam} ${table} postrtg ${fam} saddr ${net} ${fam} daddr != ${mcast} masquerade fully-random`,
        `add rule ${fam} ${table} postrtg ${fam} saddr != ${net} ${fam} daddr ${net} masquerade fully-random`,
      );
    };
    if (this.v4) chains('ip', 'flannel-ipv4', NETWORK, n.podCIDR, '224.0.0.0/4');
    if (this.v6) chains('ip6', 'flannel-ipv6', NETWORK6, n.podCIDR6, 'ff00::/8');
    const file = join(n.dir, 'flannel.nft');
    writeFileSync(file, `${lines.join('\n')}\n`);
    this.ns(n, 'nft', '-f', file);
  }

  private kubeNode(n: SimNode): KubeNode {
    const t = this.flannelType;
    const a: Record<string, string> = {
      'kube-subnet-manager': 'true',
      'backend-type': t === 'udp' ? '' : t,
      'public-ip': n.ip,
    };
    if (!this.v4) {
      // IPv6-only vxlan: flanneld writes backend-data and public-ip only when the v4 lease data is not
      // "null" (pkg/subnet/kube/kube.go), so only the v6 lease annotations exist.
      a['public-ipv6'] = n.ip6;
      if (t === 'vxlan') a['backend-v6-data'] = JSON.stringify({ VNI: 1, VtepMAC: n.vtepMAC6 });
      delete a['public-ip'];
    } else if (t === 'vxlan') a['backend-data'] = JSON.stringify({ VNI: 1, VtepMAC: n.vtepMAC });
    else if (t === 'wireguard') a['backend-data'] = JSON.stringify({ PublicKey: n.wgPublicKey, Port: 51820 });
    else a['backend-data'] = 'null';
    if (this.dualStack) {
      a['public-ipv6'] = n.ip6;
      if (t === 'vxlan') a['backend-v6-data'] = JSON.stringify({ VNI: 1, VtepMAC: n.vtepMAC6 });
    }
    return {
      name: n.name,
      internalIPs: this.dualStack ? [n.ip, n.ip6] : this.v4 ? [n.ip] : [n.ip6],
      podCIDRs: this.dualStack ? [n.podCIDR, n.podCIDR6] : this.v4 ? [n.podCIDR] : [n.podCIDR6],
      flannelAnnotations: a,
      ready: { status: 'True' },
      networkUnavailable: { status: 'False', reason: 'FlannelIsUp' },
      unschedulable: false,
      taints: [],
    };
  }

  /** The lease of `p` as a peer's flanneld reads it from p's Node: its annotations and podCIDRs (§4.1). */
  private leaseOf(p: SimNode): Lease | null {
    const a = p.kube.flannelAnnotations;
    if (a['kube-subnet-manager'] !== 'true') return null;
    const cidr4 = p.kube.podCIDRs.find((c) => !c.includes(':'));
    const cidr6 = p.kube.podCIDRs.find((c) => c.includes(':'));
    const data = (key: string): Record<string, unknown> => {
      try {
        return (JSON.parse(a[key] ?? 'null') as Record<string, unknown> | null) ?? {};
      } catch {
        return {};
      }
    };
    return {
      node: p.name,
      type: a['backend-type'] ?? '',
      ip: a['public-ip'] ?? null,
      ip6: a['public-ipv6'] ?? null,
      mac: (data('backend-data').VtepMAC as string | undefined) ?? null,
      mac6: (data('backend-v6-data').VtepMAC as string | undefined) ?? null,
      wgKey: (data('backend-data').PublicKey as string | undefined) ?? null,
      podCIDR: cidr4 ?? null,
      podNet: cidr4 ? cidr4.replace(/\/\d+$/, '') : null,
      podCIDR6: cidr6 ?? null,
      podNet6: cidr6 ? cidr6.replace(/\/\d+$/, '') : null,
    };
  }

  /** The leases node `n`'s flanneld programs: every other node's, of its own backend type (others are ignored, §4.1). */
  private peerLeases(n: SimNode): Lease[] {
    const own = this.flannelType === 'udp' ? '' : this.flannelType;
    return this.nodes.flatMap((p) => {
      const l = p === n ? null : this.leaseOf(p);
      return l && l.type === own ? [l] : [];
    });
  }

  /** What flanneld's backend programs on node `n`: its device, then every peer's lease (§7). */
  private programBackend(n: SimNode): void {
    this.setupDevice(n);
    const leases = this.peerLeases(n);
    for (const l of leases) this.programLease(n, l);
    if (this.flannelType === 'wireguard') this.wgDump.set(n.name, wgDumpFor(n, leases));
    if (this.flannelType === 'ipsec')
      this.xfrmStateText.set(n.name, leases.map((l) => saText(n.name, n.ip, l) + saTextTo(l, n)).join(''));
  }

  /** The backend's own device on `n`, created when absent (a present one is kept: see restartFlanneld). */
  private setupDevice(n: SimNode): void {
    const x = (...argv: string[]) => this.ns(n, ...argv);
    const t = this.flannelType;
    if (t === 'vxlan') {
      const a = n.kube.flannelAnnotations;
      // flanneld re-uses the VtepMAC its own backend-data stores (GetStoredMacAddress, §4.1)
      const stored = (key: string, fallback: string) => /"VtepMAC":"([0-9a-f:]+)"/.exec(a[key] ?? '')?.[1] ?? fallback;
      const vxlanDev = (name: string, mac: string, local: string, addr: string) => {
        if (this.hasLink(n, name)) return x('ip', 'link', 'set', name, 'up');
        x(
          'ip',
          'link',
          'add',
          name,
          'address',
          mac,
          'mtu',
          String(this.mtu),
          'type',
          'vxlan',
          'id',
          '1',
          'local',
          local,
          'dev',
          'eth0',
          'dstport',
          '8472',
          'nolearning',
        );
        x('ip', 'addr', 'add', addr, 'dev', name, ...(addr.includes(':') ? ['nodad'] : []));
        x('ip', 'link', 'set', name, 'up');
      };
      if (this.v4) vxlanDev('flannel.1', stored('backend-data', n.vtepMAC), n.ip, `${n.podNet}/32`);
      if (this.v6) vxlanDev('flannel-v6.1', stored('backend-v6-data', n.vtepMAC6), n.ip6, `${n.podNet6}/128`);
    } else if (t === 'udp' || t === 'ipip' || t === 'wireguard') {
      // udp's flannel0 is a real TUN; ipip and WireGuard are TUN stand-ins of the same name (no modules here)
      const dev = t === 'udp' ? 'flannel0' : t === 'ipip' ? 'flannel.ipip' : 'flannel-wg';
      if (this.hasLink(n, dev)) return void x('ip', 'link', 'set', dev, 'up');
      x('ip', 'tuntap', 'add', 'dev', dev, 'mode', 'tun');
      x('ip', 'link', 'set', dev, 'mtu', String(this.mtu));
      x('ip', 'addr', 'add', `${n.podNet}/32`, 'dev', dev);
      x('ip', 'link', 'set', dev, 'up');
      // udp and WireGuard route the whole Network to the device (§7.4); ipip routes per peer
      if (t === 'udp') x('ip', 'route', 'replace', NETWORK, 'dev', 'flannel0');
      if (t === 'wireguard') x('ip', 'route', 'replace', NETWORK, 'dev', 'flannel-wg', 'scope', 'link');
    }
  }

  /** What node `n`'s flanneld programs for one peer lease (flannel-internals.md §7). */
  private programLease(n: SimNode, l: Lease): void {
    const x = (...argv: string[]) => this.ns(n, ...argv);
    const t = this.flannelType;
    if (t === 'vxlan') {
      if (this.backend === 'vxlan-directrouting') {
        if (l.podCIDR && l.ip) x('ip', 'route', 'replace', l.podCIDR, 'via', l.ip);
        return;
      }
      if (this.v4 && l.podCIDR && l.podNet && l.mac && l.ip) {
        x('ip', 'neigh', 'replace', l.podNet, 'lladdr', l.mac, 'dev', 'flannel.1', 'nud', 'permanent');
        // flanneld's AddFDB is netlink NeighSet, a replace: a stale dst for the MAC is overwritten
        x('bridge', 'fdb', 'replace', l.mac, 'dev', 'flannel.1', 'dst', l.ip, 'self', 'permanent');
        x('ip', 'route', 'replace', l.podCIDR, 'via', l.podNet, 'dev', 'flannel.1', 'onlink');
      }
      if (this.v6 && l.podCIDR6 && l.podNet6 && l.mac6 && l.ip6) {
        x('ip', '-6', 'neigh', 'replace', l.podNet6, 'lladdr', l.mac6, 'dev', 'flannel-v6.1', 'nud', 'permanent');
        x('bridge', 'fdb', 'replace', l.mac6, 'dev', 'flannel-v6.1', 'dst', l.ip6, 'self', 'permanent');
        x('ip', '-6', 'route', 'replace', l.podCIDR6, 'via', l.podNet6, 'dev', 'flannel-v6.1', 'onlink');
      }
    } else if (t === 'host-gw') {
      if (l.podCIDR && l.ip) x('ip', 'route', 'replace', l.podCIDR, 'via', l.ip, 'dev', 'eth0');
      if (this.v6 && l.podCIDR6 && l.ip6) x('ip', '-6', 'route', 'replace', l.podCIDR6, 'via', l.ip6, 'dev', 'eth0');
    } else if (t === 'ipip') {
      if (l.podCIDR && l.ip) x('ip', 'route', 'replace', l.podCIDR, 'via', l.ip, 'dev', 'flannel.ipip', 'onlink');
    } else if (t === 'ipsec') {
      if (!l.podCIDR || !l.ip || !n.kube.podCIDRs[0]) return;
      const own = n.podCIDR;
      const pol = (dir: string, src: string, dst: string, ts: string, td: string) =>
        x(
          'ip',
          'xfrm',
          'policy',
          'update',
          'src',
          src,
          'dst',
          dst,
          'dir',
          dir,
          'tmpl',
          'src',
          ts,
          'dst',
          td,
          'proto',
          'esp',
          'reqid',
          '11',
          'mode',
          'tunnel',
        );
      pol('out', own, l.podCIDR, n.ip, l.ip);
      pol('in', l.podCIDR, own, l.ip, n.ip);
      pol('fwd', l.podCIDR, own, l.ip, n.ip);
    }
  }

  private hasLink(n: SimNode, dev: string): boolean {
    return (JSON.parse(this.ns(n, 'ip', '-j', 'link', 'show')) as { ifname: string }[]).some((l) => l.ifname === dev);
  }

  /**
   * What happens when the flannel pod on `n` restarts (flannel-internals.md §4.1, §7, §8): the init containers put
   * the CNI config and the flannel binary back; flanneld writes subnet.env from its lease, keeps a compatible vxlan
   * device (an incompatible one, by VNI, port or local address, is re-created with the VtepMAC its annotation
   * stores), re-creates the devices the other backends re-create at start, programs every peer's current lease,
   * re-creates its masquerade and forward rules (removing the other firewall mode's), publishes its annotations and
   * clears NetworkUnavailable; then every peer's flanneld handles the lease event and programs n's lease. Nothing
   * is touched that flanneld does not own: a fault outside it survives the restart.
   */
  restartFlanneld(n: SimNode): void {
    const t = this.flannelType;
    this.installCni(n);
    this.writeSubnetEnv(n);
    if (t === 'vxlan')
      for (const [dev, local] of [
        ['flannel.1', n.ip],
        ['flannel-v6.1', n.ip6],
      ] as const) {
        if (!this.hasLink(n, dev)) continue;
        const l = (JSON.parse(this.ns(n, 'ip', '-j', '-d', 'link', 'show', dev)) as LinkJson[])[0];
        const d = l?.linkinfo?.info_data;
        const ok =
          l?.linkinfo?.info_kind === 'vxlan' && d?.id === 1 && d.port === 8472 && (d.local ?? d.local6) === local;
        if (!ok) this.ns(n, 'ip', 'link', 'del', dev);
      }
    else if (t === 'udp' || t === 'ipip' || t === 'wireguard') {
      // a new flanneld opens flannel0 afresh; WireGuard's device is deleted and re-created at start (§7.4); the
      // ipip stand-in cannot be checked for compatibility, so it is re-created too
      const dev = t === 'udp' ? 'flannel0' : t === 'ipip' ? 'flannel.ipip' : 'flannel-wg';
      if (this.hasLink(n, dev)) this.ns(n, 'ip', 'link', 'del', dev);
    } else if (t === 'ipsec') this.ns(n, 'ip', 'xfrm', 'policy', 'flush');
    // the device first: it takes the VtepMAC the annotation stores, before flanneld publishes its lease again
    this.setupDevice(n);
    n.kube = { ...n.kube, flannelAnnotations: this.kubeNode(n).flannelAnnotations };
    this.publishOwnMac(n);
    this.programBackend(n);
    this.reinstallRules(n);
    n.kube = { ...n.kube, networkUnavailable: { status: 'False', reason: 'FlannelIsUp' } };
    if (n.pod) n.pod = { ...healthyPod(n.name), name: n.pod.name, namespace: n.pod.namespace };
    if (this.healthz) {
      const old = this.healthServers.get(n.name);
      old?.kill('SIGCONT');
      old?.kill('SIGKILL');
      this.startHealthServer(n);
    }
    for (const p of this.nodes) {
      // k3s embeds flanneld: no pod, but it runs
      const lease = p === n || (!p.pod && !this.k3s) ? undefined : this.peerLeases(p).find((l) => l.node === n.name);
      if (!lease) continue;
      try {
        this.programLease(p, lease);
      } catch {
        // flanneld logs the failed netlink call and goes on (a peer whose flannel.1 was deleted has no device to
        // program until its own restart)
      }
      if (t === 'wireguard') this.wgDump.set(p.name, wgDumpFor(p, this.peerLeases(p)));
      if (t === 'ipsec')
        this.xfrmStateText.set(
          p.name,
          this.peerLeases(p)
            .map((l) => saText(p.name, p.ip, l) + saTextTo(l, p))
            .join(''),
        );
    }
  }

  /** flanneld publishes the MAC of the vxlan device it runs with, kept or re-created (§4.1). */
  private publishOwnMac(n: SimNode): void {
    if (this.flannelType !== 'vxlan') return;
    const a = { ...n.kube.flannelAnnotations };
    for (const [dev, key] of [
      ['flannel.1', 'backend-data'],
      ['flannel-v6.1', 'backend-v6-data'],
    ] as const) {
      if (!this.hasLink(n, dev) || a[key] === undefined) continue;
      const mac = (JSON.parse(this.ns(n, 'ip', '-j', 'link', 'show', dev)) as { address: string }[])[0]?.address;
      a[key] = JSON.stringify({ VNI: 1, VtepMAC: mac });
    }
    n.kube = { ...n.kube, flannelAnnotations: a };
  }

  /** flanneld's rules re-created at start: its own chains or tables replaced, the other mode's removed (§8). */
  private reinstallRules(n: SimNode): void {
    const tryNs = (...argv: string[]) => {
      try {
        this.ns(n, ...argv);
      } catch {
        /* absent */
      }
    };
    const masq = ['-m', 'comment', '--comment', 'flanneld masq'];
    const fwd = ['-m', 'comment', '--comment', 'flanneld forward'];
    tryNs('iptables-nft', '-t', 'nat', '-D', 'POSTROUTING', ...masq, '-j', 'FLANNEL-POSTRTG');
    tryNs('iptables-nft', '-t', 'nat', '-F', 'FLANNEL-POSTRTG');
    tryNs('iptables-nft', '-t', 'nat', '-X', 'FLANNEL-POSTRTG');
    tryNs('iptables-nft', '-D', 'FORWARD', ...fwd, '-j', 'FLANNEL-FWD');
    tryNs('iptables-nft', '-F', 'FLANNEL-FWD');
    tryNs('iptables-nft', '-X', 'FLANNEL-FWD');
    tryNs('nft', 'delete', 'table', 'ip', 'flannel-ipv4');
    tryNs('nft', 'delete', 'table', 'ip6', 'flannel-ipv6');
    this.installRules(n);
  }

  /** Collects every node with the real host collector and assembles the snapshot. */
  async snapshot(description = `simulated ${this.backend} cluster (network namespaces)`): Promise<Snapshot> {
    if (this.healthz) await this.waitHealthServers();
    const hosts: Record<string, Collected<HostState>> = {};
    for (const n of this.nodes) {
      const host = await collectHost(n.name, localRunner({ netns: n.ns }), {
        keepKeys: false,
        backend:
          this.flannelType === 'udp' ||
          this.flannelType === 'host-gw' ||
          this.flannelType === 'vxlan' ||
          this.flannelType === 'ipip' ||
          this.flannelType === 'wireguard' ||
          this.flannelType === 'ipsec'
            ? this.flannelType
            : null,
        peerAddresses: this.nodes
          .filter((p) => p !== n)
          .flatMap((p) => (this.dualStack ? [p.ip, p.ip6] : this.v4 ? [p.ip] : [p.ip6])),
        routeDecisions: routeDecisionPlan(
          n.kube,
          this.nodes.map((x) => x.kube),
        ),
        subnetEnvPath: this.subnetEnvPath(n),
        cniConfDir: this.cniConfDir(n),
        cniBinDir: this.cniBinDir(n),
      });
      // k3s: net-conf.json read from the node's file, as cluster collection does for embedded flannel.
      const netConfFile = this.k3s
        ? await readNodeNetConf(localRunner({ netns: n.ns }), this.netConfPath(n), 10_000)
        : undefined;
      // flanneld's health endpoints, probed the way cluster collection probes them on the node.
      const flanneldHealth = this.healthz
        ? await probeFlanneld(localRunner({ netns: n.ns }), HEALTHZ_PORT, 10_000)
        : undefined;
      hosts[n.name] = {
        status: 'ok',
        data: {
          ...this.substitute(n, host),
          ...(netConfFile ? { netConfFile } : {}),
          ...(flanneldHealth ? { flanneldHealth } : {}),
        },
      };
    }
    const netConf = parseNetConf(this.netConfText);
    const packaging: Packaging = this.canal
      ? { kind: 'canal' }
      : this.k3s
        ? { kind: 'embedded', distribution: 'k3s', version: 'v1.34.2+k3s1', netConfPath: K3S_PATHS.netConf! }
        : { kind: 'kube-flannel' };
    const install: FlannelInstall = {
      packaging,
      namespace: this.canal || this.k3s ? 'kube-system' : 'kube-flannel',
      daemonSet: this.k3s
        ? null
        : {
            name: this.canal ? 'canal' : 'kube-flannel-ds',
            image: 'ghcr.io/flannel-io/flannel:v0.28.9',
            args: this.flanneldArgs,
            desired: this.nodes.length,
            ready: this.nodes.filter((n) => n.pod?.ready).length,
          },
      netConf: netConf.ok ? { status: 'ok', data: netConf.netConf } : { status: 'failed', error: netConf.error },
      netConfRaw: redactNetConf(this.netConfText).text,
      cniConfRaw: null,
    };
    const snapshot: Snapshot = {
      schemaVersion: SCHEMA_VERSION,
      collectedAt: new Date().toISOString(),
      source: { kind: 'fixture', description, toolVersion: 'sim', keysIncluded: false },
      cluster: {
        flannel: { status: 'ok', data: install },
        nodes: { status: 'ok', data: this.nodes.map((n) => n.kube) },
        flannelPods: this.k3s
          ? { status: 'skipped', error: 'flanneld is embedded in k3s: there are no flannel pods' }
          : { status: 'ok', data: this.nodes.flatMap((n) => (n.pod ? [n.pod] : [])) },
        networkPolicies: { status: 'ok', data: this.networkPolicies },
      },
      hosts,
      errors: [],
    };
    if (!this.k3s) return snapshot;
    // The install as cluster collection builds it for embedded flannel: from the nodes' files.
    const fromNodes = installFromNodeFiles(
      { ...install, netConf: { status: 'unavailable', error: 'read on the nodes' }, netConfRaw: null },
      hosts,
      K3S_PATHS.netConf!,
    );
    return { ...snapshot, cluster: { ...snapshot.cluster, flannel: { status: 'ok', data: fromNodes.install } } };
  }

  /** Rewrites what this kernel cannot produce (see the file comment). */
  private substitute(n: SimNode, host: HostState): HostState {
    const t = this.flannelType;
    if (t === 'ipip' || t === 'wireguard') {
      const kind = t === 'ipip' ? 'ipip' : 'wireguard';
      const links =
        host.links.status === 'ok'
          ? {
              status: 'ok' as const,
              data: host.links.data.map((l) =>
                l.kind === 'tun' && l.name.startsWith('flannel') ? { ...l, kind, mac: null } : l,
              ),
            }
          : host.links;
      host = { ...host, links };
    }
    if (t === 'wireguard') {
      const dump = this.wgDump.get(n.name) ?? '';
      host = { ...host, wireguard: { status: 'ok', data: parseWgDumpForSim(dump) } };
    }
    if (t === 'ipsec') {
      const r = parseXfrmState(this.xfrmStateText.get(n.name) ?? '', { keepKeys: false });
      host = {
        ...host,
        xfrmStates: r.errors.length
          ? { status: 'failed', error: r.errors[0]!.message }
          : { status: 'ok', data: r.states },
      };
    }
    return host;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const child of this.healthServers.values()) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    for (const ns of [this.sw, ...this.nodes.flatMap((n) => [n.ns, n.podNs])]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        /* already gone */
      }
    }
    for (const n of this.nodes) rmSync(n.dir, { recursive: true, force: true });
  }
}

/** net-conf.json as the packaging ships it for backend `b`. */
export function netConfFor(b: SimBackend): string {
  const backend: Record<string, unknown> =
    b === 'vxlan-directrouting'
      ? { Type: 'vxlan', DirectRouting: true }
      : b.startsWith('vxlan')
        ? { Type: 'vxlan' }
        : b.startsWith('host-gw')
          ? { Type: 'host-gw' }
          : b === 'ipsec'
            ? { Type: 'ipsec', PSK: 'a'.repeat(48) + 'b'.repeat(48) }
            : { Type: b };
  if (b === 'vxlan-k3s') {
    // k3s's template (pkg/agent/flannel/setup.go flannelConf), single-stack IPv4: IPv6Network is the ::/0 placeholder.
    return `{\n\t"Network": "${NETWORK}",\n\t"EnableIPv6": false,\n\t"EnableIPv4": true,\n\t"IPv6Network": "::/0",\n\t"Backend": {\n\t"Type": "vxlan"\n}\n}\n`;
  }
  const conf: Record<string, unknown> = { Network: NETWORK, EnableNFTables: b === 'vxlan-nftables', Backend: backend };
  if (b === 'vxlan-dualstack' || b === 'host-gw-dualstack')
    Object.assign(conf, { IPv6Network: NETWORK6, EnableIPv6: true });
  if (b === 'vxlan-ipv6') {
    delete conf.Network;
    Object.assign(conf, { EnableIPv4: false, EnableIPv6: true, IPv6Network: NETWORK6 });
  }
  return JSON.stringify(conf, null, 2);
}

export function healthyPod(node: string): FlannelPod {
  return {
    name: `kube-flannel-ds-${createHash('sha256').update(node).digest('hex').slice(0, 5)}`,
    namespace: 'kube-flannel',
    node,
    phase: 'Running',
    ready: true,
    restarts: 0,
    waitingReason: null,
    lastTermination: null,
    image: 'ghcr.io/flannel-io/flannel:v0.28.9',
    logTail: [
      'I1122 02:00:00.000000       1 main.go:494] Wrote subnet file to /run/flannel/subnet.env',
      'I1122 02:00:00.000001       1 main.go:498] Running backend.',
      'I1122 02:00:00.000002       1 main.go:519] flannel is ready',
    ],
  };
}

/** A peer's lease as node flanneld reads it (see SimCluster.leaseOf). */
interface Lease {
  readonly node: string;
  readonly type: string;
  readonly ip: string | null;
  readonly ip6: string | null;
  readonly mac: string | null;
  readonly mac6: string | null;
  readonly wgKey: string | null;
  readonly podCIDR: string | null;
  readonly podNet: string | null;
  readonly podCIDR6: string | null;
  readonly podNet6: string | null;
}

interface LinkJson {
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_data?: { id?: number; port?: number; local?: string; local6?: string };
  };
}

/** charon's SA for src -> dst: both nodes hold the same SPI and key for one direction. */
function saText(src: string, srcIP: string, dst: Lease): string {
  return saRecord(src, srcIP, dst.node, dst.ip ?? '');
}

function saTextTo(src: Lease, dst: SimNode): string {
  return saRecord(src.node, src.ip ?? '', dst.name, dst.ip);
}

function saRecord(src: string, srcIP: string, dst: string, dstIP: string): string {
  const seed = createHash('sha256').update(`${src}->${dst}`).digest('hex');
  return `src ${srcIP} dst ${dstIP}\n\tproto esp spi 0x${seed.slice(0, 8)} reqid 11 mode tunnel\n\treplay-window 32 flag af-unspec\n\taead rfc4106(gcm(aes)) 0x${seed.slice(8, 48)} 128\n\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000\n\tsel src 0.0.0.0/0 dst 0.0.0.0/0\n`;
}

function wgDumpFor(n: SimNode, peers: readonly Lease[]): string {
  const lines = [`flannel-wg\t(hidden)\t${n.wgPublicKey}\t51820\toff`];
  for (const p of peers)
    lines.push(`flannel-wg\t${p.wgKey}\t(none)\t${p.ip}:51820\t${p.podCIDR}\t1763776800\t1024\t2048\toff`);
  return lines.join('\n') + '\n';
}

function parseWgDumpForSim(text: string) {
  const r = parseWgDump(text);
  if (r.errors.length) throw new Error(`wg dump: ${r.errors[0]!.message}`);
  return r.value;
}
