import { samePrefix } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { ok } from '../model.js';
import { boolFlag, flanneldArgs } from '../packaging.js';

export default defineCheck({
  id: 'blackhole-route',
  severity: 'warning',
  title: "With --ip-blackhole-route, the node's own podCIDR has flanneld's blackhole route",
  failureModes: [],
  docs: {
    meaning:
      "flanneld started with --ip-blackhole-route adds `blackhole <podCIDR>` on its node, so that traffic to an address of the node's podCIDR that no pod holds is dropped there. It is meant for CNIs without a bridge route for the whole podCIDR (Canal: Calico routes each pod by a /32). Here the flag is set but the route is missing.",
    impact:
      "Packets to unused addresses of the node's podCIDR follow the default route out of the node (back into the underlay or the overlay) instead of being dropped: routing loops and traffic leaking to the gateway (rke2#11170, flannel#2328).",
    fix: 'On <node>: ip route add blackhole <podCIDR>, or restart the flannel pod (flanneld adds it at start).',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    if (!boolFlag(flanneldArgs(model), 'ip-blackhole-route', false)) return;
    const routes = ok(n.host?.routes);
    if (!routes) return;
    for (const cidr of [
      model.netConf?.enableIPv4 === false ? null : n.podCIDR,
      model.netConf?.enableIPv6 ? n.podCIDRv6 : null,
    ]) {
      if (!cidr) continue;
      const has = routes.some(
        (r) => r.type === 'blackhole' && samePrefix(r.dst, cidr.text) && (r.table === 'main' || r.table === '254'),
      );
      if (has) continue;
      report({
        node: n.name,
        message: `no blackhole route for the node's podCIDR ${cidr.text} although flanneld runs with --ip-blackhole-route`,
        evidence: [
          'flanneld args: --ip-blackhole-route',
          `ip ${cidr.family === 'inet' ? '-4' : '-6'} route show type blackhole: ${
            routes
              .filter((r) => r.type === 'blackhole' && r.family === cidr.family)
              .map((r) => `blackhole ${r.dst}`)
              .join(', ') || '(none)'
          }`,
        ],
        fix: `On ${n.name}: ip route add blackhole ${cidr.text}`,
      });
    }
  },
});
