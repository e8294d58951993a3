import { createHash } from 'node:crypto';
/**
 * How the simulator injects each fault of the catalog (src/analyzers/fault-catalog): the kernel entry deleted or
 * changed, the annotation edited, the pod crashing, as on a real cluster. Keyed by the catalog's id; a test
 * checks that every catalog entry with a `sim` packaging has exactly one injection here and nothing else.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Snapshot } from '../../src/snapshot/types.js';
import { healthyPod, type SimCluster, sh } from './cluster.js';

const FORWARD_REJECT = ['-I', 'FORWARD', '1', '-j', 'REJECT', '--reject-with', 'icmp-host-prohibited'];

export const SIM_INJECT: Readonly<Record<string, (c: SimCluster) => void>> = {
  'route-deleted': (c) => c.ns(c.node('node1'), 'ip', 'route', 'del', '10.244.2.0/24'),
  'fdb-deleted': (c) =>
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
  'neigh-wrong-mac': (c) =>
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
  'vtep-mac-rewritten': (c) => {
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
  'mtu-underlay': (c) => c.ns(c.node('node2'), 'ip', 'link', 'set', 'eth0', 'mtu', '1400'),
  'ip-forward-off': (c) => c.ns(c.node('node2'), 'sysctl', '-qw', 'net.ipv4.ip_forward=0'),
  'forward-reject-first': (c) => c.ns(c.node('node3'), 'iptables-nft', ...FORWARD_REJECT),
  'raw-drop-peer-podcidr': (c) =>
    c.ns(c.node('node2'), 'iptables-nft', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.244.1.0/24', '-j', 'DROP'),
  'hostgw-mangle-drop-peer-podcidr': (c) =>
    c.ns(c.node('node1'), 'iptables-nft', '-t', 'mangle', '-A', 'PREROUTING', '-s', '10.244.2.0/24', '-j', 'DROP'),
  'nft-table-drops-pods': (c) => {
    const n = c.node('node3');
    c.ns(n, 'nft', 'add', 'table', 'inet', 'kfl_guard');
    c.ns(
      n,
      'nft',
      'add',
      'chain',
      'inet',
      'kfl_guard',
      'pre',
      '{ type filter hook prerouting priority -300; policy accept; }',
    );
    c.ns(n, 'nft', 'add', 'rule', 'inet', 'kfl_guard', 'pre', 'ip', 'daddr', '10.244.3.0/24', 'drop');
  },
  'dnat-pod-traffic': (c) =>
    c.ns(
      c.node('node2'),
      'iptables-nft',
      '-t',
      'nat',
      '-I',
      'PREROUTING',
      '-s',
      '10.244.1.0/24',
      '-d',
      '10.244.2.0/24',
      '-j',
      'DNAT',
      '--to-destination',
      '10.244.2.99',
    ),
  'cni0-port-disabled': (c) => {
    const n = c.node('node3');
    c.ns(
      n,
      'bridge',
      'link',
      'set',
      'dev',
      `veth${createHash('sha256').update(n.podIP).digest('hex').slice(0, 8)}`,
      'state',
      '0',
    );
  },
  'forward-policy-drop-no-flannel-fwd': (c) => {
    const n = c.node('node1');
    c.ns(n, 'iptables-nft', '-F', 'FORWARD');
    c.ns(n, 'iptables-nft', '-P', 'FORWARD', 'DROP');
  },
  'masquerade-flushed': (c) => c.ns(c.node('node1'), 'iptables-nft', '-t', 'nat', '-F'),
  'subnet-env-removed': (c) => rmSync(c.subnetEnvPath(c.node('node3'))),
  'subnet-env-stale': (c) =>
    writeFileSync(
      c.subnetEnvPath(c.node('node2')),
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=true\n',
    ),
  'cni0-wrong-address': (c) => {
    const n = c.node('node2');
    c.ns(n, 'ip', 'addr', 'flush', 'dev', 'cni0');
    c.ns(n, 'ip', 'addr', 'add', '10.244.42.1/24', 'dev', 'cni0');
    c.ns(n, 'ip', 'route', 'replace', '10.244.2.0/24', 'dev', 'cni0');
  },
  'stale-node-entries': (c) => {
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
  'vagrant-shared-nat-ip': (c) => {
    for (const n of c.nodes) {
      n.kube = { ...n.kube, flannelAnnotations: { ...n.kube.flannelAnnotations, 'public-ip': '10.0.2.15' } };
      for (const p of c.nodes.filter((x) => x !== n)) {
        c.ns(n, 'bridge', 'fdb', 'del', p.vtepMAC, 'dev', 'flannel.1', 'dst', p.ip, 'self');
        c.ns(n, 'bridge', 'fdb', 'append', p.vtepMAC, 'dev', 'flannel.1', 'dst', '10.0.2.15', 'self', 'permanent');
      }
    }
  },
  'podcidr-outside-network': (c) => {
    const n = c.node('node3');
    n.kube = { ...n.kube, podCIDRs: ['10.224.3.0/24'] };
  },
  'podcidr-unset': (c) => {
    const n = c.node('node2');
    n.kube = { ...n.kube, podCIDRs: [] };
  },
  'podcidr-overlap': (c) => {
    const n = c.node('node3');
    n.kube = { ...n.kube, podCIDRs: [c.node('node2').podCIDR] };
  },
  'backend-type-mismatch': (c) => {
    const n = c.node('node2');
    n.kube = { ...n.kube, flannelAnnotations: { ...n.kube.flannelAnnotations, 'backend-type': 'host-gw' } };
  },
  'flannel-crashloop-br-netfilter': (c) => {
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
  'leftover-udp-device': (c) => {
    const n = c.node('node1');
    c.ns(n, 'ip', 'tuntap', 'add', 'dev', 'flannel0', 'mode', 'tun');
  },
  'own-podcidr-shadowed': (c) =>
    c.ns(c.node('node1'), 'ip', 'route', 'add', '10.244.1.0/24', 'via', '192.168.56.12', 'dev', 'eth0', 'metric', '50'),
  'vxlan-port-differs': (c) => {
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
  'networkpolicy-present': (c) => {
    c.networkPolicies = [{ namespace: 'prod', name: 'default-deny' }];
  },
  'directrouting-route-missing': (c) => c.ns(c.node('node2'), 'ip', 'route', 'del', '10.244.1.0/24'),
  'ipv6-route-deleted': (c) => c.ns(c.node('node1'), 'ip', '-6', 'route', 'del', 'fd00:10:244:2::/64'),
  'hostgw-route-deleted': (c) => c.ns(c.node('node3'), 'ip', 'route', 'del', '10.244.1.0/24'),
  'hostgw-peer-behind-router': (c) =>
    c.ns(c.node('node1'), 'ip', 'route', 'add', '192.168.56.13/32', 'via', '192.168.56.12'),
  'udp-device-down': (c) => c.ns(c.node('node2'), 'ip', 'link', 'set', 'flannel0', 'down'),
  'ipip-route-deleted': (c) => c.ns(c.node('node2'), 'ip', 'route', 'del', '10.244.3.0/24'),
  'wireguard-peer-missing': (c) => {
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
  'ipsec-policy-deleted': (c) =>
    c.ns(c.node('node2'), 'ip', 'xfrm', 'policy', 'del', 'src', '10.244.2.0/24', 'dst', '10.244.1.0/24', 'dir', 'out'),
  'ipsec-sa-absent': (c) => {
    for (const [a, b] of [
      ['node1', 'node3'],
      ['node3', 'node1'],
    ] as const) {
      const text = c.xfrmStateText.get(a)!;
      const records = text.split(/(?=^src )/m).filter((r) => !r.includes(c.node(b).ip));
      c.xfrmStateText.set(a, records.join(''));
    }
  },
  'ipsec-sa-key-mismatch': (c) => {
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
  'ipsec-sa-departed-node': (c) => {
    const gone = '192.168.56.14';
    const n1 = c.node('node1').ip;
    c.xfrmStateText.set(
      'node1',
      c.xfrmStateText.get('node1')! +
        `src ${n1} dst ${gone}\n\tproto esp spi 0xc0ffee01 reqid 11 mode tunnel\n\treplay-window 32 flag af-unspec\n\taead rfc4106(gcm(aes)) 0x${'ab'.repeat(20)} 128\n\tsel src 0.0.0.0/0 dst 0.0.0.0/0\n`,
    );
  },
  'ipsec-psk-short': (c) => {
    c.netConfText = JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'ipsec', PSK: 'x'.repeat(32) } });
  },
  'network-overlaps-lan': (c) => {
    c.netConfText = JSON.stringify({ Network: '192.168.0.0/16', Backend: { Type: 'host-gw' } });
  },
  'vxlan-port-blocked': (c) =>
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
  'wireguard-input-policy-drop': (c) => c.ns(c.node('node3'), 'iptables-nft', '-P', 'INPUT', 'DROP'),
  'cni-conf-removed': (c) => rmSync(join(c.cniConfDir(c.node('node1')), '10-flannel.conflist')),
  'other-cni-conf-first': (c) =>
    writeFileSync(
      join(c.cniConfDir(c.node('node2')), '05-cilium.conflist'),
      JSON.stringify({ name: 'cilium', cniVersion: '0.3.1', plugins: [{ type: 'cilium-cni' }] }),
    ),
  'cni-plugin-missing': (c) => rmSync(join(c.cniBinDir(c.node('node3')), 'portmap')),
  'bridge-nf-call-off': (c) => c.ns(c.node('node1'), 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0'),
  'flannel-mtu-differs': (c) =>
    writeFileSync(
      c.subnetEnvPath(c.node('node3')),
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n',
    ),
  'node-not-registered': (c) => {
    const n = c.node('node3');
    n.kube = { ...n.kube, flannelAnnotations: {} };
  },
  'iptables-legacy-nft-split': (c) => {
    const n = c.node('node2');
    c.ns(n, 'iptables-legacy', '-t', 'nat', '-N', 'KUBE-SERVICES');
    c.ns(n, 'iptables-legacy', '-t', 'nat', '-A', 'PREROUTING', '-j', 'KUBE-SERVICES');
  },
  'flannel-pod-missing': (c) => {
    const n = c.node('node3');
    n.pod = null;
    n.kube = { ...n.kube, taints: [{ key: 'dedicated', effect: 'NoExecute' }] };
  },
  'network-unavailable': (c) => {
    const n = c.node('node2');
    n.kube = { ...n.kube, networkUnavailable: { status: 'True', reason: 'NoRouteCreated' } };
  },
  'node-unreachable': (c) => sh('ip', 'netns', 'del', c.node('node3').ns),
  // packagings and modes (issue 11)
  'nft-postrtg-flushed': (c) => c.ns(c.node('node2'), 'nft', 'flush', 'chain', 'ip', 'flannel-ipv4', 'postrtg'),
  'nft-forward-rule-changed': (c) => {
    const n = c.node('node3');
    c.ns(n, 'nft', 'flush', 'chain', 'ip', 'flannel-ipv4', 'forward');
    c.ns(n, 'nft', 'add', 'rule', 'ip', 'flannel-ipv4', 'forward', 'ip', 'saddr', n.podCIDR, 'accept');
    c.ns(n, 'nft', 'add', 'rule', 'ip', 'flannel-ipv4', 'forward', 'ip', 'daddr', '10.244.0.0/16', 'accept');
  },
  'flanneld-hung': (c) => c.hang(c.node('node3')),
  'iptables-chains-left-in-nft-mode': (c) =>
    c.ns(c.node('node1'), 'iptables-nft', '-t', 'nat', '-N', 'FLANNEL-POSTRTG'),
  'blackhole-route-deleted': (c) => c.ns(c.node('node3'), 'ip', 'route', 'del', 'blackhole', '10.244.3.0/24'),
  'networkpolicy-enforced-by-calico': (c) => {
    c.networkPolicies = [{ namespace: 'default', name: 'deny-all' }];
  },
  'canal-fdb-deleted': (c) =>
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
  'k3s-peer-route-deleted': (c) => c.ns(c.node('node1'), 'ip', 'route', 'del', '10.244.2.0/24'),
  'k3s-cni-conf-removed': (c) => rmSync(join(c.cniConfDir(c.node('node2')), '10-flannel.conflist')),
  'ipv6only-fdb-deleted': (c) =>
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
  'hostgw-ipv6-route-deleted': (c) => c.ns(c.node('node2'), 'ip', '-6', 'route', 'del', 'fd00:10:244:3::/64'),
  // something other than flannel's entries decides the packet's fate (issue 9)
  'policy-rule-other-table': (c) => {
    const n = c.node('node1');
    c.ns(n, 'ip', 'route', 'add', '10.244.2.0/24', 'via', '192.168.56.99', 'dev', 'eth0', 'onlink', 'table', '100');
    c.ns(n, 'ip', 'rule', 'add', 'pref', '100', 'to', '10.244.2.0/24', 'lookup', '100');
  },
  'hostgw-policy-rule-other-table': (c) => {
    const n = c.node('node1');
    c.ns(n, 'ip', 'route', 'add', '10.244.2.0/24', 'via', '192.168.56.99', 'dev', 'eth0', 'onlink', 'table', '100');
    c.ns(n, 'ip', 'rule', 'add', 'pref', '100', 'to', '10.244.2.0/24', 'lookup', '100');
  },
  'peer-podcidr-shadowed': (c) =>
    c.ns(c.node('node1'), 'ip', 'route', 'add', '10.244.3.128/25', 'via', '192.168.56.99', 'dev', 'eth0', 'onlink'),
  'blackhole-in-local-table': (c) =>
    c.ns(c.node('node2'), 'ip', 'route', 'add', 'blackhole', '10.244.1.0/24', 'table', 'local'),
  'prohibit-for-forwarded-pods': (c) => {
    const n = c.node('node3');
    c.ns(n, 'ip', 'route', 'add', 'prohibit', '10.244.2.0/24', 'table', '200');
    c.ns(n, 'ip', 'rule', 'add', 'pref', '200', 'iif', 'cni0', 'lookup', '200');
  },
  'cni0-mtu-below-flannel-mtu': (c) => c.ns(c.node('node2'), 'ip', 'link', 'set', 'cni0', 'mtu', '1400'),
  'pod-veth-mtu-low': (c) => podVethMTU(c, 'node2', 1400),
  'pod-eth0-mtu-low': (c) =>
    void sh('ip', 'netns', 'exec', c.node('node2').podNs, 'ip', 'link', 'set', 'eth0', 'mtu', '1400'),
  'pod-veth-mtu-low-host-gw': (c) => podVethMTU(c, 'node2', 1400),
  'uplink-mtu-differs': (c) => c.ns(c.node('node3'), 'ip', 'link', 'set', 'eth0', 'mtu', '9000'),
  // only doctor --probe sees it: the fault is in the probe results added to the snapshot (SIM_ADD_TO_SNAPSHOT)
  'underlay-drops-vxlan': () => undefined,
  'underlay-drops-vxlan-samples': (c) => {
    const nft = (...argv: string[]) => sh('ip', 'netns', 'exec', c.sw, 'nft', ...argv);
    nft('add', 'table', 'bridge', 'kfl_underlay');
    nft('add', 'chain', 'bridge', 'kfl_underlay', 'filter_fwd', '{ type filter hook forward priority 0; }');
    nft('add rule bridge kfl_underlay filter_fwd iifname "e2" oifname "e3" udp dport 8472 drop');
  },
};

/**
 * Faults that live in what doctor --probe adds to a snapshot, not in kernel state: the probe counts as recorded on
 * the lab's underlay-drop fault, added after collection.
 */
export const SIM_ADD_TO_SNAPSHOT: Readonly<Record<string, (s: Snapshot) => Snapshot>> = {
  'underlay-drops-vxlan': (s) => {
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
};

/** The host-side veth of the node's pod (its port on cni0) set to `mtu`; the pod's eth0 keeps FLANNEL_MTU. */
function podVethMTU(c: SimCluster, node: string, mtu: number): void {
  const n = c.node(node);
  const veth = `veth${createHash('sha256').update(n.podIP).digest('hex').slice(0, 8)}`;
  c.ns(n, 'ip', 'link', 'set', veth, 'mtu', String(mtu));
}
