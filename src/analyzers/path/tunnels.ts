/**
 * What the kernel consults per packet on the tunnel backends besides routes and netfilter: WireGuard's
 * cryptokey routing (drivers/net/wireguard/allowedips.c) and the xfrm policy and SA lookups of IPsec
 * (net/xfrm/xfrm_policy.c, xfrm_state.c). Pure lookups over one node's collected state; the walk decides
 * what a miss means, and the class key (classes.ts) renders their answers relative to the peer.
 */
import { contains, normalizeIP, parsePrefix, sameIP } from '../../net/cidr.js';
import type { HostState, WireguardDevice, XfrmPolicy, XfrmState } from '../../snapshot/types.js';
import { ok } from '../model.js';

export type WireguardPeer = WireguardDevice['peers'][number];
export type XfrmTemplate = XfrmPolicy['templates'][number];

export function wireguardDevice(host: HostState, name: string): WireguardDevice | undefined {
  return ok(host.wireguard)?.find((d) => d.name === name);
}

/**
 * Prefixes by length, longest first, each length a map from the prefix's canonical text: a longest-prefix
 * (or every-length) lookup costs one parse per distinct length, not one per entry (a 1,000-node cluster
 * gives every node 1,000 WireGuard peers or 3,000 xfrm policies).
 */
class PrefixIndex<T> {
  readonly #byLength = new Map<number, Map<string, T[]>>();
  #lengths: number[] = [];

  add(cidr: string, value: T): void {
    const p = parsePrefix(cidr);
    if (!p) return;
    let m = this.#byLength.get(p.length);
    if (!m) {
      this.#byLength.set(p.length, (m = new Map()));
      this.#lengths = [...this.#byLength.keys()].sort((a, b) => b - a);
    }
    const list = m.get(p.text);
    if (list) list.push(value);
    else m.set(p.text, [value]);
  }

  /** Every entry whose prefix holds `ip`, longest prefix first, with that prefix. */
  *holding(ip: string): Generator<{ prefix: string; values: readonly T[] }> {
    const family = ip.includes(':') ? 128 : 32;
    for (const length of this.#lengths) {
      if (length > family) continue;
      const p = parsePrefix(`${ip}/${length}`);
      const values = p ? this.#byLength.get(length)!.get(p.text) : undefined;
      if (values) yield { prefix: p!.text, values };
    }
  }
}

/** `192.168.56.12:51820` or `[fd00::12]:51821` as wg(8) prints an endpoint. */
export function endpointParts(endpoint: string): { host: string; port: number } | null {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint);
  return m ? { host: m[1]!, port: Number(m[2]) } : null;
}

export function formatWireguardPeer(p: WireguardPeer): string {
  return `peer ${p.publicKey} endpoint ${p.endpoint ?? '(none)'} allowed-ips ${p.allowedIPs.join(',') || '(none)'}`;
}

const holds = (cidr: string, ip: string): boolean => {
  const p = parsePrefix(cidr);
  return p !== null && contains(p, ip);
};

/** One node's WireGuard peers, xfrm policies and SAs, indexed on first use (HostTables.tunnels holds it). */
export class TunnelTables {
  readonly #host: HostState;
  readonly #peers = new Map<WireguardDevice, PrefixIndex<WireguardPeer>>();
  #policies: PrefixIndex<{ policy: XfrmPolicy; order: number }> | undefined;
  #states: Map<string, XfrmState[]> | undefined;

  constructor(host: HostState) {
    this.#host = host;
  }

  /**
   * The peer WireGuard sends `ip` to, and accepts `ip` as a source from: allowed-ips form one trie per device
   * and the longest prefix holding the address wins (an allowed IP belongs to one peer only).
   */
  wireguardPeerFor(dev: WireguardDevice, ip: string): { peer: WireguardPeer; prefix: string } | null {
    let index = this.#peers.get(dev);
    if (!index) {
      index = new PrefixIndex();
      for (const peer of dev.peers) for (const a of peer.allowedIPs) index.add(a, peer);
      this.#peers.set(dev, index);
    }
    for (const { prefix, values } of index.holding(ip)) return { peer: values[0]!, prefix };
    return null;
  }

  /**
   * The policy of `dir` whose selector holds the packet's addresses: the lowest priority value wins, and among
   * equals the first listed (the kernel keeps equal priorities in insertion order). Selectors here are
   * addresses only: flannel's policies name no protocol or port, and the snapshot keeps none.
   */
  xfrmPolicyFor(dir: XfrmPolicy['dir'], src: string, dst: string): XfrmPolicy | null {
    if (!this.#policies) {
      this.#policies = new PrefixIndex();
      const all = ok(this.#host.xfrmPolicies) ?? [];
      for (let i = 0; i < all.length; i++) this.#policies.add(all[i]!.dst, { policy: all[i]!, order: i });
    }
    let best: { policy: XfrmPolicy; order: number } | null = null;
    for (const { values } of this.#policies.holding(dst))
      for (const c of values) {
        const p = c.policy;
        if (p.dir !== dir || !holds(p.src, src)) continue;
        if (!best || p.priority < best.policy.priority || (p.priority === best.policy.priority && c.order < best.order))
          best = c;
      }
    return best?.policy ?? null;
  }

  /** The SA a template resolves to (xfrm_state_find): same endpoints, protocol and mode, and its reqid unless 0. */
  xfrmStateFor(t: XfrmTemplate): XfrmState | null {
    if (!this.#states) {
      this.#states = new Map();
      for (const s of ok(this.#host.xfrmStates) ?? []) {
        const k = `${normalizeIP(s.src) ?? s.src} ${normalizeIP(s.dst) ?? s.dst}`;
        const list = this.#states.get(k);
        if (list) list.push(s);
        else this.#states.set(k, [s]);
      }
    }
    const k = `${normalizeIP(t.src) ?? t.src} ${normalizeIP(t.dst) ?? t.dst}`;
    return (
      this.#states
        .get(k)
        ?.find((s) => s.proto === t.proto && s.mode === t.mode && (t.reqid === 0 || s.reqid === t.reqid)) ?? null
    );
  }
}

/** Whether a received SA satisfies a policy's template (xfrm_state_ok): the check the fwd and in policies make. */
export function templateAccepts(t: XfrmTemplate, sa: XfrmState): boolean {
  return (
    t.proto === sa.proto &&
    t.mode === sa.mode &&
    (t.reqid === 0 || t.reqid === sa.reqid) &&
    (t.mode !== 'tunnel' || (sameIP(t.src, sa.src) && sameIP(t.dst, sa.dst)))
  );
}
