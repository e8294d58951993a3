import { defineCheck } from '../check.js';
import { FLANNEL_DEVICE_PATTERN } from '../expected/index.js';
import { ok, runsConfiguredBackend } from '../model.js';

export default defineCheck({
  id: 'leftover-backend-device',
  severity: 'warning',
  title: 'No flannel devices of another backend are left on the node',
  failureModes: [26],
  docs: {
    meaning:
      'A flannel device that the configured backend does not use exists (flannel.1 on a host-gw cluster, flannel-wg after switching to vxlan, flannel.2 after a VNI change). flanneld never removes the devices of a previous backend.',
    impact:
      'Its routes, neighbours and fdb entries can still capture traffic for peer subnets, and it confuses anyone reading `ip link`.',
    fix: 'On <node>: ip link delete <device> (and check `ip route` for routes through it).',
  },
  scope: 'node',
  runNode({ model, node: n, expected }, report) {
    if (!model.backend || model.backend.type === 'other') return;
    const links = ok(n.host?.links);
    if (!links || !n.managed) return;
    // Its devices are in use by the backend it still runs: deleting them would cut working traffic.
    if (!runsConfiguredBackend(model, n)) return;
    const wanted = new Set(expected.devices.map((d) => d.name));
    for (const l of links) {
      if (!FLANNEL_DEVICE_PATTERN.test(l.name) || wanted.has(l.name)) continue;
      report({
        node: n.name,
        message: `${l.name} (${l.kind ?? 'device'}) is not used by the ${model.backend.type} backend`,
        evidence: [`${l.name}: ${l.kind ?? ''} mtu ${l.mtu} state ${l.operstate}`],
        fix: `On ${n.name}: ip link delete ${l.name}`,
      });
    }
  },
});
