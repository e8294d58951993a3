/**
 * The per-peer entries the walk reads on the tunnel backends, for the class key (classes.ts): the WireGuard
 * peer that allowed-ips give each of the peer's addresses and whether it holds the peer's key, and the xfrm
 * policies and SAs between this node and the peer. Written relative to the peer (its podCIDR `T`, this node's
 * `O`, its public IP `P`, its key `K`), so that peers whose entries have the same shape share a class.
 */
import type { Prefix } from '../../net/cidr.js';
import type { Lease } from '../model.js';
import type { NfFamily } from '../netfilter/types.js';
import { templateAccepts, wireguardDevice } from './tunnels.js';
import {
  cidrOf,
  type NodeView,
  podAddress,
  publicIPOf,
  wireguardDeviceOf,
  wireguardKeyOf,
  wireguardOuterFamily,
} from './walk.js';

export function tunnelKey(view: NodeView, peer: Lease, family: NfFamily, theirs: Prefix): string {
  const b = view.backend;
  if (b.type === 'wireguard') return wireguardKey(view, peer, family, theirs);
  if (b.type === 'ipsec') return ipsecKey(view, peer, family, theirs);
  return '';
}

function wireguardKey(view: NodeView, peer: Lease, family: NfFamily, theirs: Prefix): string {
  const dev = wireguardDeviceOf(view, family);
  const wg = dev ? wireguardDevice(view.host, dev) : undefined;
  if (!wg) return 'w-';
  const key = wireguardKeyOf(view, peer, family);
  const peerIP = publicIPOf(peer, wireguardOuterFamily(view, family));
  const sender = key ? wg.peers.find((x) => x.publicKey === key.publicKey) : undefined;
  const parts = [`w${key ? key.port : '-'}`, sender ? 'S' : '-'];
  for (const a of [podAddress(theirs), theirs.network]) {
    const hit = a ? view.tables.tunnels().wireguardPeerFor(wg, a) : null;
    if (!hit) {
      parts.push('!');
      continue;
    }
    const ep = hit.peer.endpoint ?? '-';
    const host = ep.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    parts.push(
      [
        hit.prefix === theirs.text ? 'T' : hit.prefix,
        hit.peer.publicKey === key?.publicKey ? 'K' : hit.peer.publicKey,
        hit.peer === sender ? 'S' : '-',
        host === peerIP ? `P${ep.slice(ep.lastIndexOf(':'))}` : ep,
      ].join('/'),
    );
  }
  return parts.join(' ');
}

function ipsecKey(view: NodeView, peer: Lease, family: NfFamily, theirs: Prefix): string {
  const own = cidrOf(view.node, family);
  const src = own ? podAddress(own) : null;
  const dst = podAddress(theirs);
  const peerIP = publicIPOf(peer, family);
  const myIP = publicIPOf(view.node, family);
  if (!own || !src || !dst || !peerIP || !myIP) return 'x-';
  const rel = (x: string) => (x === theirs.text ? 'T' : x === own.text ? 'O' : x === peerIP ? 'P' : x);
  const parts: string[] = [];
  const out = view.tables.tunnels().xfrmPolicyFor('out', src, dst);
  const t = out?.templates[0];
  parts.push(out ? `o${rel(out.src)}/${rel(out.dst)}/${out.action}/${out.templates.length}` : 'o-');
  if (t) {
    const sa = view.tables.tunnels().xfrmStateFor(t);
    parts.push(
      `t${rel(t.src)}/${rel(t.dst)}/${t.proto}/${t.reqid}/${t.mode}/${sa ? `sa${JSON.stringify(sa.encap)}` : '-'}`,
    );
  }
  const sa = view.tables.tunnels().xfrmStateFor({ src: peerIP, dst: myIP, proto: 'esp', reqid: 0, mode: 'tunnel' });
  parts.push(sa ? `r${JSON.stringify(sa.encap)}` : 'r-');
  const fwd = view.tables.tunnels().xfrmPolicyFor('fwd', dst, src);
  parts.push(
    fwd
      ? `f${rel(fwd.src)}/${rel(fwd.dst)}/${fwd.action}/${sa ? fwd.templates.some((x) => templateAccepts(x, sa)) : '-'}`
      : 'f-',
  );
  return parts.join(' ');
}
