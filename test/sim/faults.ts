/**
 * Faults from flannel-internals.md §11, each applied to a simulated cluster the way it happens
 * on a real one (a kernel entry deleted or changed, an annotation edited, a pod crashing), with
 * the findings doctor must report. Used to generate the broken fixtures and by the live tests.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Snapshot } from '../../src/snapshot/types.js';
import { healthyPod, type SimBackend, type SimCluster, sh } from './cluster.js';

export interface ExpectedFinding {
  readonly check: string;
  readonly node: string | null;
  readonly peer?: string;
  /** Must match one evidence line (or the message). */
  readonly evidence: RegExp;
  /** When given, the finding's severity. */
  readonly severity?: 'error' | 'warning' | 'info';
  /** When given, exactly this many findings of the check on this node (and peer). */
  readonly count?: number;
}

/** Pod traffic the fault breaks, proven live before the findings are asserted (test/analyzers/sim-live.test.ts). */
export interface Breaks {
  readonly from: string;
  readonly to: string;
  /** ICMP payload bytes, sent with DF set; default 56. */
  readonly size?: number;
}

export interface Fault {
  readonly id: string;
  readonly backend: SimBackend;
  readonly description: string;
  apply(c: SimCluster): void;
  /**
   * Data the simulation cannot produce, added to the collected snapshot: doctor --probe's packet counts (the
   * namespaces have no underlay between them to drop on). Shaped exactly as doctor --probe records them.
   */
  readonly addToSnapshot?: (s: Snapshot) => Snapshot;
  /**
   * The snapshot carries bundle's tcpdump samples (test/sim/samples.ts): real tcpdump on every node while the pods
   * ping each other in a ring, taken after the fault is applied.
   */
  readonly sampled?: true;
  readonly expect: readonly ExpectedFinding[];
  /** Checks that may also fire, as consequences of the same fault. */
  readonly alsoAllowed?: readonly string[];
  readonly breaks?: readonly Breaks[];
}

const FORWARD_REJECT = ['-I', 'FORWARD', '1', '-j', 'REJECT', '--reject-with', 'icmp-host-prohibited'];

export const FAULTS: readonly Fault[] = [
  {
    id: 'underlay-drops-vxlan',
    backend: 'vxlan',
    description:
      "doctor --probe: node2's VXLAN probes never reach node3's uplink (an underlay filter between them; the counts are doctor --probe's, as recorded on the lab's underlay-drop fault)",
    apply: () => undefined,
    addToSnapshot: (s) => {
      const nodes = s.cluster.nodes.status === 'ok' ? s.cluster.nodes.data : [];
      const ip = (n: string) => nodes.find((k) => k.name === n)?.flannelAnnotations['public-ip'] ?? '';
      const names = nodes.map((n) => n.name);
      const pairs = names.flatMap((from) =>
        names
          .filter((to) => to !== from)
          .map((to) => {
            const dropped = from === 'node2' && to === 'node3';
            return {
              from,
              to,
              fromIP: ip(from),
              toIP: ip(to),
              sent: 2,
              seen: dropped ? 0 : 2,
              delivered: dropped ? 0 : 2,
              deliveredOn: 'flannel.1',
              error: null,
            };
          }),
      );
      return { ...s, underlayProbe: { status: 'ok', data: { what: 'UDP 8472 (vxlan)', sampled: false, pairs } } };
    },
    expect: [{ check: 'underlay-probe', node: 'node2', peer: 'node3', evidence: /seen 0 on node3's uplink/ }],
  },
  {
    id: 'underlay-drops-vxlan-samples',
    backend: 'vxlan',
    description:
      "bundle's tcpdump samples: an nft filter on the underlay bridge drops node2's VXLAN packets to node3 while the pods ping (no node shows it)",
    apply: (c) => {
      const nft = (...argv: string[]) => sh('ip', 'netns', 'exec', c.sw, 'nft', ...argv);
      nft('add', 'table', 'bridge', 'kfl_underlay');
      nft('add', 'chain', 'bridge', 'kfl_underlay', 'filter_fwd', '{ type filter hook forward priority 0; }');
      nft('add rule bridge kfl_underlay filter_fwd iifname "e2" oifname "e3" udp dport 8472 drop');
    },
    sampled: true,
    expect: [
      {
        check: 'underlay-samples',
        node: 'node2',
        peer: 'node3',
        severity: 'error',
        count: 1,
        evidence: /^node3 eth0: captured .*, 0 packets from node2, \d+ received by filter, 0 dropped by kernel$/,
      },
    ],
  },
  {
    id: 'peer-route-deleted',
    backend: 'vxlan',
    description: 'node1 lost its route to node2 (deleted by hand)',
    apply: (c) => c.ns(c.node('node1'), 'ip', 'route', 'del', '10.244.2.0/24'),
    expect: [
      {
        check: 'peer-routes',
        node: 'node1',
        peer: 'node2',
        evidence: /expected: 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink/,
      },
    ],
  },
  {
    id: 'fdb-deleted',
    backend: 'vxlan',
    description: "node2's fdb entry for node3's VtepMAC deleted",
    apply: (c) =>
      c.ns(
        c.node('node2'),
        'bridge',
        'fdb',
        'del',
        c.node('node3').vtepMAC,
        'dev',
        'flannel.1',
        'dst',
        c.node('node3').ip,
        'self',
      ),
    expect: [
      {
        check: 'vxlan-fdb',
        node: 'node2',
        peer: 'node3',
        evidence: /expected: .* dev flannel\.1 dst 192\.168\.56\.13 self permanent/,
      },
    ],
  },
  {
    id: 'neigh-wrong-mac',
    backend: 'vxlan',
    description: "node1's neighbour for node3 points at an old VtepMAC",
    apply: (c) =>
      c.ns(
        c.node('node1'),
        'ip',
        'neigh',
        'replace',
        '10.244.3.0',
        'lladdr',
        '02:00:00:00:00:99',
        'dev',
        'flannel.1',
        'nud',
        'permanent',
      ),
    expect: [
      {
        check: 'vxlan-neighbours',
        node: 'node1',
        peer: 'node3',
        evidence: /actual: 10\.244\.3\.0 dev flannel\.1 lladdr 02:00:00:00:00:99 PERMANENT/,
      },
    ],
  },
  {
    id: 'vtep-mac-rewritten',
    backend: 'vxlan',
    description: "udev rewrote node3's flannel.1 MAC after flanneld created it",
    apply: (c) => {
      const n = c.node('node3');
      c.ns(n, 'ip', 'link', 'set', 'flannel.1', 'down');
      c.ns(n, 'ip', 'link', 'set', 'flannel.1', 'address', '02:42:ac:11:00:02');
      c.ns(n, 'ip', 'link', 'set', 'flannel.1', 'up');
      // Setting the link down flushed flanneld's neighbours and routes; put them back so only the MAC differs.
      for (const p of [c.node('node1'), c.node('node2')]) {
        c.ns(n, 'ip', 'neigh', 'replace', p.podNet, 'lladdr', p.vtepMAC, 'dev', 'flannel.1', 'nud', 'permanent');
        c.ns(n, 'ip', 'route', 'replace', p.podCIDR, 'via', p.podNet, 'dev', 'flannel.1', 'onlink');
      }
    },
    expect: [{ check: 'vtep-mac', node: 'node3', evidence: /flannel\.1: link\/ether 02:42:ac:11:00:02/ }],
  },
  // Something other than flannel's entries decides the packet's fate (issue 9).
  {
    id: 'policy-rule-other-table',
    backend: 'vxlan',
    description: "a policy rule on node1 sends traffic for node2's podCIDR to table 100, whose route leads nowhere",
    apply: (c) => {
      const n = c.node('node1');
      c.ns(n, 'ip', 'route', 'add', '10.244.2.0/24', 'via', '192.168.56.99', 'dev', 'eth0', 'onlink', 'table', '100');
      c.ns(n, 'ip', 'rule', 'add', 'pref', '100', 'to', '10.244.2.0/24', 'lookup', '100');
    },
    expect: [
      {
        check: 'route-decision',
        node: 'node1',
        peer: 'node2',
        severity: 'error',
        count: 1,
        evidence:
          /decided by: rule 100 \(from all to 10\.244\.2\.0\/24 lookup 100\), route 10\.244\.2\.0\/24 via 192\.168\.56\.99 dev eth0 table 100/,
      },
    ],
    breaks: [{ from: 'node1', to: 'node2' }],
  },
  {
    id: 'hostgw-policy-rule-other-table',
    backend: 'host-gw',
    description: "a policy rule on node1 sends traffic for node2's podCIDR to table 100, whose route leads nowhere",
    apply: (c) => {
      const n = c.node('node1');
      c.ns(n, 'ip', 'route', 'add', '10.244.2.0/24', 'via', '192.168.56.99', 'dev', 'eth0', 'onlink', 'table', '100');
      c.ns(n, 'ip', 'rule', 'add', 'pref', '100', 'to', '10.244.2.0/24', 'lookup', '100');
    },
    expect: [
      {
        check: 'route-decision',
        node: 'node1',
        peer: 'node2',
        severity: 'error',
        count: 1,
        evidence: /decided by: rule 100 \(from all to 10\.244\.2\.0\/24 lookup 100\)/,
      },
    ],
    breaks: [{ from: 'node1', to: 'node2' }],
  },
  {
    id: 'peer-podcidr-shadowed',
    backend: 'vxlan',
    description:
      "a more specific route on node1 takes the upper half of node3's podCIDR (10.244.3.128/25) off the overlay",
    apply: (c) =>
      c.ns(c.node('node1'), 'ip', 'route', 'add', '10.244.3.128/25', 'via', '192.168.56.99', 'dev', 'eth0', 'onlink'),
    expect: [
      {
        check: 'route-decision',
        node: 'node1',
        peer: 'node3',
        severity: 'error',
        count: 1,
        evidence:
          /10\.244\.3\.0\/24 \(10\.244\.3\.254\) leaves via 192\.168\.56\.99 dev eth0 .*route 10\.244\.3\.128\/25 via 192\.168\.56\.99 dev eth0/,
      },
    ],
  },
  {
    id: 'blackhole-in-local-table',
    backend: 'vxlan',
    description: "a blackhole route for node1's podCIDR in node2's local table (consulted before main)",
    apply: (c) => c.ns(c.node('node2'), 'ip', 'route', 'add', 'blackhole', '10.244.1.0/24', 'table', 'local'),
    expect: [
      {
        check: 'route-decision',
        node: 'node2',
        peer: 'node1',
        severity: 'error',
        count: 1,
        evidence: /decided by: rule 0 \(from all lookup local\), route blackhole 10\.244\.1\.0\/24 table local/,
      },
    ],
    breaks: [{ from: 'node2', to: 'node1' }],
  },
  {
    id: 'prohibit-for-forwarded-pods',
    backend: 'vxlan',
    description:
      "on node3 a rule sends forwarded pod traffic (iif cni0) to table 200, where node2's podCIDR is prohibit",
    apply: (c) => {
      const n = c.node('node3');
      c.ns(n, 'ip', 'route', 'add', 'prohibit', '10.244.2.0/24', 'table', '200');
      c.ns(n, 'ip', 'rule', 'add', 'pref', '200', 'iif', 'cni0', 'lookup', '200');
    },
    expect: [
      {
        check: 'route-decision',
        node: 'node3',
        peer: 'node2',
        severity: 'error',
        count: 1,
        evidence: /kernel: ip route get 10\.244\.2\.1 from 10\.244\.3\.2 iif cni0: Permission denied/,
      },
    ],
    breaks: [{ from: 'node3', to: 'node2' }],
  },
  {
    id: 'cni0-mtu-below-flannel-mtu',
    backend: 'vxlan',
    description: "node2's cni0 MTU set to 1400, below FLANNEL_MTU 1450: large packets into node2's pods die",
    apply: (c) => c.ns(c.node('node2'), 'ip', 'link', 'set', 'cni0', 'mtu', '1400'),
    expect: [
      {
        check: 'mtu',
        node: 'node2',
        severity: 'error',
        count: 1,
        evidence: /cni0 MTU 1400 is below FLANNEL_MTU 1450: pod packets of 1401-1450 bytes toward node2's pods die/,
      },
    ],
    breaks: [{ from: 'node1', to: 'node2', size: 1422 }],
  },
  {
    id: 'uplink-mtu-differs',
    backend: 'vxlan',
    description: "node3's NIC MTU raised to 9000 while the others and the switch carry 1500",
    apply: (c) => c.ns(c.node('node3'), 'ip', 'link', 'set', 'eth0', 'mtu', '9000'),
    expect: [
      {
        check: 'mtu-mixed',
        node: 'node3',
        severity: 'warning',
        count: 1,
        evidence:
          /eth0 MTU 9000 exceeds the 1500 of node1, node2: host packets of 1501-9000 bytes from node3 to node1, node2 are dropped/,
      },
    ],
  },

  {
    id: 'uplink-mtu-lowered',
    backend: 'vxlan',
    description: "node2's NIC MTU lowered to 1400 after flannel.1 was created (flannel.1 keeps 1450)",
    apply: (c) => c.ns(c.node('node2'), 'ip', 'link', 'set', 'eth0', 'mtu', '1400'),
    expect: [
      { check: 'mtu', node: 'node2', evidence: /eth0 \(uplink\) mtu 1400/ },
      // The peers still send 1500-byte host packets and 1450-byte pod packets that node2's uplink cannot take.
      ...(['node1', 'node3'] as const).map((node) => ({
        check: 'mtu-mixed',
        node,
        severity: 'warning' as const,
        count: 1,
        evidence: new RegExp(`host packets of 1401-1500 bytes from ${node} to node2 are dropped`),
      })),
    ],
  },
  {
    id: 'ip-forward-off',
    backend: 'vxlan',
    description: 'a security baseline set net.ipv4.ip_forward=0 on node2',
    apply: (c) => c.ns(c.node('node2'), 'sysctl', '-qw', 'net.ipv4.ip_forward=0'),
    expect: [{ check: 'ip-forward', node: 'node2', evidence: /net\.ipv4\.ip_forward = 0/ }],
  },
  {
    id: 'forward-reject-first',
    backend: 'vxlan',
    description: "firewalld's REJECT rule inserted ahead of FLANNEL-FWD on node3",
    apply: (c) => c.ns(c.node('node3'), 'iptables-nft', ...FORWARD_REJECT),
    expect: [
      { check: 'forward-drop', node: 'node3', evidence: /-A FORWARD -j REJECT --reject-with icmp-host-prohibited/ },
    ],
  },
  {
    id: 'forward-policy-drop-no-flannel-fwd',
    backend: 'host-gw',
    description: 'node1 runs with FORWARD policy DROP and its FLANNEL-FWD jump was flushed',
    apply: (c) => {
      const n = c.node('node1');
      c.ns(n, 'iptables-nft', '-F', 'FORWARD');
      c.ns(n, 'iptables-nft', '-P', 'FORWARD', 'DROP');
    },
    expect: [{ check: 'forward-drop', node: 'node1', evidence: /:FORWARD DROP/ }],
  },
  {
    id: 'masquerade-flushed',
    backend: 'vxlan',
    description: "another agent flushed node1's nat table",
    apply: (c) => c.ns(c.node('node1'), 'iptables-nft', '-t', 'nat', '-F'),
    expect: [{ check: 'masquerade-rules', node: 'node1', evidence: /FLANNEL_IPMASQ=true/ }],
  },
  {
    id: 'subnet-env-missing',
    backend: 'vxlan',
    description: '/run/flannel/subnet.env removed on node3',
    apply: (c) => rmSync(c.subnetEnvPath(c.node('node3'))),
    expect: [{ check: 'subnet-env', node: 'node3', evidence: /No such file or directory/ }],
  },
  {
    id: 'subnet-env-stale',
    backend: 'host-gw',
    description: "node2's subnet.env still names an old podCIDR",
    apply: (c) =>
      writeFileSync(
        c.subnetEnvPath(c.node('node2')),
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=true\n',
      ),
    expect: [{ check: 'subnet-env', node: 'node2', evidence: /FLANNEL_SUBNET=10\.244\.7\.1\/24/ }],
  },
  {
    id: 'cni0-wrong-address',
    backend: 'vxlan',
    description: 'node2 re-joined with a new podCIDR; cni0 kept the old gateway address',
    apply: (c) => {
      const n = c.node('node2');
      c.ns(n, 'ip', 'addr', 'flush', 'dev', 'cni0');
      c.ns(n, 'ip', 'addr', 'add', '10.244.42.1/24', 'dev', 'cni0');
      c.ns(n, 'ip', 'route', 'replace', '10.244.2.0/24', 'dev', 'cni0');
    },
    expect: [{ check: 'cni0-address', node: 'node2', evidence: /cni0: 10\.244\.42\.1\/24/ }],
    alsoAllowed: ['stale-routes'],
  },
  {
    id: 'departed-node-leftovers',
    backend: 'vxlan',
    description: 'node4 was deleted while flanneld on node1 was down: its route, neighbour and fdb entry stayed',
    apply: (c) => {
      const n = c.node('node1');
      c.ns(
        n,
        'ip',
        'neigh',
        'replace',
        '10.244.4.0',
        'lladdr',
        '0a:58:0a:f4:04:00',
        'dev',
        'flannel.1',
        'nud',
        'permanent',
      );
      c.ns(
        n,
        'bridge',
        'fdb',
        'append',
        '0a:58:0a:f4:04:00',
        'dev',
        'flannel.1',
        'dst',
        '192.168.56.14',
        'self',
        'permanent',
      );
      c.ns(n, 'ip', 'route', 'replace', '10.244.4.0/24', 'via', '10.244.4.0', 'dev', 'flannel.1', 'onlink');
    },
    expect: [
      { check: 'stale-routes', node: 'node1', evidence: /10\.244\.4\.0\/24 via 10\.244\.4\.0 dev flannel\.1/ },
      { check: 'vxlan-neighbours', node: 'node1', evidence: /10\.244\.4\.0 dev flannel\.1 lladdr 0a:58:0a:f4:04:00/ },
      { check: 'vxlan-fdb', node: 'node1', evidence: /0a:58:0a:f4:04:00 dev flannel\.1 dst 192\.168\.56\.14/ },
    ],
  },
  {
    id: 'vagrant-shared-nat-ip',
    backend: 'vxlan',
    description:
      'every node published the VirtualBox NAT address 10.0.2.15, and flanneld pointed every fdb entry at it',
    apply: (c) => {
      for (const n of c.nodes) {
        n.kube = { ...n.kube, flannelAnnotations: { ...n.kube.flannelAnnotations, 'public-ip': '10.0.2.15' } };
        for (const p of c.nodes.filter((x) => x !== n)) {
          c.ns(n, 'bridge', 'fdb', 'del', p.vtepMAC, 'dev', 'flannel.1', 'dst', p.ip, 'self');
          c.ns(n, 'bridge', 'fdb', 'append', p.vtepMAC, 'dev', 'flannel.1', 'dst', '10.0.2.15', 'self', 'permanent');
        }
      }
    },
    expect: [
      { check: 'public-ip-duplicate', node: 'node1', evidence: /node2: public-ip=10\.0\.2\.15/ },
      { check: 'public-ip-not-local', node: 'node1', evidence: /public-ip: 10\.0\.2\.15/ },
    ],
  },
  {
    id: 'podcidr-outside-network',
    backend: 'vxlan',
    description: "node3's podCIDR comes from kubeadm's --pod-network-cidr 10.224.0.0/16, not flannel's Network",
    apply: (c) => {
      const n = c.node('node3');
      n.kube = { ...n.kube, podCIDRs: ['10.224.3.0/24'] };
    },
    expect: [{ check: 'podcidr-outside-network', node: 'node3', evidence: /10\.224\.3\.0\/24/ }],
    alsoAllowed: [
      'subnet-env',
      'cni0-address',
      'flannel-device',
      'peer-routes',
      'stale-routes',
      'vxlan-neighbours',
      'own-podcidr-route',
    ],
  },
  {
    id: 'podcidr-unset',
    backend: 'host-gw',
    description: 'kube-controller-manager never allocated a podCIDR to node2',
    apply: (c) => {
      const n = c.node('node2');
      n.kube = { ...n.kube, podCIDRs: [] };
    },
    expect: [{ check: 'podcidr-unset', node: 'node2', evidence: /spec\.podCIDRs: \[\]/ }],
    alsoAllowed: ['subnet-env', 'cni0-address', 'stale-routes'],
  },
  {
    id: 'podcidr-overlap',
    backend: 'host-gw',
    description: 'node3 was given the same podCIDR as node2',
    apply: (c) => {
      const n = c.node('node3');
      n.kube = { ...n.kube, podCIDRs: [c.node('node2').podCIDR] };
    },
    expect: [
      {
        check: 'podcidr-overlap',
        node: 'node3',
        peer: 'node2',
        evidence: /node3 spec\.podCIDRs: \["10\.244\.2\.0\/24"\]/,
      },
    ],
    alsoAllowed: ['subnet-env', 'cni0-address', 'peer-routes', 'stale-routes', 'own-podcidr-route'],
  },
  {
    id: 'backend-type-mismatch',
    backend: 'vxlan',
    description: 'node2 still carries backend-type host-gw from before a backend switch',
    apply: (c) => {
      const n = c.node('node2');
      n.kube = { ...n.kube, flannelAnnotations: { ...n.kube.flannelAnnotations, 'backend-type': 'host-gw' } };
    },
    expect: [
      { check: 'backend-type-mismatch', node: 'node2', evidence: /backend-type: "host-gw"/ },
      // Peers ignore node2's lease, but their live fdb entry toward it still carries traffic: named, never deleted.
      ...(['node1', 'node3'] as const).map((node) => ({
        check: 'vxlan-fdb',
        node,
        peer: 'node2',
        severity: 'info' as const,
        count: 1,
        evidence: /belongs to node2, whose backend-type annotation "host-gw" differs .*\(backend-type mismatch\)/,
      })),
    ],
  },
  {
    id: 'flannel-crashloop-br-netfilter',
    backend: 'vxlan',
    description: "node3's flannel pod crash-loops: br_netfilter is not loaded",
    apply: (c) => {
      const n = c.node('node3');
      n.pod = {
        ...healthyPod('node3'),
        ready: false,
        restarts: 7,
        waitingReason: 'CrashLoopBackOff',
        lastTermination: { reason: 'Error', exitCode: 1, finishedAt: new Date().toISOString() },
        logTail: [
          'I1122 main.go:211] Created subnet manager',
          'E1122 main.go:278] Failed to check br_netfilter: stat /proc/sys/net/bridge/bridge-nf-call-iptables: no such file or directory',
        ],
      };
    },
    expect: [{ check: 'flannel-pod-unhealthy', node: 'node3', evidence: /log: .*Failed to check br_netfilter/ }],
  },
  {
    id: 'leftover-udp-device',
    backend: 'vxlan',
    description: 'node1 still has flannel0 from the udp backend it used before',
    apply: (c) => {
      const n = c.node('node1');
      c.ns(n, 'ip', 'tuntap', 'add', 'dev', 'flannel0', 'mode', 'tun');
    },
    expect: [{ check: 'leftover-backend-device', node: 'node1', evidence: /flannel0: tun/ }],
  },
  {
    id: 'own-podcidr-shadowed',
    backend: 'vxlan',
    description:
      'node1 has a route sending its own podCIDR to node2 (left from host-gw days, when node2 owned the range)',
    apply: (c) =>
      c.ns(
        c.node('node1'),
        'ip',
        'route',
        'add',
        '10.244.1.0/24',
        'via',
        '192.168.56.12',
        'dev',
        'eth0',
        'metric',
        '50',
      ),
    expect: [
      {
        check: 'own-podcidr-route',
        node: 'node1',
        evidence: /10\.244\.1\.0\/24 via 192\.168\.56\.12 dev eth0 metric 50/,
      },
    ],
    alsoAllowed: ['stale-routes'],
  },
  {
    id: 'vxlan-port-differs',
    backend: 'vxlan',
    description: 'flannel.1 on node3 was re-created by hand with dstport 4789',
    apply: (c) => {
      const n = c.node('node3');
      c.ns(n, 'ip', 'link', 'del', 'flannel.1');
      c.ns(
        n,
        'ip',
        'link',
        'add',
        'flannel.1',
        'address',
        n.vtepMAC,
        'mtu',
        '1450',
        'type',
        'vxlan',
        'id',
        '1',
        'local',
        n.ip,
        'dev',
        'eth0',
        'dstport',
        '4789',
        'nolearning',
      );
      c.ns(n, 'ip', 'addr', 'add', `${n.podNet}/32`, 'dev', 'flannel.1');
      c.ns(n, 'ip', 'link', 'set', 'flannel.1', 'up');
    },
    expect: [
      { check: 'vxlan-port-mismatch', node: 'node3', evidence: /node3: VNI 1 dstport 4789/ },
      { check: 'flannel-device', node: 'node3', evidence: /dstport 4789/ },
    ],
    // Deleting the device took flanneld's peer entries with it; they are not replayed.
    alsoAllowed: ['peer-routes', 'vxlan-neighbours', 'vxlan-fdb'],
  },
  {
    id: 'networkpolicy-present',
    backend: 'vxlan',
    description: 'a default-deny NetworkPolicy exists, which flannel does not enforce',
    apply: (c) => {
      c.networkPolicies = [{ namespace: 'prod', name: 'default-deny' }];
    },
    expect: [{ check: 'network-policy-unenforced', node: null, evidence: /networkpolicy prod\/default-deny/ }],
  },
  {
    id: 'directrouting-route-missing',
    backend: 'vxlan-directrouting',
    description: 'node2 lost its direct route to node1',
    apply: (c) => c.ns(c.node('node2'), 'ip', 'route', 'del', '10.244.1.0/24'),
    expect: [
      { check: 'peer-routes', node: 'node2', peer: 'node1', evidence: /10\.244\.1\.0\/24 via 192\.168\.56\.11/ },
    ],
  },
  {
    id: 'ipv6-route-deleted',
    backend: 'vxlan-dualstack',
    description: 'node1 lost its IPv6 route to node2 while IPv4 works',
    apply: (c) => c.ns(c.node('node1'), 'ip', '-6', 'route', 'del', 'fd00:10:244:2::/64'),
    expect: [
      {
        check: 'peer-routes',
        node: 'node1',
        peer: 'node2',
        evidence: /fd00:10:244:2::\/64 via fd00:10:244:2:: dev flannel-v6\.1 onlink/,
      },
    ],
  },
  {
    id: 'hostgw-route-deleted',
    backend: 'host-gw',
    description: 'node3 lost its host-gw route to node1',
    apply: (c) => c.ns(c.node('node3'), 'ip', 'route', 'del', '10.244.1.0/24'),
    expect: [
      {
        check: 'peer-routes',
        node: 'node3',
        peer: 'node1',
        evidence: /expected: 10\.244\.1\.0\/24 via 192\.168\.56\.11/,
      },
    ],
  },
  {
    id: 'hostgw-peer-behind-router',
    backend: 'host-gw',
    description: 'node1 reaches node3 only through a router (L3 boundary)',
    apply: (c) => c.ns(c.node('node1'), 'ip', 'route', 'add', '192.168.56.13/32', 'via', '192.168.56.12'),
    expect: [
      {
        check: 'hostgw-not-onlink',
        node: 'node1',
        peer: 'node3',
        evidence: /ip route get 192\.168\.56\.13: 192\.168\.56\.13 via 192\.168\.56\.12/,
      },
    ],
  },
  {
    id: 'udp-device-down',
    backend: 'udp',
    description: 'flannel0 on node2 was set down',
    apply: (c) => c.ns(c.node('node2'), 'ip', 'link', 'set', 'flannel0', 'down'),
    expect: [{ check: 'flannel-device', node: 'node2', evidence: /flannel0: <[^>]*>/ }],
    // The whole-Network route through flannel0 goes with the link.
    alsoAllowed: ['peer-routes'],
  },
  {
    id: 'ipip-route-deleted',
    backend: 'ipip',
    description: 'node2 lost its ipip route to node3',
    apply: (c) => c.ns(c.node('node2'), 'ip', 'route', 'del', '10.244.3.0/24'),
    expect: [
      {
        check: 'peer-routes',
        node: 'node2',
        peer: 'node3',
        evidence: /expected: 10\.244\.3\.0\/24 via 192\.168\.56\.13 dev flannel\.ipip onlink/,
      },
    ],
  },
  {
    id: 'wireguard-peer-missing',
    backend: 'wireguard',
    description: "node1's WireGuard device has no peer for node3 and a stale peer from a rebooted node",
    apply: (c) => {
      const dump = c.wgDump
        .get('node1')!
        .split('\n')
        .filter((l) => !l.includes(c.node('node3').wgPublicKey))
        .join('\n');
      c.wgDump.set(
        'node1',
        dump +
          `flannel-wg\tOLDKEYOLDKEYOLDKEYOLDKEYOLDKEYOLDKEYOLDKE0=\t(none)\t192.168.56.13:51820\t(none)\t0\t0\t0\toff\n`,
      );
    },
    expect: [
      {
        check: 'wireguard-peers',
        node: 'node1',
        peer: 'node3',
        evidence: /expected: peer .* endpoint 192\.168\.56\.13:51820 allowed-ips 10\.244\.3\.0\/24/,
      },
      { check: 'wireguard-peers', node: 'node1', evidence: /peer OLDKEY.* allowed-ips \(none\)/ },
    ],
  },
  {
    id: 'ipsec-policy-deleted',
    backend: 'ipsec',
    description: "node2's out policy toward node1 was deleted by hand (flannel never restores it)",
    apply: (c) =>
      c.ns(
        c.node('node2'),
        'ip',
        'xfrm',
        'policy',
        'del',
        'src',
        '10.244.2.0/24',
        'dst',
        '10.244.1.0/24',
        'dir',
        'out',
      ),
    expect: [
      {
        check: 'ipsec-policies',
        node: 'node2',
        peer: 'node1',
        evidence:
          /expected: src 10\.244\.2\.0\/24 dst 10\.244\.1\.0\/24 dir out tmpl src 192\.168\.56\.12 dst 192\.168\.56\.11/,
      },
    ],
  },
  {
    id: 'ipsec-sa-absent',
    backend: 'ipsec',
    description: 'IKE between node1 and node3 never completed: no SAs, policies only',
    apply: (c) => {
      for (const [a, b] of [
        ['node1', 'node3'],
        ['node3', 'node1'],
      ] as const) {
        const text = c.xfrmStateText.get(a)!;
        const records = text.split(/(?=^src )/m).filter((r) => !r.includes(c.node(b).ip));
        c.xfrmStateText.set(a, records.join(''));
      }
    },
    expect: [
      { check: 'ipsec-sa', node: 'node1', peer: 'node3', evidence: /no SA 192\.168\.56\.11 -> 192\.168\.56\.13/ },
      { check: 'ipsec-sa', node: 'node3', peer: 'node1', evidence: /no SA 192\.168\.56\.13 -> 192\.168\.56\.11/ },
    ],
  },
  {
    id: 'ipsec-sa-key-mismatch',
    backend: 'ipsec',
    description: 'after a rekey node2 holds a different key for its SA toward node3 than node3 does',
    apply: (c) => {
      const text = c.xfrmStateText.get('node2')!;
      const records = text
        .split(/(?=^src )/m)
        .map((r) =>
          r.startsWith(`src ${c.node('node2').ip} dst ${c.node('node3').ip}`)
            ? r.replace(/0x[0-9a-f]{40}/, '0x' + '5'.repeat(40))
            : r,
        );
      c.xfrmStateText.set('node2', records.join(''));
    },
    expect: [
      {
        check: 'ipsec-sa',
        node: 'node2',
        peer: 'node3',
        evidence: /node2: src 192\.168\.56\.12 dst 192\.168\.56\.13 proto esp/,
      },
    ],
  },
  {
    id: 'ipsec-sa-departed-node',
    backend: 'ipsec',
    description: 'node1 still holds the SAs of node4, deleted while its charon was down',
    apply: (c) => {
      const gone = '192.168.56.14';
      const n1 = c.node('node1').ip;
      c.xfrmStateText.set(
        'node1',
        c.xfrmStateText.get('node1')! +
          `src ${n1} dst ${gone}\n\tproto esp spi 0xc0ffee01 reqid 11 mode tunnel\n\treplay-window 32 flag af-unspec\n\taead rfc4106(gcm(aes)) 0x${'ab'.repeat(20)} 128\n\tsel src 0.0.0.0/0 dst 0.0.0.0/0\n`,
      );
    },
    expect: [
      {
        check: 'ipsec-sa',
        node: 'node1',
        evidence: /src 192\.168\.56\.11 dst 192\.168\.56\.14 proto esp spi 0xc0ffee01/,
      },
    ],
  },
  {
    id: 'ipsec-psk-short',
    backend: 'ipsec',
    description: 'the IPsec PSK in net-conf.json has 32 characters',
    apply: (c) => {
      c.netConfText = JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'ipsec', PSK: 'x'.repeat(32) } });
    },
    expect: [{ check: 'netconf-invalid', node: null, evidence: /Backend\.PSK length: 32/ }],
  },
  {
    id: 'network-overlaps-lan',
    backend: 'host-gw',
    description: "net-conf.json Network 192.168.0.0/16 swallows the nodes' own LAN",
    apply: (c) => {
      c.netConfText = JSON.stringify({ Network: '192.168.0.0/16', Backend: { Type: 'host-gw' } });
    },
    expect: [{ check: 'network-overlap', node: 'node1', evidence: /address 192\.168\.56\.11/ }],
    // Nothing else of the cluster fits the new Network either.
    alsoAllowed: ['podcidr-outside-network', 'subnet-env', 'masquerade-rules', 'forward-drop'],
  },
  {
    id: 'vxlan-port-dropped',
    backend: 'vxlan',
    description: "node2's INPUT chain drops UDP 8472 (a firewall rule added by a hardening script)",
    apply: (c) =>
      c.ns(
        c.node('node2'),
        'iptables-nft',
        '-I',
        'INPUT',
        '1',
        '-p',
        'udp',
        '-m',
        'udp',
        '--dport',
        '8472',
        '-j',
        'DROP',
      ),
    expect: [{ check: 'overlay-port-blocked', node: 'node2', evidence: /-A INPUT -p udp -m udp --dport 8472 -j DROP/ }],
  },
  {
    id: 'wireguard-input-policy-drop',
    backend: 'wireguard',
    description: "node3's INPUT policy is DROP and nothing accepts UDP 51820",
    apply: (c) => c.ns(c.node('node3'), 'iptables-nft', '-P', 'INPUT', 'DROP'),
    expect: [{ check: 'overlay-port-blocked', node: 'node3', evidence: /:INPUT DROP/ }],
  },
  {
    id: 'cni-conf-removed',
    backend: 'host-gw',
    description: "node1's /etc/cni/net.d/10-flannel.conflist was removed",
    apply: (c) => rmSync(join(c.cniConfDir(c.node('node1')), '10-flannel.conflist')),
    expect: [{ check: 'cni-config', node: 'node1', evidence: /\(empty\)/ }],
  },
  {
    id: 'other-cni-conf-first',
    backend: 'vxlan',
    description: "a leftover 05-cilium.conflist on node2 sorts before flannel's config",
    apply: (c) =>
      writeFileSync(
        join(c.cniConfDir(c.node('node2')), '05-cilium.conflist'),
        JSON.stringify({ name: 'cilium', cniVersion: '0.3.1', plugins: [{ type: 'cilium-cni' }] }),
      ),
    expect: [{ check: 'cni-config', node: 'node2', evidence: /active: .*05-cilium\.conflist: plugins cilium-cni/ }],
  },
  {
    id: 'cni-plugin-missing',
    backend: 'udp',
    description: 'the portmap plugin is missing from /opt/cni/bin on node3',
    apply: (c) => rmSync(join(c.cniBinDir(c.node('node3')), 'portmap')),
    expect: [
      { check: 'cni-config', node: 'node3', evidence: /ls .*bin: bandwidth bridge flannel host-local loopback$/ },
    ],
  },
  {
    id: 'bridge-nf-call-off',
    backend: 'vxlan',
    description: 'net.bridge.bridge-nf-call-iptables was set to 0 on node1',
    apply: (c) => c.ns(c.node('node1'), 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0'),
    expect: [{ check: 'br-netfilter', node: 'node1', evidence: /net\.bridge\.bridge-nf-call-iptables = 0/ }],
  },
  {
    id: 'flannel-mtu-differs',
    backend: 'host-gw',
    description: "node3's flanneld started while its NIC had MTU 1400 and wrote FLANNEL_MTU=1400",
    apply: (c) =>
      writeFileSync(
        c.subnetEnvPath(c.node('node3')),
        'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n',
      ),
    expect: [
      { check: 'mtu-mixed', node: 'node3', evidence: /node3: FLANNEL_MTU=1400/ },
      { check: 'mtu', node: 'node3', evidence: /veth[0-9a-f]+ mtu 1500 master cni0/ },
    ],
  },
  {
    id: 'node-not-registered',
    backend: 'vxlan',
    description: 'node3 joined but its flanneld never acquired a lease: no flannel annotations',
    apply: (c) => {
      const n = c.node('node3');
      n.kube = { ...n.kube, flannelAnnotations: {} };
    },
    expect: [
      { check: 'node-not-registered', node: 'node3', evidence: /no flannel\.alpha\.coreos\.com\/\* annotations/ },
    ],
    // Peers still hold node3's entries from before; without a lease they look like leftovers.
    alsoAllowed: ['stale-routes', 'vxlan-neighbours', 'vxlan-fdb'],
  },
  {
    id: 'iptables-legacy-nft-split',
    backend: 'vxlan',
    description: "kube-proxy on node2 writes iptables-legacy while flannel's rules are in iptables-nft",
    apply: (c) => {
      const n = c.node('node2');
      c.ns(n, 'iptables-legacy', '-t', 'nat', '-N', 'KUBE-SERVICES');
      c.ns(n, 'iptables-legacy', '-t', 'nat', '-A', 'PREROUTING', '-j', 'KUBE-SERVICES');
    },
    expect: [{ check: 'iptables-split', node: 'node2', evidence: /iptables-legacy-save: KUBE-\* chains present/ }],
  },
  {
    id: 'flannel-pod-missing',
    backend: 'vxlan',
    description: 'node3 has a NoExecute taint the DaemonSet does not tolerate: no flannel pod there',
    apply: (c) => {
      const n = c.node('node3');
      n.pod = null;
      n.kube = { ...n.kube, taints: [{ key: 'dedicated', effect: 'NoExecute' }] };
    },
    expect: [{ check: 'flannel-pod-missing', node: 'node3', evidence: /taints: dedicated:NoExecute/ }],
  },
  {
    id: 'network-unavailable',
    backend: 'host-gw',
    description: "node2's NetworkUnavailable condition is True (a cloud route controller reset it)",
    apply: (c) => {
      const n = c.node('node2');
      n.kube = { ...n.kube, networkUnavailable: { status: 'True', reason: 'NoRouteCreated' } };
    },
    expect: [
      { check: 'node-network-unavailable', node: 'node2', evidence: /NetworkUnavailable=True reason=NoRouteCreated/ },
    ],
  },
  {
    id: 'node-unreachable',
    backend: 'host-gw',
    description: "node3's network namespace vanished before collection (as when exec into its pod fails)",
    apply: (c) => sh('ip', 'netns', 'del', c.node('node3').ns),
    expect: [{ check: 'collection-incomplete', node: 'node3', evidence: /links: failed: .*node3|links: failed/ }],
  },
  // --- packagings and modes (issue 11) ---
  {
    id: 'nft-postrtg-flushed',
    backend: 'vxlan-nftables',
    description: "node2's flannel-ipv4 postrtg chain flushed (a firewall service reloading nftables)",
    apply: (c) => c.ns(c.node('node2'), 'nft', 'flush', 'chain', 'ip', 'flannel-ipv4', 'postrtg'),
    expect: [
      { check: 'nftables-rules', node: 'node2', evidence: /postrtg: missing rules: meta mark 0x00004000 return/ },
    ],
  },
  {
    id: 'nft-forward-rule-changed',
    backend: 'vxlan-nftables',
    description: "node3's forward chain accepts only the node's own podCIDR instead of the Network",
    apply: (c) => {
      const n = c.node('node3');
      c.ns(n, 'nft', 'flush', 'chain', 'ip', 'flannel-ipv4', 'forward');
      c.ns(n, 'nft', 'add', 'rule', 'ip', 'flannel-ipv4', 'forward', 'ip', 'saddr', n.podCIDR, 'accept');
      c.ns(n, 'nft', 'add', 'rule', 'ip', 'flannel-ipv4', 'forward', 'ip', 'daddr', '10.244.0.0/16', 'accept');
    },
    expect: [
      { check: 'nftables-rules', node: 'node3', evidence: /forward: missing rule: ip saddr 10\.244\.0\.0\/16 accept/ },
    ],
  },
  {
    id: 'flanneld-hung',
    backend: 'vxlan-nftables',
    description: "node3's flanneld hung (SIGSTOP): its pod still shows Running and ready, /healthz never answers",
    apply: (c) => c.hang(c.node('node3')),
    expect: [{ check: 'flanneld-health', node: 'node3', evidence: /healthz: no answer/ }],
  },
  {
    id: 'iptables-chains-left-in-nft-mode',
    backend: 'vxlan-nftables',
    description: 'node1 still has iptables-mode FLANNEL-POSTRTG from before the switch to nftables mode',
    apply: (c) => c.ns(c.node('node1'), 'iptables-nft', '-t', 'nat', '-N', 'FLANNEL-POSTRTG'),
    expect: [{ check: 'firewall-mode-conflict', node: 'node1', evidence: /chain FLANNEL-POSTRTG/ }],
  },
  {
    id: 'blackhole-route-deleted',
    backend: 'vxlan-canal',
    description: "node3's blackhole route for its podCIDR deleted (flanneld runs with --ip-blackhole-route)",
    apply: (c) => c.ns(c.node('node3'), 'ip', 'route', 'del', 'blackhole', '10.244.3.0/24'),
    expect: [{ check: 'blackhole-route', node: 'node3', evidence: /--ip-blackhole-route/ }],
  },
  {
    id: 'networkpolicy-enforced-by-calico',
    backend: 'vxlan-canal',
    description: 'NetworkPolicies exist; in Canal Calico enforces them, so doctor must stay silent',
    apply: (c) => {
      c.networkPolicies = [{ namespace: 'default', name: 'deny-all' }];
    },
    expect: [],
  },
  {
    id: 'canal-fdb-deleted',
    backend: 'vxlan-canal',
    description: "node2's fdb entry for node1's VtepMAC deleted (flannel's overlay under Calico's CNI)",
    apply: (c) =>
      c.ns(
        c.node('node2'),
        'bridge',
        'fdb',
        'del',
        c.node('node1').vtepMAC,
        'dev',
        'flannel.1',
        'dst',
        c.node('node1').ip,
        'self',
      ),
    expect: [{ check: 'vxlan-fdb', node: 'node2', peer: 'node1', evidence: /dst 192\.168\.56\.11/ }],
  },
  {
    id: 'k3s-peer-route-deleted',
    backend: 'vxlan-k3s',
    description: 'node1 (k3s, embedded flannel) lost its route to node2',
    apply: (c) => c.ns(c.node('node1'), 'ip', 'route', 'del', '10.244.2.0/24'),
    expect: [
      {
        check: 'peer-routes',
        node: 'node1',
        peer: 'node2',
        evidence: /expected: 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink/,
      },
    ],
  },
  {
    id: 'k3s-cni-conf-removed',
    backend: 'vxlan-k3s',
    description: "node2's k3s CNI config (agent/etc/cni/net.d/10-flannel.conflist) removed",
    apply: (c) => rmSync(join(c.cniConfDir(c.node('node2')), '10-flannel.conflist')),
    expect: [{ check: 'cni-config', node: 'node2', evidence: /\(empty\)/ }],
  },
  {
    id: 'ipv6only-fdb-deleted',
    backend: 'vxlan-ipv6',
    description: "IPv6-only: node3's fdb entry for node2's v6 VtepMAC deleted",
    apply: (c) =>
      c.ns(
        c.node('node3'),
        'bridge',
        'fdb',
        'del',
        c.node('node2').vtepMAC6,
        'dev',
        'flannel-v6.1',
        'dst',
        c.node('node2').ip6,
        'self',
      ),
    expect: [{ check: 'vxlan-fdb', node: 'node3', peer: 'node2', evidence: /dst fd00:56::12/ }],
  },
  {
    id: 'hostgw-ipv6-route-deleted',
    backend: 'host-gw-dualstack',
    description: 'dual-stack host-gw: node2 lost its IPv6 route to node3 while IPv4 works',
    apply: (c) => c.ns(c.node('node2'), 'ip', '-6', 'route', 'del', 'fd00:10:244:3::/64'),
    expect: [{ check: 'peer-routes', node: 'node2', peer: 'node3', evidence: /fd00:10:244:3::\/64 via fd00:56::13/ }],
  },
];

/** A healthy snapshot must give the clean verdict; `info` is allowed only from these (known flannel limits). */
export const HEALTHY_INFO_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  'vxlan-dualstack': ['mtu'],
  // The kernel caps an IPv6 VXLAN device at uplink − 70 while flanneld writes FLANNEL_MTU = uplink − 50.
  'vxlan-ipv6': ['mtu'],
};
