import type { Backend } from '../../snapshot/types.js';
import { defineCheck } from '../check.js';
import { dumpsOf, type RuleSpec, rulesOf } from '../iptables.js';
import { ok } from '../model.js';

/** The UDP ports a backend receives tunnel traffic on (IPsec's ESP itself is protocol 50, not checked here). */
function overlayPorts(b: Backend): number[] {
  switch (b.type) {
    case 'vxlan':
      return [b.port];
    case 'udp':
      return [b.port];
    case 'wireguard':
      return [b.listenPort];
    case 'ipsec':
      return [500, 4500];
    default:
      return [];
  }
}

type Verdict = { readonly kind: 'accepted' | 'unknown' } | { readonly kind: 'dropped'; readonly by: string };

/**
 * Walks INPUT as the kernel would for a UDP packet to `port`, deciding only where the rules are
 * plain enough to be sure: a jump to another chain, or an ACCEPT with matches this parser does
 * not evaluate, makes the verdict unknown (and the check silent).
 */
export function inputVerdict(rules: readonly RuleSpec[], policy: string, port: number): Verdict {
  for (const r of rules) {
    const protoOk =
      r.proto === null ||
      (!r.proto.negated && (r.proto.name === 'udp' || r.proto.name === '17')) ||
      (r.proto.negated && r.proto.name !== 'udp' && r.proto.name !== '17');
    if (!protoOk) continue;
    if (r.dports) {
      const inRange = r.dports.some(([lo, hi]) => port >= lo && port <= hi);
      if (inRange === r.dportsNegated) continue;
    }
    const narrowed = r.src !== null || r.dst !== null || r.inIface !== null || r.otherMatches > 0;
    if (r.target === 'ACCEPT') {
      if (narrowed) return { kind: 'unknown' };
      return { kind: 'accepted' };
    }
    if (r.target === 'DROP' || r.target === 'REJECT') {
      // A drop limited to some sources or interfaces does not decide for every peer.
      if (narrowed) continue;
      return { kind: 'dropped', by: r.text };
    }
    if (r.target === 'RETURN' || r.target === 'LOG' || r.target === null) continue;
    return { kind: 'unknown' };
  }
  return policy === 'DROP'
    ? { kind: 'dropped', by: ':INPUT DROP (policy, no rule accepts the port)' }
    : { kind: 'accepted' };
}

export default defineCheck({
  id: 'overlay-port-blocked',
  severity: 'error',
  title: "The node's own firewall does not drop the backend's tunnel port",
  failureModes: [21],
  docs: {
    meaning:
      "A rule in the node's iptables INPUT chain (or its DROP policy) drops the UDP port the backend receives on: vxlan 8472 (or Backend.Port), udp 8285, WireGuard 51820, IPsec 500/4500. Only rules plain enough to judge are evaluated; a chain that jumps elsewhere first leaves the check silent.",
    impact:
      'Every encapsulated packet from other nodes is dropped on arrival: pods on this node are unreachable from other nodes, though all routes, neighbours and fdb entries are right.',
    fix: 'Allow the port from the other nodes, e.g. on <node>: iptables -I INPUT -p udp --dport 8472 -s <node subnet> -j ACCEPT (firewalld: firewall-cmd --permanent --add-port=8472/udp && firewall-cmd --reload), and remove the DROP rule.',
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    if (!model.backend || model.netConf?.enableNFTables) return;
    const ports = overlayPorts(model.backend);
    const fw = ok(n.host?.firewall);
    if (!fw || ports.length === 0) return;
    for (const dump of dumpsOf(fw, 'inet')) {
      const filter = dump.tables.filter;
      if (!filter) continue;
      const rules = rulesOf(dump, 'filter', 'INPUT');
      for (const port of ports) {
        const v = inputVerdict(rules, filter.chains.INPUT?.policy ?? 'ACCEPT', port);
        if (v.kind !== 'dropped') continue;
        report({
          node: n.name,
          message: `UDP ${port} (${model.backend.type}) is dropped by the INPUT chain (iptables-${dump.backend})`,
          evidence: [v.by],
          fix: v.by.startsWith('-A INPUT ')
            ? `On ${n.name}: iptables-${dump.backend} -D ${v.by.slice(3)} (or, to keep it, insert before it: iptables-${dump.backend} -I INPUT -p udp --dport ${port} -j ACCEPT)`
            : `On ${n.name}: iptables-${dump.backend} -I INPUT -p udp --dport ${port} -j ACCEPT`,
        });
      }
    }
  },
});
