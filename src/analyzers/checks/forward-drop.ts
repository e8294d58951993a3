import { covers, parsePrefix } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { boolFlag, dumpsOf, holdsFlannel, type RuleSpec, rulesOf } from '../iptables.js';
import { type Model, ok } from '../model.js';

export default defineCheck({
  id: 'forward-drop',
  severity: 'error',
  title: 'Forwarded pod traffic is accepted: no DROP policy without FLANNEL-FWD, no DROP/REJECT ahead of it',
  failureModes: [29, 30],
  docs: {
    meaning:
      "flanneld appends `-A FORWARD -j FLANNEL-FWD`, whose rules ACCEPT traffic from and to the Network. A FORWARD policy of DROP is fine only while that jump is reached; a DROP or REJECT rule earlier in FORWARD (firewalld's `-j REJECT --reject-with icmp-host-prohibited`, ufw) wins because flannel's jump comes last.",
    impact:
      'The receiving node drops cross-node pod traffic in FORWARD: a node reaches its own pods, but pods on different nodes cannot talk.',
    fix: "Remove the earlier DROP/REJECT rule (or insert an ACCEPT for the pod Network above it), e.g. on <node>: iptables -D FORWARD -j REJECT --reject-with icmp-host-prohibited; keep flanneld's --iptables-forward-rules on (the default).",
  },
  scope: 'node',
  runNode({ model, node: n }, report) {
    const net = model.network;
    const fw = ok(n.host?.firewall);
    if (!fw || !net) return;
    for (const dump of dumpsOf(fw, 'inet')) {
      const table = dump.tables.filter;
      if (!table) continue;
      const forward = rulesOf(dump, 'filter', 'FORWARD');
      const policy = table.chains.FORWARD?.policy ?? 'ACCEPT';
      const jumpAt = forward.findIndex((r) => r.target === 'FLANNEL-FWD');
      const where = `iptables-${dump.backend}`;
      if (jumpAt >= 0) {
        const blocker = forward.slice(0, jumpAt).find((r) => blocks(r, net.text));
        if (blocker)
          report({
            node: n.name,
            message: `${blocker.target} rule in FORWARD comes before the FLANNEL-FWD jump (${where})`,
            evidence: [blocker.text, forward[jumpAt]!.text],
            fix: `On ${n.name}: iptables -D FORWARD ${blocker.text.replace(/^-A FORWARD /, '')} (or insert an ACCEPT for ${net.text} above it)`,
          });
        continue;
      }
      // flanneld's rules live in this backend only if it holds any flannel chain; otherwise judge the other dump.
      if (!holdsFlannel(dump) && dumpsOf(fw, 'inet').some((d) => d !== dump && holdsFlannel(d))) continue;
      const accepted = forward.some((r) => r.target === 'ACCEPT' && acceptsNetwork(r, net.text));
      const forwardRules =
        flannelArgs(model) === null ? true : boolFlag(flannelArgs(model)!, 'iptables-forward-rules') !== false;
      if (policy === 'DROP' && !accepted) {
        report({
          node: n.name,
          message: `FORWARD policy is DROP and nothing accepts the pod Network ${net.text} (${where}${forwardRules ? '; the FLANNEL-FWD jump is missing' : '; flanneld runs with --iptables-forward-rules=false'})`,
          evidence: [`:FORWARD DROP`, ...forward.slice(0, 8).map((r) => r.text)],
          // flanneld adds its jump at start: a restart puts it back; with the forward rules off nothing will
          fix: forwardRules
            ? `Restart the flannel pod on ${n.name} (flanneld appends its FLANNEL-FWD jump at start; a jump that vanishes again points at another agent flushing FORWARD)`
            : `On ${n.name}: ${where} -A FORWARD -s ${net.text} -j ACCEPT && ${where} -A FORWARD -d ${net.text} -j ACCEPT (or run flanneld with --iptables-forward-rules, the default)`,
        });
      } else {
        const blocker = forward.find((r) => blocks(r, net.text));
        if (
          blocker &&
          !forward.slice(0, forward.indexOf(blocker)).some((r) => r.target === 'ACCEPT' && acceptsNetwork(r, net.text))
        ) {
          report({
            node: n.name,
            message: `${blocker.target} rule in FORWARD drops pod traffic and no FLANNEL-FWD jump accepts it first (${where})`,
            evidence: [blocker.text],
          });
        }
      }
    }
  },
});

function flannelArgs(model: Model): readonly string[] | null {
  const f = model.snapshot.cluster.flannel;
  return f.status === 'ok' && f.data.daemonSet ? f.data.daemonSet.args : null;
}

/** A DROP/REJECT that would catch pod traffic: catch-all, or matching the pod Network or flannel/cni0 devices. */
function blocks(r: RuleSpec, network: string): boolean {
  if (r.target !== 'DROP' && r.target !== 'REJECT') return false;
  if (r.catchAll) return true;
  const net = parsePrefix(network)!;
  const inNet = (c: RuleSpec['src']) => {
    const p = c && !c.negated ? parsePrefix(c.cidr) : null;
    return p !== null && (covers(p, net) || covers(net, p));
  };
  const ifaceHit = [r.inIface, r.outIface].some((i) => i && /^(flannel|cni0)/.test(i));
  return inNet(r.src) || inNet(r.dst) || ifaceHit;
}

function acceptsNetwork(r: RuleSpec, network: string): boolean {
  const net = parsePrefix(network)!;
  const hit = (c: RuleSpec['src']) => {
    const p = c && !c.negated ? parsePrefix(c.cidr) : null;
    return p !== null && covers(p, net);
  };
  return r.catchAll || hit(r.src) || hit(r.dst);
}
