import { defineCheck } from '../check.js';
import { ok } from '../model.js';

/** What flannel's default conflist needs: its own plugin and the ones it delegates to. */
const FLANNEL_NEEDS = ['flannel', 'bridge', 'host-local', 'portmap', 'loopback'];

export default defineCheck({
  id: 'cni-config',
  severity: 'error',
  title: "The runtime loads flannel's CNI config, and every plugin it needs is installed",
  failureModes: [14, 17],
  docs: {
    meaning:
      "The container runtime loads the first config in /etc/cni/net.d by name. flannel's init container installs 10-flannel.conflist and the flannel binary; bridge, host-local, portmap and loopback must already be in /opt/cni/bin. Here the config is missing, another CNI's config sorts first, or a plugin binary is missing.",
    impact:
      'Every new pod on the node fails in sandbox creation (`failed to find plugin "flannel" in path`, `no networks found in /etc/cni/net.d`) or is wired by another CNI that flannel\'s routes know nothing about.',
    fix: 'Restart the flannel pod on <node> so its init containers reinstall the config and binary (kubectl -n kube-flannel delete pod <pod>); install the standard plugins (containernetworking-plugins) into /opt/cni/bin; remove configs of CNIs no longer in use from /etc/cni/net.d.',
  },
  scope: 'node',
  runNode({ node: n }, report) {
    const cni = ok(n.host?.cni);
    if (!cni || !n.managed) return;
    const confs = (cni.confFiles ?? []).filter((f) => /\.(conf|conflist|json)$/.test(f));
    const dir = `ls ${cni.confDir}: ${cni.confFiles === null ? 'No such file or directory' : cni.confFiles.join(' ') || '(empty)'}`;
    if (confs.length === 0 || !cni.activeConf) {
      report({
        node: n.name,
        message: `no CNI config in ${cni.confDir}: every pod sandbox on this node fails`,
        evidence: [dir],
      });
      return;
    }
    const active = cni.activeConf;
    // Canal runs flannel for the overlay under Calico's CNI config: flannel has no config of its own there.
    if (active.types.includes('calico')) return;
    if (!active.types.includes('flannel')) {
      const flannelConf = confs.find((f) => f.includes('flannel'));
      report({
        node: n.name,
        message: flannelConf
          ? `${active.file} (${active.types.join(', ') || active.error}) sorts before ${flannelConf}: the runtime wires pods with it, not flannel`
          : `flannel's CNI config is missing: the runtime uses ${active.file} (${active.types.join(', ') || active.error})`,
        evidence: [
          dir,
          `active: ${cni.confDir}/${active.file}: plugins ${active.types.join(', ') || '(none)'}${active.error ? ` (${active.error})` : ''}`,
        ],
        // a restart reinstalls flannel's config, which is already there: the other config is what must go
        ...(flannelConf
          ? {
              fix: `On ${n.name}: rm ${cni.confDir}/${active.file} (if ${active.types.join(', ') || 'that config'} is no longer in use: the runtime takes the first config by name, and ${flannelConf} sorts after it)`,
            }
          : {}),
      });
      return;
    }
    if (cni.binaries === null) return; // plugins live elsewhere (k3s, RKE2): not judged
    const needed = [...new Set([...active.types, ...(active.types.includes('flannel') ? FLANNEL_NEEDS : [])])];
    const missing = needed.filter((b) => !cni.binaries!.includes(b));
    if (missing.length === 0) return;
    report({
      node: n.name,
      message: `CNI plugin${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing from ${cni.binDir}`,
      evidence: [
        `ls ${cni.binDir}: ${cni.binaries.join(' ') || '(empty)'}`,
        `active: ${cni.confDir}/${active.file}: plugins ${active.types.join(', ')}`,
      ],
    });
  },
});
