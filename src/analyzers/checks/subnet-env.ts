import { firstHost, type Prefix, parsePrefix, samePrefix } from '../../net/cidr.js';
import { defineCheck, PODCIDR_WRONG } from '../check.js';

export default defineCheck({
  id: 'subnet-env',
  severity: 'error',
  title: '/run/flannel/subnet.env exists and agrees with net-conf.json and the podCIDR',
  failureModes: [14, 2],
  docs: {
    meaning:
      "flanneld writes /run/flannel/subnet.env at start-up: FLANNEL_NETWORK = Network, FLANNEL_SUBNET = the podCIDR's first host with its prefix length, FLANNEL_MTU, FLANNEL_IPMASQ. The flannel CNI plugin reads it on every pod ADD.",
    impact:
      "Missing: every pod sandbox on the node fails (`failed to load flannel 'subnet.env' file`). Wrong: pods get addresses or routes of another subnet, or masquerading is set up for the wrong ranges.",
    fix: 'Restart the flannel pod on <node> so it rewrites the file (kubectl -n kube-flannel delete pod <pod>); if it does not come back, read its log.',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const c = n.host?.subnetEnv;
    if (c?.status !== 'ok' || !n.managed) return;
    const env = c.data;
    if (env === null) {
      report({
        node: n.name,
        message: '/run/flannel/subnet.env does not exist',
        evidence: ['cat /run/flannel/subnet.env: No such file or directory'],
      });
      return;
    }
    const problems: string[] = [];
    const check = (key: string, actual: string | null, want: Prefix | null, exactHost: boolean) => {
      if (!want) return;
      const expected = exactHost ? `${firstHost(want)}/${want.length}` : want.text;
      const good =
        actual !== null &&
        (exactHost
          ? parsePrefix(actual)?.text === want.text && actual.split('/')[0] === firstHost(want)
          : samePrefix(actual, expected));
      if (!good) problems.push(`${key}=${actual ?? '(absent)'} but expected ${expected}`);
    };
    if (model.netConf?.enableIPv4 !== false) {
      check('FLANNEL_NETWORK', env.network, model.network, false);
      check('FLANNEL_SUBNET', env.subnet, n.podCIDR, true);
    }
    if (model.netConf?.enableIPv6) {
      check('FLANNEL_IPV6_NETWORK', env.ipv6Network, model.network6, false);
      check('FLANNEL_IPV6_SUBNET', env.ipv6Subnet, n.podCIDRv6, true);
    }
    if (env.mtu === null) problems.push('FLANNEL_MTU is absent');
    if (env.ipMasq === null) problems.push('FLANNEL_IPMASQ is absent');
    if (problems.length === 0) return;
    report({
      node: n.name,
      // only FLANNEL_SUBNET wrong: it follows the podCIDR, whose own finding's fix restarts flanneld
      ...(problems.every((p) => p.startsWith('FLANNEL_SUBNET=') || p.startsWith('FLANNEL_IPV6_SUBNET='))
        ? { unless: PODCIDR_WRONG }
        : {}),
      message: `subnet.env disagrees with the cluster: ${problems.join('; ')}`,
      evidence: [
        `FLANNEL_NETWORK=${env.network ?? ''}`,
        `FLANNEL_SUBNET=${env.subnet ?? ''}`,
        ...(model.netConf?.enableIPv6
          ? [`FLANNEL_IPV6_NETWORK=${env.ipv6Network ?? ''}`, `FLANNEL_IPV6_SUBNET=${env.ipv6Subnet ?? ''}`]
          : []),
        `FLANNEL_MTU=${env.mtu ?? ''}`,
        `FLANNEL_IPMASQ=${env.ipMasq ?? ''}`,
        `spec.podCIDRs: ${JSON.stringify(n.kube.podCIDRs)}`,
        `net-conf.json Network: ${model.network?.text ?? '(none)'}`,
      ],
    });
  },
});
