import { contains, parsePrefix, sameIP } from '../../net/cidr.js';
import type { Link } from '../../snapshot/types.js';
import { defineCheck, PODCIDR_WRONG } from '../check.js';
import type { ExpectedDevice } from '../expected/index.js';
import { formatAddresses, formatLink } from '../format.js';
import { type FlannelNode, linkByName, ok, runsConfiguredBackend } from '../model.js';

export default defineCheck({
  id: 'flannel-device',
  severity: 'error',
  title: "The backend's device exists, is up, and has flannel's attributes and address",
  failureModes: [4, 5, 13, 24],
  docs: {
    meaning:
      "flanneld creates one device per backend: flannel.<VNI> (vxlan, plus flannel-v6.<VNI>), flannel.ipip, flannel-wg(-v6) or flannel0 (udp), with the podCIDR network address as a /32. VXLAN attributes (VNI, dstport, learning, GBP, local) come from net-conf.json and the node's public IP.",
    impact:
      'A missing or down device, a wrong VNI or port, or a stale `local` address drops all cross-node pod traffic from or to this node.',
    fix: 'On <node>: ip link delete <the device>, then restart the flannel pod (kubectl -n kube-flannel delete pod <pod>) so flanneld re-creates the device and re-programs every peer. If the kernel lacks the module (vxlan, wireguard, ipip), install it first.',
  },
  scope: 'node',
  runNode({ model, node: n, expected }, report) {
    const links = ok(n.host?.links);
    // a node still running the backend it started with has that backend's devices, not net-conf.json's
    if (!n.host || !links || !runsConfiguredBackend(model, n)) return;
    for (const want of expected.devices) {
      const link = linkByName(n.host, want.name);
      if (!link) {
        report({
          node: n.name,
          message: `${want.name} does not exist`,
          evidence: [
            `ip link show ${want.name}: Device "${want.name}" does not exist.`,
            `flannel devices present: ${
              links
                .filter((l) => l.name.startsWith('flannel'))
                .map((l) => l.name)
                .join(', ') || '(none)'
            }`,
          ],
          fix: `Restart the flannel pod on ${n.name} (flanneld re-creates ${want.name} and re-programs every peer; if the kernel lacks the module for it, install that first)`,
        });
        continue;
      }
      const problems: string[] = [];
      // TUN and WireGuard devices report operstate UNKNOWN when up; the UP flag is what matters.
      if (!link.flags.includes('UP')) problems.push('is down');
      // busybox `ip` prints no link details: kind and VXLAN attributes are unknown there, not wrong.
      if (!link.detailsMissing) problems.push(...attributeProblems(want, link, n, links));
      const wantAddr = parsePrefix(want.address)!;
      const fam = link.addresses.filter((a) => a.family === want.family && a.scope !== 'link');
      if (!fam.some((a) => sameIP(a.local, wantAddr.network))) problems.push(`lacks address ${want.address}`);
      const net = want.family === 'inet' ? model.network : model.network6;
      const extra = net ? fam.filter((a) => contains(net, a.local) && !sameIP(a.local, wantAddr.network)) : [];
      if (extra.length)
        problems.push(
          `has stale address ${extra.map((a) => `${a.local}/${a.prefixlen}`).join(', ')} inside ${net!.text}`,
        );
      if (problems.length === 0) continue;
      report({
        node: n.name,
        message: `${want.name} ${problems.join('; ')}`,
        // only its address wrong: it follows the podCIDR, whose own finding's fix restarts flanneld on a new range
        ...(problems.every((p) => /^(lacks address|has stale address)/.test(p)) ? { unless: PODCIDR_WRONG } : {}),
        evidence: [formatLink(link), `${want.name} addresses: ${formatAddresses(link)}`],
        fix: `On ${n.name}: ip link delete ${want.name}, then restart the flannel pod (kubectl -n kube-flannel delete pod <pod>) so flanneld re-creates it and re-programs every peer`,
      });
    }
  },
});

/** Kind and VXLAN attributes against net-conf.json and the node's addresses. */
function attributeProblems(want: ExpectedDevice, link: Link, n: FlannelNode, links: readonly Link[]): string[] {
  const problems: string[] = [];
  if (link.kind && link.kind !== want.kind) problems.push(`is of kind ${link.kind}, not ${want.kind}`);
  if (!want.vxlan) return problems;
  const v = link.vxlan;
  if (!v) return [...problems, 'has no VXLAN attributes'];
  if (v.id !== want.vxlan.vni) problems.push(`has VNI ${v.id}, net-conf.json says ${want.vxlan.vni}`);
  if (v.port !== want.vxlan.port) problems.push(`has dstport ${v.port}, net-conf.json says ${want.vxlan.port}`);
  if (v.learning !== want.vxlan.learning)
    problems.push(
      v.learning ? 'has learning on (flannel sets nolearning)' : 'has nolearning but net-conf.json sets Learning',
    );
  if (v.gbp !== want.vxlan.gbp)
    problems.push(`has gbp ${v.gbp ? 'on' : 'off'}, net-conf.json says ${want.vxlan.gbp ? 'on' : 'off'}`);
  const publicIP = want.family === 'inet' ? n.publicIP : n.publicIPv6;
  // flannel >= 0.28 uses the public IP as local, older the interface IP: both must be addresses of this node.
  const nodeAddrs = links.flatMap((l) => l.addresses.map((a) => a.local));
  if (v.local && !sameIP(v.local, publicIP) && !nodeAddrs.some((a) => sameIP(a, v.local)))
    problems.push(`has local ${v.local}, which is not an address of this node (public-ip ${publicIP ?? 'unset'})`);
  return problems;
}
