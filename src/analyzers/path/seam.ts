/**
 * The one part of a pair's path that neither half can judge alone: IPsec's keys. The sender encrypts with the
 * SA its policy's template resolves to; the receiver finds the SA to decrypt with by destination, SPI and
 * protocol (xfrm_state_lookup) and drops the packet when there is none or its key differs (the ICV check
 * fails). Each half only sees its own node's SAs, so the walk judges this seam once every node's summary is in.
 */
import { sameIP } from '../../net/cidr.js';
import type { XfrmState } from '../../snapshot/types.js';
import type { Report } from '../check.js';
import { FLANNEL_REQID } from '../checks/ipsec-policies.js';
import type { ClusterScope } from '../context.js';
import { formatState } from '../format.js';

export function ipsecSeams(scope: ClusterScope): Report[] {
  if (scope.model.backend?.type !== 'ipsec') return [];
  const out: Report[] = [];
  for (const n of scope.summaries) {
    if (!n.ipsec) continue;
    for (const pair of n.ipsec.pairs) {
      const theirs = scope.summaryOf.get(pair.peer)?.ipsec?.states;
      if (!theirs) continue;
      // The SA flannel's template (esp, tunnel, reqid 11) resolves to: none is the egress half's break.
      const sa = n.ipsec.states.find(
        (s) =>
          s.proto === 'esp' &&
          s.mode === 'tunnel' &&
          s.reqid === FLANNEL_REQID &&
          sameIP(s.src, pair.local) &&
          sameIP(s.dst, pair.remote),
      );
      if (!sa) continue;
      // No SA at all from the sender is the ingress half's break.
      const between = theirs.filter((s) => s.proto === 'esp' && sameIP(s.src, sa.src) && sameIP(s.dst, sa.dst));
      if (between.length === 0) continue;
      const twin = theirs.find((s) => s.proto === 'esp' && s.spi === sa.spi && sameIP(s.dst, sa.dst));
      if (twin && sameKeys(sa, twin)) continue;
      const spi = `0x${sa.spi.toString(16).padStart(8, '0')}`;
      out.push({
        node: n.name,
        peer: pair.peer,
        message: `pod traffic to ${pair.peer} stops at xfrm state (receive): ${
          twin
            ? `${pair.peer}'s SA spi ${spi} holds another key than the one ${n.name} encrypts with: the ICV check fails and ${pair.peer} drops every packet`
            : `${pair.peer} holds no SA with spi ${spi}, the one ${n.name} encrypts with: it drops every packet`
        }`,
        evidence: [
          `${n.name}: ${formatState(sa)}`,
          ...(twin ? [twin] : between).map((s) => `${pair.peer}: ${formatState(s)}`),
        ],
      });
    }
  }
  return out;
}

/** Same algorithms and keys (compared by digest: the snapshot keeps no key unless asked). */
function sameKeys(a: XfrmState, b: XfrmState): boolean {
  const same = (x: XfrmState['aead'], y: XfrmState['aead']) =>
    x === null ? y === null : y !== null && x.name === y.name && x.digest === y.digest;
  return same(a.aead, b.aead) && same(a.enc, b.enc) && same(a.auth, b.auth);
}
