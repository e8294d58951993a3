/** Kernel entries printed the way iproute2 prints them, so evidence reads like `ip route` output. */
import type { FdbEntry, Link, Neighbour, Route, XfrmPolicy, XfrmState } from '../snapshot/types.js';
import type { ExpectedRoute } from './expected/types.js';

export function formatRoute(r: Route): string {
  const dst = r.dst === '0.0.0.0/0' || r.dst === '::/0' ? 'default' : r.dst.replace(/\/(32|128)$/, '');
  const parts = [r.type !== 'unicast' && r.type ? `${r.type} ${dst}` : dst];
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  if (r.table !== 'main') parts.push(`table ${r.table}`);
  if (r.protocol && r.protocol !== 'boot') parts.push(`proto ${r.protocol}`);
  if (r.scope && r.scope !== 'global' && r.scope !== 'universe') parts.push(`scope ${r.scope}`);
  if (r.prefsrc) parts.push(`src ${r.prefsrc}`);
  if (r.metric !== null) parts.push(`metric ${r.metric}`);
  parts.push(...r.flags);
  return parts.join(' ');
}

/**
 * A route as `ip route del` takes it: what selects exactly this route (type, prefix, first hop,
 * table, metric), without the state flags iproute2 prints after it (`linkdown`, `dead`,
 * `offload`, …), which `ip route del` rejects as garbage arguments.
 */
export function formatRouteSpec(r: Route): string {
  return [
    r.type !== 'unicast' && r.type ? r.type : '',
    r.dst,
    r.gateway ? `via ${r.gateway}` : '',
    r.dev ? `dev ${r.dev}` : '',
    `table ${r.table}`,
    r.metric !== null ? `metric ${r.metric}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

export function formatExpectedRoute(r: ExpectedRoute): string {
  return [r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '', r.onlink ? 'onlink' : '']
    .filter(Boolean)
    .join(' ');
}

export function formatNeighbour(n: Neighbour): string {
  return [n.dst, `dev ${n.dev}`, n.lladdr ? `lladdr ${n.lladdr}` : '', ...n.state].filter(Boolean).join(' ');
}

export function formatFdb(f: FdbEntry): string {
  return [
    f.mac,
    `dev ${f.dev}`,
    f.dst ? `dst ${f.dst}` : '',
    f.vlan !== null ? `vlan ${f.vlan}` : '',
    f.master ? `master ${f.master}` : '',
    ...f.flags,
    f.state,
  ]
    .filter(Boolean)
    .join(' ');
}

export function formatLink(l: Link): string {
  const vx = l.vxlan
    ? ` vxlan id ${l.vxlan.id}${l.vxlan.local ? ` local ${l.vxlan.local}` : ''}${l.vxlan.dev ? ` dev ${l.vxlan.dev}` : ''} dstport ${l.vxlan.port}${l.vxlan.learning ? '' : ' nolearning'}${l.vxlan.gbp ? ' gbp' : ''}`
    : '';
  return `${l.name}: <${l.flags.join(',')}> mtu ${l.mtu} state ${l.operstate}${l.mac ? ` link/ether ${l.mac}` : ''}${l.kind ? ` ${l.kind}` : ''}${vx}`;
}

export function formatAddresses(l: Link): string {
  return l.addresses.length
    ? l.addresses.map((a) => `${a.family} ${a.local}/${a.prefixlen}`).join(', ')
    : '(no addresses)';
}

export function formatPolicy(p: XfrmPolicy): string {
  const t = p.templates
    .map((t) => ` tmpl src ${t.src} dst ${t.dst} proto ${t.proto} reqid ${t.reqid} mode ${t.mode}`)
    .join('');
  return `src ${p.src} dst ${p.dst} dir ${p.dir} priority ${p.priority}${t}`;
}

/** An SA without its key: algorithm and a digest of the key stand in for it. */
export function formatState(s: XfrmState): string {
  const alg = s.aead ?? s.enc;
  const algText = alg ? ` ${s.aead ? 'aead' : 'enc'} ${alg.name} <key sha256:${alg.digest}>` : '';
  const auth = s.auth ? ` auth ${s.auth.name} <key sha256:${s.auth.digest}>` : '';
  return `src ${s.src} dst ${s.dst} proto ${s.proto} spi 0x${s.spi.toString(16).padStart(8, '0')} reqid ${s.reqid} mode ${s.mode}${algText}${auth}${s.encap ? ` encap ${s.encap.type} ${s.encap.sport}:${s.encap.dport}` : ''}`;
}
