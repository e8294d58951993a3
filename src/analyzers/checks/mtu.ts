import { defineCheck } from '../check.js';
import { directPeers } from '../direct-routing.js';
import { linkByName, ok, runsConfiguredBackend } from '../model.js';
import { isFlannelV6Clamp } from '../mtu-model.js';
import { computedFlannelMTU, encapOverhead, uplinkOf } from '../uplink.js';

export default defineCheck({
  id: 'mtu',
  severity: 'error',
  title: 'The MTU chain fits: uplink minus overhead >= tunnel device >= FLANNEL_MTU = cni0 = pod veths',
  failureModes: [34, 35, 36],
  docs: {
    meaning:
      "flanneld derives FLANNEL_MTU and the tunnel device's MTU from the uplink MTU minus the backend's overhead (vxlan 50, wireguard 80, ipip 20, udp 28, ipsec 77 or 85). The device MTU is set only when the device is created and cni0/veth MTUs only when they are created, so after an MTU change the chain goes out of step. On dual-stack vxlan flannel-v6.1 sits 20 bytes below FLANNEL_MTU by flannel's design (IPv6 VXLAN needs 70 bytes, flannel subtracts 50); that is not reported. With DirectRouting, a node that routes every peer directly (all on its subnet) sends pod packets unencapsulated: its uplink need only hold FLANNEL_MTU and flannel.<VNI> carries none of them.",
    impact:
      'Pods send packets larger than the tunnel or the uplink can carry: small packets work, but TLS handshakes and bulk transfers hang or are dropped.',
    fix: 'Make the chain consistent: set Backend.MTU (vxlan/wireguard) or fix the uplink MTU, then on <node>: ip link delete <tunnel device>, restart the flannel pod, and re-create pods whose veth MTU is stale.',
  },
  scope: 'node',
  runNode({ model, node: n, expected, peers, tables }, report) {
    const b = model.backend;
    // FLANNEL_MTU and the devices follow the backend the node's flanneld runs, not a drifted net-conf.json
    if (!b || !runsConfiguredBackend(model, n)) return;
    // DirectRouting with every peer on-link: no pod packet takes the tunnel, each leaves the uplink as it is, so
    // the uplink need only hold FLANNEL_MTU (a peer off the subnet brings the tunnel and its overhead back)
    const direct = directPeers(b, tables, peers, 'inet');
    const untunnelled = peers.length > 0 && peers.every((p) => direct.includes(p.name));
    const overhead = untunnelled ? 0 : encapOverhead(b);
    const env = ok(n.host?.subnetEnv);
    const links = ok(n.host?.links);
    if (!n.host || !links || !env || env.mtu === null) return;
    const F = env.mtu;
    const uplink = uplinkOf(n, b);
    const evidence = [`FLANNEL_MTU=${F}`, ...(uplink ? [`${uplink.name} (uplink) mtu ${uplink.mtu}`] : [])];
    // The uplink shrank after flanneld derived FLANNEL_MTU (uplink minus overhead, or Backend.MTU): giving it back
    // the MTU the chain was built on mends it without touching a pod; a smaller MTU for the cluster is a plan.
    const uplinkFix =
      uplink && untunnelled
        ? `On ${n.name}: ip link set ${uplink.name} mtu ${F} (FLANNEL_MTU ${F}: every peer is routed directly, unencapsulated; persist it in the node's network configuration. If the network cannot carry it, plan a smaller MTU instead: Backend.MTU in net-conf.json, restart the flannel pods, re-create the pods)`
        : uplink
          ? `On ${n.name}: ip link set ${uplink.name} mtu ${F + overhead} (FLANNEL_MTU ${F} plus the ${b.type} overhead ${overhead}, what the chain was built on; persist it in the node's network configuration. If the network cannot carry it, plan a smaller MTU instead: Backend.MTU in net-conf.json, restart the flannel pods, re-create the pods)`
          : undefined;
    if (uplink && F > uplink.mtu - overhead) {
      report({
        node: n.name,
        message: untunnelled
          ? `FLANNEL_MTU ${F} exceeds uplink ${uplink.name} MTU ${uplink.mtu}: every peer is routed directly (DirectRouting), pod packets of ${uplink.mtu + 1}-${F} bytes die`
          : `FLANNEL_MTU ${F} exceeds uplink ${uplink.name} MTU ${uplink.mtu} minus the ${b.type} overhead ${overhead} (= ${uplink.mtu - overhead})`,
        evidence,
        fix: uplinkFix,
      });
    }
    for (const dev of expected.devices) {
      const link = linkByName(n.host, dev.name);
      if (!link) continue;
      const ev = [...evidence, `${link.name} mtu ${link.mtu}`];
      if (untunnelled) {
        // the tunnel device carries no pod packet: its size against the uplink cannot break a pair
      } else if (uplink && link.mtu > uplink.mtu - overhead) {
        report({
          node: n.name,
          message: `${link.name} MTU ${link.mtu} exceeds uplink ${uplink.name} MTU ${uplink.mtu} minus the ${b.type} overhead ${overhead}`,
          evidence: ev,
          // the device was sized for FLANNEL_MTU: the uplink is what moved (else FLANNEL_MTU's own finding says so)
          ...(link.mtu <= F ? { fix: uplinkFix } : {}),
        });
      } else if (isFlannelV6Clamp(b, dev.name, link.mtu, F)) {
        // flannel's design, not this cluster's fault (mtu-model.ts)
      } else if (link.mtu < F) {
        report({
          node: n.name,
          message: `${link.name} MTU ${link.mtu} is below FLANNEL_MTU ${F}: pods send packets the tunnel cannot carry`,
          evidence: ev,
          fix: `On ${n.name}: ip link set ${link.name} mtu ${F}`,
        });
      } else if (link.mtu > F && b.type === 'vxlan') {
        report({
          node: n.name,
          severity: 'warning',
          message: `${link.name} MTU ${link.mtu} differs from FLANNEL_MTU ${F}: the device kept the MTU of an earlier configuration`,
          evidence: ev,
          fix: `On ${n.name}: ip link set ${link.name} mtu ${F}`,
        });
      }
    }
    // Every packet into this node's pods is routed out of cni0: a bridge below FLANNEL_MTU drops what the tunnel carried.
    const cni0 = links.find((l) => l.name === 'cni0');
    if (cni0 && cni0.mtu < F) {
      // a bridge whose MTU was never set by hand follows its narrowest port: the veth is then the cause too
      const narrowest = links.find((l) => l.master === 'cni0' && l.mtu === cni0.mtu);
      report({
        node: n.name,
        message: `cni0 MTU ${cni0.mtu} is below FLANNEL_MTU ${F}: pod packets of ${cni0.mtu + 1}-${F} bytes toward ${n.name}'s pods die${narrowest ? ` (a bridge takes its narrowest port's MTU: ${narrowest.name})` : ''}`,
        evidence: [`FLANNEL_MTU=${F}`, `cni0 mtu ${cni0.mtu}`],
        fix: `On ${n.name}: ip link set cni0 mtu ${F}`,
      });
    }
    const veths = links.filter((l) => l.master === 'cni0' && l.mtu !== F);
    // the veths already have the MTU flanneld computes from the uplink: the stale part is subnet.env, which a
    // restart rewrites (re-creating the pods would give them the stale FLANNEL_MTU)
    const computed = uplink ? computedFlannelMTU(b, uplink.mtu) : null;
    if (veths.length && computed !== null && computed !== F && veths.every((v) => v.mtu === computed)) {
      report({
        node: n.name,
        severity: veths.some((v) => v.mtu > F) ? 'error' : 'warning',
        message: `${veths.length} pod veth${veths.length > 1 ? 's have' : ' has'} an MTU other than FLANNEL_MTU ${F}: those pods were created under another MTU`,
        evidence: [`FLANNEL_MTU=${F}`, ...veths.slice(0, 10).map((v) => `${v.name} mtu ${v.mtu} master cni0`)],
        fix: `Restart the flannel pod on ${n.name} (subnet.env says FLANNEL_MTU ${F}, flanneld computes ${computed} from ${uplink!.name} MTU ${uplink!.mtu} and rewrites it; the pods already use ${computed})`,
      });
      return;
    }
    const above = veths.filter((v) => v.mtu > F);
    if (above.length) {
      report({
        node: n.name,
        message: `${above.length} pod veth${above.length > 1 ? 's have' : ' has'} an MTU above FLANNEL_MTU ${F}: those pods were created under another MTU`,
        evidence: [`FLANNEL_MTU=${F}`, ...above.slice(0, 10).map((v) => `${v.name} mtu ${v.mtu} master cni0`)],
        fix: `Re-create the pods on ${n.name} whose veth MTU differs (their eth0 has the same MTU).`,
      });
    }
    // A pod's port on cni0 below FLANNEL_MTU: the bridge drops every frame above the port's MTU on its way into the
    // pod (no ICMP), whatever the pod's eth0 says, so each such veth is its own break, reported once.
    for (const v of veths.filter((x) => x.mtu < F)) {
      report({
        node: n.name,
        message: `pod veth ${v.name} MTU ${v.mtu} is below FLANNEL_MTU ${F}: pod packets of ${v.mtu + 1}-${F} bytes toward its pod die at ${v.name} on ${n.name}`,
        evidence: [`FLANNEL_MTU=${F}`, `${v.name} mtu ${v.mtu} master cni0`],
        // raising the host side cuts nothing: a packet above the pod's own eth0 is dropped there as it was here
        fix: `On ${n.name}: ip link set ${v.name} mtu ${F} (if the pod's eth0 also has MTU ${v.mtu}, the pod was created under that MTU: re-create it)`,
      });
    }
  },
});
