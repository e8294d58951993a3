import { sameIP } from '../../net/cidr.js';
import type { XfrmState } from '../../snapshot/types.js';
import { defineCheck } from '../check.js';
import { formatState } from '../format.js';
import { FLANNEL_REQID } from './ipsec-policies.js';

export default defineCheck({
  id: 'ipsec-sa',
  severity: 'error',
  title:
    'Each IPsec peer has an SA in both directions matching its counterpart on the peer, and no SA outlives its node',
  failureModes: [41],
  docs: {
    meaning:
      'charon (strongSwan, started by flanneld) negotiates two ESP SAs per peer, one per direction. The SA `src L dst R` on L must exist on R with the same SPI, algorithm and key. Policies with no SA mean IKE never completed; an SA whose counterpart differs means the two nodes disagree after a rekey or restart.',
    impact:
      'Without SAs the kernel holds or drops the traffic its policies select: pods on the two nodes cannot talk. Mismatched SAs make the receiver drop every packet on SPI or ICV failure.',
    fix: 'Check IKE between the nodes (UDP 500/4500 and ESP allowed; charon log: kubectl -n kube-flannel logs <pod> | grep -i ike); with NAT between nodes set UDPEncap: true. Then restart the flannel pods on both nodes, or in the pod: swanctl --terminate --ike <name> && swanctl --initiate --child <name>.',
  },
  scope: 'cluster',
  run({ model, summaries, summaryOf }, report) {
    if (model.backend?.type !== 'ipsec') return;
    for (const n of summaries) {
      if (!n.ipsec) continue;
      const { states, pairs } = n.ipsec;
      // charon's SAs for flannel carry reqid 11; one whose endpoints match no current peer outlived its node.
      for (const sa of states.filter((x) => x.proto === 'esp' && x.reqid === FLANNEL_REQID)) {
        const known = pairs.some(
          (p) =>
            (sameIP(sa.src, p.local) && sameIP(sa.dst, p.remote)) ||
            (sameIP(sa.src, p.remote) && sameIP(sa.dst, p.local)),
        );
        if (known || pairs.length === 0) continue;
        report({
          node: n.name,
          severity: 'warning',
          message: `SA spi 0x${sa.spi.toString(16)} ${sa.src} -> ${sa.dst} belongs to no current peer`,
          evidence: [formatState(sa)],
          fix: `On ${n.name}: ip xfrm state delete src ${sa.src} dst ${sa.dst} proto esp spi 0x${sa.spi.toString(16)}`,
        });
      }
      for (const pair of pairs) {
        const esp = (src: string, dst: string) =>
          states.filter((s) => s.proto === 'esp' && sameIP(s.src, src) && sameIP(s.dst, dst));
        const outSAs = esp(pair.local, pair.remote);
        const inSAs = esp(pair.remote, pair.local);
        const missing = [
          outSAs.length ? null : `${pair.local} -> ${pair.remote}`,
          inSAs.length ? null : `${pair.remote} -> ${pair.local}`,
        ].filter((x) => x !== null);
        if (missing.length) {
          report({
            node: n.name,
            peer: pair.peer,
            message: `no ESP SA for ${missing.join(' or ')} toward ${pair.peer}: IKE has not completed`,
            evidence: [...outSAs, ...inSAs].map(formatState).concat(missing.map((m) => `ip xfrm state: no SA ${m}`)),
          });
          continue;
        }
        // Compare with the peer's own view of the same SAs; only when the peer was collected.
        const peerStates = summaryOf.get(pair.peer)?.ipsec?.states;
        if (!peerStates) continue;
        for (const sa of outSAs) {
          const twin = peerStates.find((s) => s.spi === sa.spi && sameIP(s.src, sa.src) && sameIP(s.dst, sa.dst));
          const why = twin ? differences(sa, twin) : 'is absent on the peer';
          if (!why) continue;
          report({
            node: n.name,
            peer: pair.peer,
            message: `SA spi 0x${sa.spi.toString(16)} ${sa.src} -> ${sa.dst} ${why}`,
            evidence: [
              `${n.name}: ${formatState(sa)}`,
              ...(twin
                ? [`${pair.peer}: ${formatState(twin)}`]
                : peerStates
                    .filter((s) => sameIP(s.src, sa.src) && sameIP(s.dst, sa.dst))
                    .map((s) => `${pair.peer}: ${formatState(s)}`)),
            ],
          });
        }
      }
    }
  },
});

function differences(a: XfrmState, b: XfrmState): string | null {
  const alg = (s: XfrmState) => s.aead ?? s.enc;
  if (alg(a)?.name !== alg(b)?.name) return `uses ${alg(a)?.name} here but ${alg(b)?.name} on the peer`;
  if (alg(a)?.digest !== alg(b)?.digest) return 'has a different key on the peer (key digests differ)';
  if (a.auth?.name !== b.auth?.name || a.auth?.digest !== b.auth?.digest)
    return 'has a different integrity algorithm or key on the peer';
  if (a.mode !== b.mode) return `is in ${a.mode} mode here but ${b.mode} on the peer`;
  return null;
}
