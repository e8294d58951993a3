import { defineCheck } from '../check.js';
import { vxlanDeviceName } from '../expected/index.js';

export default defineCheck({
  id: 'vxlan-port-mismatch',
  severity: 'error',
  title: 'Every node uses the same VXLAN VNI and UDP port',
  failureModes: [26],
  docs: {
    meaning:
      'The VNI and dstport of flannel.<VNI> differ between nodes. Neither is published in the node annotations, so flanneld never notices: each node encapsulates with its own values.',
    impact:
      'A node drops VXLAN packets sent to another port or VNI: traffic between nodes with different settings is lost in both directions.',
    fix: 'Make net-conf.json the only source: on the odd node, ip link delete flannel.<VNI> and restart its flannel pod so it re-creates the device from the ConfigMap.',
  },
  scope: 'cluster',
  run({ model, summaries }, report) {
    const b = model.backend;
    if (b?.type !== 'vxlan') return;
    const seen = summaries.flatMap((n) => {
      const v = n.vxlanDevice;
      return v ? [{ name: n.name, key: `VNI ${v.id} dstport ${v.port}` }] : [];
    });
    const counts = new Map<string, number>();
    for (const s of seen) counts.set(s.key, (counts.get(s.key) ?? 0) + 1);
    if (counts.size < 2) return;
    const common = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    for (const s of seen.filter((x) => x.key !== common)) {
      report({
        node: s.name,
        message: `${vxlanDeviceName(b.vni, 'inet')} uses ${s.key} while the other nodes use ${common}`,
        evidence: seen.map((x) => `${x.name}: ${x.key}`),
        // flanneld re-creates a vxlan device whose VNI or port differs from net-conf.json ("incompatible
        // configuration; recreating device"), then replays every lease: a restart alone is the fix
        fix: `Restart the flannel pod on ${s.name} (flanneld finds ${vxlanDeviceName(b.vni, 'inet')} incompatible with net-conf.json's VNI and Port, re-creates it and re-programs every peer)`,
      });
    }
  },
});
