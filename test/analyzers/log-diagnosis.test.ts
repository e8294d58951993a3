// Every flanneld failure log-diagnosis recognises, tested on the line flanneld really prints. None of these
// failures can be caused in the lab without breaking the shared lab for every other test (a node without a
// podCIDR, a kernel without vxlan or WireGuard, RBAC removed, ipsec with charon), so each line is built from the
// format string in flannel v0.28.9's source that prints it (file:line cited; read with the fetch tool, not
// copied code), wrapped as flanneld's caller logs it, in klog's header format as the lab's flanneld writes it.
// The negative test uses a real healthy flanneld start-up, captured from the lab (LAB_INSTANCE=1, vxlan).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnoseLog } from '../../src/analyzers/log-diagnosis.js';

const E = (file: string, msg: string) => `E1201 09:48:27.099636    5193 ${file}] ${msg}`;
const W = (file: string, msg: string) => `W1201 09:48:27.099636    5193 ${file}] ${msg}`;

/** [line as flanneld logs it, where the text comes from, the cause diagnoseLog must give] */
const REAL: readonly [string, string, RegExp][] = [
  [
    // pkg/subnet/kube/kube.go:378 via pkg/backend/vxlan/vxlan.go:146, logged at main.go:384
    E('main.go:384', 'Error registering network: failed to acquire lease: node "node2" pod cidr not assigned'),
    'kube.go:378',
    /no podCIDR/,
  ],
  [
    // pkg/subnet/kube/kube.go:500 via vxlan.go:146, main.go:384
    E(
      'main.go:384',
      'Error registering network: failed to acquire lease: subnet "10.244.0.0/16" specified in the flannel net config doesn\'t contain "10.224.3.0/24" PodCIDR of the "node3" node',
    ),
    'kube.go:500',
    /outside net-conf/,
  ],
  [
    // main.go:292
    E(
      'main.go:292',
      'Failed to check br_netfilter: stat /proc/sys/net/bridge/bridge-nf-call-iptables: no such file or directory',
    ),
    'main.go:292',
    /br_netfilter/,
  ],
  [
    // pkg/backend/wireguard/device.go:202, main.go:384
    E('main.go:384', 'Error registering network: could not create wireguard interface: operation not supported'),
    'wireguard/device.go:202',
    /WireGuard/,
  ],
  [
    // main.go:384 with netlink's EOPNOTSUPP when the vxlan module is missing
    E('main.go:384', 'Error registering network: operation not supported'),
    'main.go:384',
    /vxlan/,
  ],
  [
    // pkg/subnet/kube/kube.go:110, logged at main.go:251
    E(
      'main.go:251',
      'Failed to create SubnetManager: error retrieving pod spec for \'kube-flannel/kube-flannel-ds-7xk2p\': Get "https://10.96.0.1:443/api/v1/namespaces/kube-flannel/pods/kube-flannel-ds-7xk2p": dial tcp 10.96.0.1:443: i/o timeout',
    ),
    'kube.go:110',
    /API server/,
  ],
  [
    // kube.go:110 with the apiserver's Forbidden status text, main.go:251
    E(
      'main.go:251',
      'Failed to create SubnetManager: error retrieving pod spec for \'kube-flannel/kube-flannel-ds-7xk2p\': pods "kube-flannel-ds-7xk2p" is forbidden: User "system:serviceaccount:kube-flannel:flannel" cannot get resource "pods" in API group "" in the namespace "kube-flannel"',
    ),
    'kube.go:110',
    /RBAC/,
  ],
  [
    // pkg/backend/vxlan/device.go:144, main.go:384
    E(
      'main.go:384',
      "Error registering network: flannel.1's mac address wanted: 0a:58:0a:f4:03:00, but got: 02:42:ac:11:00:02",
    ),
    'vxlan/device.go:144',
    /MAC/,
  ],
  [
    // pkg/backend/hostgw/hostgw.go:43, main.go:384
    E(
      'main.go:384',
      "Error registering network: your PublicIP differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw backend",
    ),
    'hostgw/hostgw.go:43',
    /public IP/,
  ],
  [
    // pkg/backend/ipsec/ipsec.go:92, logged at main.go:376 (GetBackend)
    E('main.go:376', 'Error fetching backend: config error, password is too short'),
    'ipsec/ipsec.go:92',
    /PSK/,
  ],
  [
    // pkg/backend/ipsec/handle_charon.go:271
    W(
      'handle_charon.go:271',
      'no valid charon executable found at path /usr/lib/strongswan/charon: exec: "/usr/lib/strongswan/charon": stat /usr/lib/strongswan/charon: no such file or directory',
    ),
    'ipsec/handle_charon.go:271',
    /charon/,
  ],
  [
    // pkg/subnet/kube/kube.go:161, main.go:251
    E(
      'main.go:251',
      'Failed to create SubnetManager: error waiting for nodeController to sync state: context deadline exceeded',
    ),
    'kube.go:161',
    /informer/,
  ],
  [
    // old flannel: pkg/ip/iface.go:146 in v0.10.0 and v0.11.0 (gone from v0.28.9), main.go's RegisterNetwork error
    E(
      'main.go:289',
      'Error registering network: link has incompatible addresses. Remove additional addresses and try again. &netlink.Vxlan{...}',
    ),
    'v0.11.0 pkg/ip/iface.go:146',
    /flannel\.1 holds addresses/,
  ],
  [
    // pkg/ip/iface.go:195 via ipmatch.LookupExtIface, main.go:328
    E('main.go:328', 'Failed to find any valid interface to use: no interface with given IP found'),
    'ip/iface.go:195',
    /public IP/,
  ],
  [
    // main.go:328 with another cause
    E(
      'main.go:328',
      'Failed to find any valid interface to use: failed to get default interface: Unable to find default route',
    ),
    'main.go:328',
    /--iface/,
  ],
  [
    // main.go:367
    E('main.go:367', 'Failed to find interface to use that matches the interfaces and/or regexes provided'),
    'main.go:367',
    /--iface/,
  ],
  [
    // pkg/ipmatch/match.go:230, main.go:328
    E(
      'main.go:328',
      'Failed to find any valid interface to use: v6 default route interface eth1 must be the same with v4 default route interface eth0',
    ),
    'ipmatch/match.go:230',
    /IPv6 default route/,
  ],
  [
    // pkg/ip/iface.go:179 via pkg/ipmatch/match.go:219, main.go:328
    E(
      'main.go:328',
      'Failed to find any valid interface to use: failed to get default v6 interface: unable to find default v6 route',
    ),
    'ip/iface.go:179',
    /IPv6 default route/,
  ],
];

for (const [line, source, cause] of REAL) {
  test(`log-diagnosis: flanneld's line from ${source} is diagnosed (${cause})`, () => {
    const d = diagnoseLog(
      ['I1201 09:48:26.086514    5193 kube.go:139] Waiting 10m0s for node controller to sync', line],
      null,
    );
    assert.ok(d, `not recognised: ${line}`);
    assert.match(d.cause, cause, line);
    assert.equal(d.line, line);
  });
}

test('log-diagnosis: OOMKilled comes from the termination reason, not the log', () => {
  assert.match(diagnoseLog([], 'OOMKilled')?.cause ?? '', /OOMKilled/);
});

// A healthy vxlan flanneld v0.28.9 start-up, as the lab's flanneld wrote it (lines shortened where marked ...).
const HEALTHY = [
  'I1201 09:48:26.086514    5193 kube.go:139] Waiting 10m0s for node controller to sync',
  'I1201 09:48:26.086575    5193 kube.go:537] Starting kube subnet manager',
  'I1201 09:48:27.099606    5193 kube.go:163] Node controller sync successful',
  'I1201 09:48:27.099636    5193 main.go:255] Created subnet manager: Kubernetes Subnet Manager - kfl1-node1',
  'I1201 09:48:27.099640    5193 main.go:258] Installing signal handlers',
  'I1201 09:48:27.099781    5193 main.go:554] Start healthz server on 0.0.0.0:8081',
  'I1201 09:48:27.099808    5193 main.go:540] Found network config - Backend type: vxlan',
  'I1201 09:48:27.106220    5193 match.go:211] Determining IP address of default interface',
  'I1201 09:48:27.178503    5193 match.go:269] Using interface with name eth0 and address 10.250.1.11',
  'I1201 09:48:27.184258    5193 match.go:291] Defaulting external address to interface address (10.250.1.11)',
  'I1201 09:48:27.184364    5193 vxlan.go:128] VXLAN config: VNI=1 Port=0 GBP=false Learning=false DirectRouting=false',
  'I1201 09:48:27.198186    5193 kube.go:561] Creating the node lease for IPv4. This is the n.Spec.PodCIDRs: [10.244.1.0/24]',
  'I1201 09:48:27.199887    5193 main.go:392] Cleaning-up unused traffic manager rules',
  'I1201 09:48:27.199985    5193 nftables.go:280] Cleaning-up nftables rules...',
  'I1201 09:48:27.304525    5193 iptables.go:50] Starting flannel in iptables mode...',
  'W1201 09:48:27.304638    5193 main.go:610] no subnet found for key: FLANNEL_NETWORK in file: /run/flannel/subnet.env',
  'W1201 09:48:27.304661    5193 main.go:610] no subnet found for key: FLANNEL_SUBNET in file: /run/flannel/subnet.env',
  'I1201 09:48:27.339056    5193 iptables.go:111] Setting up masking rules',
  'I1201 09:48:27.383272    5193 iptables.go:212] Changing default FORWARD chain policy to ACCEPT',
  'I1201 09:48:27.425054    5193 main.go:481] Wrote subnet file to /run/flannel/subnet.env',
  'I1201 09:48:27.425071    5193 main.go:484] flannel is ready',
  'I1201 09:48:27.425079    5193 main.go:488] Running backend.',
  'I1201 09:48:27.425195    5193 vxlan_network.go:68] watching for new subnet leases',
  'I1201 09:48:27.425212    5193 vxlan_network.go:115] starting vxlan device watcher',
  'I1201 09:48:27.425430    5193 vxlan_network.go:270] Received Subnet Event with VxLan: BackendType: vxlan, PublicIP: 10.250.1.12, PublicIPv6: (nil), BackendData: {"VNI":1,"VtepMAC":"6e:6c:0c:...',
  'I1201 09:48:27.528042    5193 main.go:509] Waiting for all goroutines to exit',
];

test('log-diagnosis: a healthy flanneld start-up from the lab matches no failure', () => {
  assert.equal(diagnoseLog(HEALTHY, null), null);
});

test('log-diagnosis: the lines above reach all 16 log patterns (the 17th diagnosis is OOMKilled)', () => {
  assert.equal(new Set(REAL.map(([l]) => diagnoseLog([l], null)?.cause)).size, 16);
});
