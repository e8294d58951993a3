import { defineCheck } from '../check.js';
import { vxlanDeviceName } from '../expected/index.js';
import { linkByName } from '../model.js';

export default defineCheck({
  id: 'vtep-mac',
  severity: 'error',
  title: "flannel.<VNI>'s MAC equals the node's VtepMAC annotation",
  failureModes: [8, 23],
  docs: {
    meaning:
      "The MAC of the node's VXLAN device differs from the VtepMAC in its flannel.alpha.coreos.com/backend-data annotation, which is what every peer puts in its neighbour and fdb entries. systemd-udev or NetworkManager rewriting the MAC (MACAddressPolicy=persistent) is the classic cause.",
    impact:
      'Peers address VXLAN frames to the old MAC; this node drops them, so traffic from every other node to its pods is lost.',
    fix: "Stop udev/NetworkManager from managing flannel devices (a .link file with MACAddressPolicy=none for flannel*, or NetworkManager unmanaged-devices=interface-name:flannel*), then on <node>: ip link delete flannel.1 and restart the flannel pod. When the annotation names another node's VtepMAC (a duplicate), only restart the flannel pod on <node>: it keeps the device and publishes the device's MAC, while a deleted device would be re-created with the annotation's (the other node's) MAC.",
  },
  scope: 'node',
  runNode({ model, node: n, cluster }, report) {
    const b = model.backend;
    if (b?.type !== 'vxlan') return;
    if (n.host?.links.status !== 'ok') return;
    for (const [family, lease, key] of [
      ['inet', n.vxlan, 'backend-data'],
      ['inet6', n.vxlanV6, 'backend-v6-data'],
    ] as const) {
      if (!lease) continue;
      const dev = vxlanDeviceName(b.vni, family);
      const link = linkByName(n.host, dev);
      if (!link?.mac || link.mac.toLowerCase() === lease.vtepMAC) continue;
      const evidence = [
        `${dev}: link/ether ${link.mac}`,
        `flannel.alpha.coreos.com/${key}: ${n.kube.flannelAnnotations[key] ?? ''}`,
      ];
      // The annotation, not the device, is wrong when it names another node's VtepMAC. flanneld re-creates a deleted
      // device with the MAC its own annotation names (GetStoredMacAddresses), so deleting the device would give this
      // node the other node's MAC; a plain restart keeps the existing device and publishes its MAC (proven in the lab).
      const sharers = cluster.duplicateVtepMACs.has(lease.vtepMAC)
        ? model.nodes.filter(
            (x) => x.name !== n.name && (x.vxlan?.vtepMAC === lease.vtepMAC || x.vxlanV6?.vtepMAC === lease.vtepMAC),
          )
        : [];
      if (sharers.length) {
        const names = sharers.map((x) => x.name).join(', ');
        report({
          node: n.name,
          message: `${dev} has MAC ${link.mac} but ${key} publishes VtepMAC ${lease.vtepMAC}, which ${names} also publishes (a duplicate VtepMAC)`,
          evidence: [...evidence, ...sharers.map((x) => `${x.name}: VtepMAC ${lease.vtepMAC}`)],
          fix: `Restart the flannel pod on ${n.name} (flanneld keeps ${dev}, MAC ${link.mac}, and publishes that MAC again; do not delete ${dev}: flanneld would re-create it with ${lease.vtepMAC}, the VtepMAC ${names} publishes)`,
        });
        continue;
      }
      report({
        node: n.name,
        message: `${dev} has MAC ${link.mac} but ${key} publishes VtepMAC ${lease.vtepMAC}`,
        evidence,
        fix: `On ${n.name}: ip link delete ${dev}, then restart the flannel pod (so flanneld re-creates it with the MAC it publishes; stop udev/NetworkManager from managing flannel devices first: a .link file with MACAddressPolicy=none for flannel*, or NetworkManager unmanaged-devices=interface-name:flannel*)`,
      });
    }
  },
});
