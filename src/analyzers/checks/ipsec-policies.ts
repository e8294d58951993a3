import { sameIP, samePrefix } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { formatPolicy } from '../format.js';
import { ok } from '../model.js';

/** flanneld's reqid for every IPsec policy and child SA. */
export const FLANNEL_REQID = 11;

export default defineCheck({
  id: 'ipsec-policies',
  severity: 'error',
  title: 'Each IPsec peer has its out, in and fwd xfrm policies, and no policy outlives its node',
  failureModes: [41],
  docs: {
    meaning:
      'For every peer flanneld installs three xfrm policies with reqid 11: out (own podCIDR -> peer podCIDR, tmpl own public-ip -> peer public-ip) and in/fwd (the mirror image). It neither restores policies deleted by hand nor removes policies of departed nodes.',
    impact:
      "Missing: traffic to that peer leaves unencrypted and is dropped by the peer's in policy (or bypasses IPsec altogether). Stale: traffic to a re-used subnet is encrypted toward a host that is gone.",
    fix: 'Restart the flannel pod on <node> to re-install policies; delete stale ones with: ip xfrm policy delete src <src> dst <dst> dir <dir>.',
  },
  scope: 'node',
  runNode(ctx, report) {
    const { model, node: n } = ctx;
    if (model.backend?.type !== 'ipsec') return;
    const policies = ok(n.host?.xfrmPolicies);
    if (!policies) return;
    const expected = ctx.expected.xfrmPolicies;
    for (const want of expected) {
      const found = policies.find(
        (p) => p.dir === want.dir && samePrefix(p.src, want.src) && samePrefix(p.dst, want.dst),
      );
      const tmpl = found?.templates.find((t) => t.reqid === FLANNEL_REQID);
      if (found && tmpl && sameIP(tmpl.src, want.tmplSrc) && sameIP(tmpl.dst, want.tmplDst)) continue;
      const line = `src ${want.src} dst ${want.dst} dir ${want.dir} tmpl src ${want.tmplSrc} dst ${want.tmplDst} proto esp reqid ${FLANNEL_REQID} mode tunnel`;
      report({
        node: n.name,
        peer: want.peer,
        message: found
          ? `xfrm policy ${want.dir} ${want.src} -> ${want.dst} has the wrong template`
          : `xfrm policy ${want.dir} ${want.src} -> ${want.dst} toward ${want.peer} is missing`,
        evidence: [`expected: ${line}`, ...(found ? [`actual: ${formatPolicy(found)}`] : [])],
      });
    }
    for (const p of policies) {
      if (!p.templates.some((t) => t.reqid === FLANNEL_REQID)) continue;
      if (expected.some((w) => w.dir === p.dir && samePrefix(p.src, w.src) && samePrefix(p.dst, w.dst))) continue;
      report({
        node: n.name,
        severity: 'warning',
        message: `xfrm policy ${p.dir} ${p.src} -> ${p.dst} (reqid ${FLANNEL_REQID}) belongs to no current peer`,
        evidence: [formatPolicy(p)],
        fix: `On ${n.name}: ip xfrm policy delete src ${p.src} dst ${p.dst} dir ${p.dir}`,
      });
    }
  },
});
