/**
 * Expected topology: for one node, everything flanneld must have programmed for the
 * configured backend, computed from net-conf.json and the peers' leases exactly as
 * flanneld does (flannel-internals.md §7, §9).
 */

import { hostPrefixLength, type Prefix } from '../../net/cidr.js';
import type { Backend } from '../../snapshot/types.js';
import type { FlannelNode, Lease, Model } from '../model.js';
import { EMPTY_EXPECTED, type ExpectedDevice, type ExpectedNode, type ExpectedRoute } from './types.js';

export * from './types.js';

/** flanneld's VXLAN device names: flannel.<VNI> and flannel-v6.<VNI>. */
export function vxlanDeviceName(vni: number, family: 'inet' | 'inet6'): string {
  return family === 'inet' ? `flannel.${vni}` : `flannel-v6.${vni}`;
}

/** Every device name some flannel backend creates, to spot leftovers of another backend. */
export const FLANNEL_DEVICE_PATTERN = /^(flannel\.\d+|flannel-v6\.\d+|flannel\.ipip|flannel-wg(-v6)?|flannel\d+)$/;

/**
 * What flanneld on `node` must have programmed toward `peers` (peersOf). The runner computes it once per node
 * context, where several checks read it.
 */
export function expectedFor(model: Model, node: FlannelNode, peers: readonly Lease[]): ExpectedNode {
  const backend = model.backend;
  if (!backend || !node.managed) return EMPTY_EXPECTED;
  switch (backend.type) {
    case 'vxlan':
      return vxlan(model, node, peers, backend);
    case 'host-gw':
      return { ...EMPTY_EXPECTED, routes: peers.flatMap((p) => gatewayRoutes(model, p, null, false)) };
    case 'ipip':
      return ipip(node, peers, backend.directRouting);
    case 'udp':
      return udp(model, node);
    case 'wireguard':
      return wireguard(model, node, peers, backend);
    case 'ipsec':
      return ipsec(node, peers);
    case 'other':
      return EMPTY_EXPECTED;
  }
}

function device(
  name: string,
  kind: ExpectedDevice['kind'],
  cidr: Prefix,
  vx: ExpectedDevice['vxlan'] = null,
): ExpectedDevice {
  return { name, kind, family: cidr.family, address: `${cidr.network}/${hostPrefixLength(cidr.family)}`, vxlan: vx };
}

function route(
  family: 'inet' | 'inet6',
  peer: string | null,
  dst: string,
  gateway: string | null,
  dev: string | null,
  onlink: boolean,
  alternatives: ExpectedRoute[] = [],
): ExpectedRoute {
  return { family, peer, dst, gateway, dev, onlink, alternatives };
}

/** host-gw style routes toward a peer's public IP(s), one per enabled family. */
function gatewayRoutes(model: Model, peer: Lease, dev: string | null, onlink: boolean): ExpectedRoute[] {
  const out: ExpectedRoute[] = [];
  if (model.netConf?.enableIPv4 !== false && peer.podCIDR && peer.publicIP)
    out.push(route('inet', peer.name, peer.podCIDR.text, peer.publicIP, dev, onlink));
  if (model.netConf?.enableIPv6 && peer.podCIDRv6 && peer.publicIPv6)
    out.push(route('inet6', peer.name, peer.podCIDRv6.text, peer.publicIPv6, dev, onlink));
  return out;
}

/**
 * Whether flanneld treats `peerIP` as on-link from `node` (DirectRouting): `ip route get`
 * returned a single route without a gateway. null when the answer was not collected.
 */
export function isOnLink(node: FlannelNode, peerIP: string): boolean | null {
  const gets = node.host?.routeGets;
  if (gets?.status !== 'ok') return null;
  const r = gets.data[peerIP];
  if (r === undefined) return null;
  return r !== null && r.gateway === null;
}

function vxlan(
  model: Model,
  node: FlannelNode,
  peers: readonly Lease[],
  b: Extract<Backend, { type: 'vxlan' }>,
): ExpectedNode {
  const families: ('inet' | 'inet6')[] = [];
  if (model.netConf?.enableIPv4 !== false) families.push('inet');
  if (model.netConf?.enableIPv6) families.push('inet6');
  const result = {
    devices: [] as ExpectedDevice[],
    routes: [] as ExpectedRoute[],
    neighbours: [] as ExpectedNode['neighbours'][number][],
    fdb: [] as ExpectedNode['fdb'][number][],
  };
  for (const family of families) {
    const own = family === 'inet' ? node.podCIDR : node.podCIDRv6;
    const ownLease = family === 'inet' ? node.vxlan : node.vxlanV6;
    const dev = vxlanDeviceName(b.vni, family);
    if (own)
      result.devices.push(
        device(dev, 'vxlan', own, {
          vni: b.vni,
          port: b.port,
          learning: b.learning,
          gbp: b.gbp,
          mac: ownLease?.vtepMAC ?? null,
        }),
      );
    for (const p of peers) {
      const cidr = family === 'inet' ? p.podCIDR : p.podCIDRv6;
      const lease = family === 'inet' ? p.vxlan : p.vxlanV6;
      const publicIP = family === 'inet' ? p.publicIP : p.publicIPv6;
      if (!cidr || !lease || !publicIP) continue;
      const overlay = route(family, p.name, cidr.text, cidr.network, dev, true);
      const direct = route(family, p.name, cidr.text, publicIP, null, false);
      const onLink = b.directRouting ? isOnLink(node, publicIP) : false;
      if (onLink === true) {
        result.routes.push(direct);
        continue;
      }
      result.routes.push(onLink === null ? { ...overlay, alternatives: [direct] } : overlay);
      // With DirectRouting and unknown on-link-ness the triple may rightly be absent, so only demand it when not direct.
      if (onLink === false) {
        result.neighbours.push({ peer: p.name, dev, dst: cidr.network, lladdr: lease.vtepMAC });
        result.fdb.push({ peer: p.name, dev, mac: lease.vtepMAC, dst: publicIP });
      }
    }
  }
  return { ...EMPTY_EXPECTED, ...result };
}

function ipip(node: FlannelNode, peers: readonly Lease[], directRouting: boolean): ExpectedNode {
  const devices = node.podCIDR ? [device('flannel.ipip', 'ipip', node.podCIDR)] : [];
  const routes = peers.flatMap((p) => {
    if (!p.podCIDR || !p.publicIP) return [];
    const overlay = route('inet', p.name, p.podCIDR.text, p.publicIP, 'flannel.ipip', true);
    const direct = route('inet', p.name, p.podCIDR.text, p.publicIP, null, true);
    const onLink = directRouting ? isOnLink(node, p.publicIP) : false;
    if (onLink === true) return [direct];
    return [onLink === null ? { ...overlay, alternatives: [direct] } : overlay];
  });
  return { ...EMPTY_EXPECTED, devices, routes };
}

function udp(model: Model, node: FlannelNode): ExpectedNode {
  if (!node.podCIDR || !model.network) return EMPTY_EXPECTED;
  // The TUN device is flannel0 unless that name was taken (flannel%d); flannel0 is what every real node shows.
  return {
    ...EMPTY_EXPECTED,
    devices: [device('flannel0', 'tun', node.podCIDR)],
    routes: [route('inet', null, model.network.text, null, 'flannel0', false)],
  };
}

function wireguard(
  model: Model,
  node: FlannelNode,
  peers: readonly Lease[],
  b: Extract<Backend, { type: 'wireguard' }>,
): ExpectedNode {
  const v4 = model.netConf?.enableIPv4 !== false;
  const v6 = model.netConf?.enableIPv6 === true;
  const separate = b.mode === 'separate';
  const dev4 = 'flannel-wg';
  const dev6 = separate ? 'flannel-wg-v6' : 'flannel-wg';
  const devices: ExpectedDevice[] = [];
  const routes: ExpectedRoute[] = [];
  if (v4 && node.podCIDR && model.network) {
    devices.push(device(dev4, 'wireguard', node.podCIDR));
    routes.push(route('inet', null, model.network.text, null, dev4, false));
  }
  if (v6 && node.podCIDRv6 && model.network6) {
    if (separate || !v4) devices.push(device(dev6, 'wireguard', node.podCIDRv6));
    routes.push(route('inet6', null, model.network6.text, null, dev6, false));
  }
  const wireguardPeers = peers.flatMap((p) => {
    const out: ExpectedNode['wireguardPeers'][number][] = [];
    if (separate) {
      if (v4 && p.wireguard && p.publicIP && p.podCIDR)
        out.push({
          peer: p.name,
          device: dev4,
          publicKey: p.wireguard.publicKey,
          endpoint: `${p.publicIP}:${p.wireguard.port || b.listenPort}`,
          allowedIPs: [p.podCIDR.text],
        });
      if (v6 && p.wireguardV6 && p.publicIPv6 && p.podCIDRv6)
        out.push({
          peer: p.name,
          device: dev6,
          publicKey: p.wireguardV6.publicKey,
          endpoint: `[${p.publicIPv6}]:${p.wireguardV6.port || b.listenPortV6}`,
          allowedIPs: [p.podCIDRv6.text],
        });
    } else if (p.wireguard) {
      const allowed = [p.podCIDR?.text, p.podCIDRv6?.text].filter((c): c is string => !!c);
      const useV6 = b.mode === 'ipv6' && p.publicIPv6;
      const endpoint = useV6
        ? `[${p.publicIPv6}]:${p.wireguard.port || b.listenPort}`
        : p.publicIP
          ? `${p.publicIP}:${p.wireguard.port || b.listenPort}`
          : null;
      if (endpoint)
        out.push({ peer: p.name, device: dev4, publicKey: p.wireguard.publicKey, endpoint, allowedIPs: allowed });
    }
    return out;
  });
  return { ...EMPTY_EXPECTED, devices, routes, wireguardPeers };
}

function ipsec(node: FlannelNode, peers: readonly Lease[]): ExpectedNode {
  const own = node.podCIDR;
  const local = node.publicIP;
  if (!own || !local) return EMPTY_EXPECTED;
  const xfrmPolicies: ExpectedNode['xfrmPolicies'][number][] = [];
  const saPairs: ExpectedNode['saPairs'][number][] = [];
  for (const p of peers) {
    if (!p.podCIDR || !p.publicIP) continue;
    xfrmPolicies.push({
      peer: p.name,
      dir: 'out',
      src: own.text,
      dst: p.podCIDR.text,
      tmplSrc: local,
      tmplDst: p.publicIP,
    });
    xfrmPolicies.push({
      peer: p.name,
      dir: 'in',
      src: p.podCIDR.text,
      dst: own.text,
      tmplSrc: p.publicIP,
      tmplDst: local,
    });
    xfrmPolicies.push({
      peer: p.name,
      dir: 'fwd',
      src: p.podCIDR.text,
      dst: own.text,
      tmplSrc: p.publicIP,
      tmplDst: local,
    });
    saPairs.push({ peer: p.name, local, remote: p.publicIP });
  }
  return { ...EMPTY_EXPECTED, xfrmPolicies, saPairs };
}
