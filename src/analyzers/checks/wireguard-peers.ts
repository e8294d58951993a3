import { samePrefix } from '../../net/cidr.js';
import { defineCheck } from '../check.js';
import { ok } from '../model.js';

export default defineCheck({
  id: 'wireguard-peers',
  severity: 'error',
  title: "Each WireGuard peer has the peer's key, endpoint and podCIDR, and has completed a handshake",
  failureModes: [40, 5],
  docs: {
    meaning:
      "flanneld configures one WireGuard peer per node on flannel-wg (and flannel-wg-v6): the node's PublicKey from backend-data, endpoint <public-ip>:<Port>, allowed-ips = its podCIDR. The device's own public key must be the one this node publishes. Peers with unknown keys or no allowed-ips are left from nodes whose key changed (the key lives in /run/flannel/wgkey and changes on reboot).",
    impact:
      "A missing peer or wrong allowed-ips drops traffic to that node's pods; a wrong endpoint (private or NATed address) means the handshake never completes.",
    fix: 'Restart the flannel pod on <node>. For a NATed endpoint set the public address: kubectl annotate node <peer> flannel.alpha.coreos.com/public-ip-overwrite=<reachable address>; remove stale peers with: wg set flannel-wg peer <key> remove.',
  },
  scope: 'node',
  runNode(ctx, report) {
    const { model, node: n } = ctx;
    if (model.backend?.type !== 'wireguard') return;
    const devices = ok(n.host?.wireguard);
    if (!devices) return;
    const knownKeys = ctx.cluster.wireguardKeys;
    const expected = ctx.expected.wireguardPeers;
    for (const dev of devices.filter((d) => d.name.startsWith('flannel-wg'))) {
      const own = dev.name.endsWith('-v6') ? (n.wireguardV6 ?? n.wireguard) : n.wireguard;
      if (own && dev.publicKey !== own.publicKey) {
        report({
          node: n.name,
          message: `${dev.name}'s public key differs from the PublicKey this node publishes: peers encrypt to a key it no longer has`,
          evidence: [`${dev.name} public key: ${dev.publicKey}`, `backend-data PublicKey: ${own.publicKey}`],
          fix: `Restart the flannel pod on ${n.name} so it republishes its key.`,
        });
      }
      for (const p of dev.peers) {
        if (knownKeys.has(p.publicKey) && p.allowedIPs.length > 0) continue;
        report({
          node: n.name,
          severity: 'warning',
          message: `${dev.name} peer ${p.publicKey} ${knownKeys.has(p.publicKey) ? 'has no allowed-ips' : 'belongs to no current node'}`,
          evidence: [
            `peer ${p.publicKey} endpoint ${p.endpoint ?? '(none)'} allowed-ips ${p.allowedIPs.join(',') || '(none)'}`,
          ],
          fix: `On ${n.name}: wg set ${dev.name} peer ${p.publicKey} remove`,
        });
      }
    }
    for (const want of expected) {
      const dev = devices.find((d) => d.name === want.device);
      if (!dev) continue; // flannel-device reports the missing device
      const peer = dev.peers.find((p) => p.publicKey === want.publicKey);
      const evidence = [
        `expected: peer ${want.publicKey} endpoint ${want.endpoint} allowed-ips ${want.allowedIPs.join(',')}`,
      ];
      if (!peer) {
        report({ node: n.name, peer: want.peer, message: `${want.device} has no peer for ${want.peer}`, evidence });
        continue;
      }
      const actual = `actual: peer ${peer.publicKey} endpoint ${peer.endpoint ?? '(none)'} allowed-ips ${peer.allowedIPs.join(',') || '(none)'} latest-handshake ${peer.latestHandshake || 'never'}`;
      const missing = want.allowedIPs.filter((c) => !peer.allowedIPs.some((a) => samePrefix(a, c)));
      if (missing.length)
        report({
          node: n.name,
          peer: want.peer,
          message: `${want.device} peer ${want.peer} lacks allowed-ips ${missing.join(', ')}`,
          evidence: [...evidence, actual],
        });
      if (peer.endpoint !== want.endpoint)
        report({
          node: n.name,
          peer: want.peer,
          message: `${want.device} peer ${want.peer} has endpoint ${peer.endpoint ?? '(none)'} instead of ${want.endpoint}`,
          evidence: [...evidence, actual],
        });
      else if (peer.latestHandshake === 0)
        report({
          node: n.name,
          peer: want.peer,
          severity: 'warning',
          message: `${want.device} peer ${want.peer} never completed a handshake with ${want.endpoint}`,
          evidence: [...evidence, actual],
          fix: `Check that UDP ${want.endpoint.split(':').pop()} reaches ${want.peer} at ${want.endpoint}; behind NAT, set flannel.alpha.coreos.com/public-ip-overwrite on ${want.peer}.`,
        });
    }
  },
});
