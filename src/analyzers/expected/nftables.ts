/**
 * The nftables state flanneld v0.28.9 writes in nftables mode (EnableNFTables: true), from
 * pkg/trafficmngr/nftables/nftables.go: tables `ip flannel-ipv4` and `ip6 flannel-ipv6` (both always
 * created at start), a `forward` filter chain with --iptables-forward-rules (default on) and a
 * `postrtg` nat chain with --ip-masq, each flushed and rewritten whole, so the rules are exact and
 * in order. The texts are the ones `nft list ruleset` prints for them.
 */
import type { Prefix } from '../../net/cidr.js';
import type { FlannelNode, Model } from '../model.js';
import { ok } from '../model.js';
import { boolFlag, flanneldArgs } from '../packaging.js';

export interface ExpectedNftChain {
  readonly family: 'ip' | 'ip6';
  readonly table: 'flannel-ipv4' | 'flannel-ipv6';
  readonly chain: 'forward' | 'postrtg';
  /** The base chain's hook line as nft prints it. */
  readonly hook: string;
  /** Rules in order. A masquerade rule ends in `masquerade fully-random` unless the probe or flag dropped it. */
  readonly rules: readonly string[];
}

export const NFT_TABLES = [
  { family: 'ip', name: 'flannel-ipv4' },
  { family: 'ip6', name: 'flannel-ipv6' },
] as const;

const FORWARD_HOOK = 'type filter hook forward priority filter; policy accept;';
const POSTRTG_HOOK = 'type nat hook postrouting priority srcnat; policy accept;';

function forward(fam: 'ip' | 'ip6', net: Prefix): ExpectedNftChain {
  return {
    family: fam,
    table: fam === 'ip' ? 'flannel-ipv4' : 'flannel-ipv6',
    chain: 'forward',
    hook: FORWARD_HOOK,
    rules: [`${fam} saddr ${net.text} accept`, `${fam} daddr ${net.text} accept`],
  };
}

function postrtg(fam: 'ip' | 'ip6', net: Prefix, pod: Prefix, masquerade: string): ExpectedNftChain {
  const multicast = fam === 'ip' ? '224.0.0.0/4' : 'ff00::/8';
  return {
    family: fam,
    table: fam === 'ip' ? 'flannel-ipv4' : 'flannel-ipv6',
    chain: 'postrtg',
    hook: POSTRTG_HOOK,
    rules: [
      'meta mark 0x00004000 return',
      `${fam} saddr ${pod.text} ${fam} daddr ${net.text} return`,
      `${fam} saddr ${net.text} ${fam} daddr ${pod.text} return`,
      `${fam} saddr != ${pod.text} ${fam} daddr ${net.text} return`,
      `${fam} saddr ${net.text} ${fam} daddr != ${multicast} ${masquerade}`,
      `${fam} saddr != ${net.text} ${fam} daddr ${net.text} ${masquerade}`,
    ],
  };
}

/**
 * The chains flanneld writes on `node`. `fullyRandom` picks the masquerade form: flanneld drops
 * fully-random when its `nft --check` probe fails, which the snapshot cannot see, so the caller
 * tries both.
 */
export function expectedNftChains(model: Model, node: FlannelNode, fullyRandom: boolean): ExpectedNftChain[] {
  const nc = model.netConf;
  if (!nc?.enableNFTables) return [];
  const args = flanneldArgs(model);
  const fwd = boolFlag(args, 'iptables-forward-rules', true);
  const env = ok(node.host?.subnetEnv);
  // flanneld writes FLANNEL_IPMASQ from --ip-masq; without subnet.env, fall back to the flag.
  const masq = env?.ipMasq ?? boolFlag(args, 'ip-masq', false);
  const masquerade =
    fullyRandom && !boolFlag(args, 'ip-masq-fully-random-disable', false) ? 'masquerade fully-random' : 'masquerade';
  const out: ExpectedNftChain[] = [];
  const v4 = nc.enableIPv4 ? model.network : null;
  const v6 = nc.enableIPv6 ? model.network6 : null;
  if (v4 && fwd) out.push(forward('ip', v4));
  if (v4 && masq && node.podCIDR) out.push(postrtg('ip', v4, node.podCIDR, masquerade));
  if (v6 && fwd) out.push(forward('ip6', v6));
  if (v6 && masq && node.podCIDRv6) out.push(postrtg('ip6', v6, node.podCIDRv6, masquerade));
  return out;
}
