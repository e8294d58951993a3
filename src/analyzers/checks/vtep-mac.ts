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
    fix: 'Stop udev/NetworkManager from managing flannel devices (a .link file with MACAddressPolicy=none for flannel*, or NetworkManager unmanaged-devices=interface-name:flannel*), then on <node>: ip link delete flannel.1 and restart the flannel pod.',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
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
      report({
        node: n.name,
        message: `${dev} has MAC ${link.mac} but ${key} publishes VtepMAC ${lease.vtepMAC}`,
        evidence: [
          `${dev}: link/ether ${link.mac}`,
          `flannel.alpha.coreos.com/${key}: ${n.kube.flannelAnnotations[key] ?? ''}`,
        ],
        fix: `On ${n.name}: ip link delete ${dev}, then restart the flannel pod (so flanneld re-creates it with the MAC it publishes; stop udev/NetworkManager from managing flannel devices first: a .link file with MACAddressPolicy=none for flannel*, or NetworkManager unmanaged-devices=interface-name:flannel*)`,
      });
    }
  },
});
