/**
 * The netfilter model's shared vocabulary: the packet it follows, the rules it compiles from
 * iptables-save text and from `nft -j list ruleset`, and the verdicts a hook gives. One IR for
 * every writer, so iptables-legacy, iptables-nft and native nftables tables on the same hook
 * are walked the same way, in priority order (net/netfilter/core.c, nf_hook_slow).
 */

export type NfFamily = 'inet' | 'inet6';
export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

/** The packet's fields the rules read. The first packet of a flow: conntrack state NEW. */
export interface NfPacket {
  readonly family: NfFamily;
  readonly src: string;
  readonly dst: string;
  /** Lower-case protocol name: udp, tcp, icmp, ipv6-icmp, … */
  readonly proto: string;
  readonly sport: number | null;
  readonly dport: number | null;
  /** Input device (PREROUTING, INPUT, FORWARD); null where the hook has none. */
  readonly iif: string | null;
  /** Output device (FORWARD, OUTPUT, POSTROUTING); null where the hook has none. */
  readonly oif: string | null;
  readonly mark: number;
  /**
   * Conntrack's view: NEW once conntrack has seen the packet; INVALID in chains that run before it (priority
   * below -200 on PREROUTING and OUTPUT, e.g. the raw table), where the packet has no conntrack entry yet.
   * The evaluator sets it per chain.
   */
  readonly ctState?: 'NEW' | 'INVALID';
  /** Bridge ports when br_netfilter hands a bridged frame to iptables; absent for routed packets. */
  readonly physIn?: string | null;
  readonly physOut?: string | null;
}

/** What a rule's match cannot know offline is null: the evaluator then tries both answers. */
export type MatchFn = (p: NfPacket, env: NfEnv) => boolean | null;

/** Facts about the node the matches may read (addrtype LOCAL). */
export interface NfEnv {
  readonly localAddresses: ReadonlySet<string>;
}

export type Nat =
  | { readonly kind: 'snat' | 'dnat'; readonly addr: string | null; readonly port: number | null }
  | { readonly kind: 'masquerade' }
  | { readonly kind: 'redirect'; readonly port: number | null };

export type Action =
  | { readonly kind: 'accept' | 'drop' | 'reject' | 'return' | 'continue' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string }
  | { readonly kind: 'mark'; readonly and: number; readonly xor: number }
  | { readonly kind: 'nat'; readonly nat: Nat }
  /** A target the model does not evaluate (NFQUEUE, TPROXY, CONNMARK --restore-mark, an nft `xt` statement). */
  | { readonly kind: 'unknown'; readonly name: string };

export interface NfRule {
  /** The rule as its tool prints it, for evidence. */
  readonly text: string;
  readonly matches: readonly MatchFn[];
  readonly action: Action;
}

export interface NfChain {
  readonly name: string;
  readonly rules: readonly NfRule[];
  /** Base chains only; user chains return to their caller. */
  readonly policy: 'accept' | 'drop' | null;
}

export type Writer = 'iptables-legacy' | 'iptables-nft' | 'nft';

/** A chain registered on a hook, with the table it lives in (its jump targets). */
export interface BaseChain {
  readonly writer: Writer;
  readonly family: NfFamily;
  readonly table: string;
  readonly hook: Hook;
  readonly priority: number;
  /** nat chains run only for a flow's first packet and only until one of them binds a mapping. */
  readonly type: 'filter' | 'nat' | 'route';
  readonly chain: NfChain;
  readonly chains: ReadonlyMap<string, NfChain>;
}

/** One hook's base chains, with every order the kernel may run them in (ties of equal priority). */
export interface HookChains {
  /** Sorted by priority (ties keep iptables-legacy, iptables-nft, nft order). */
  readonly chains: readonly BaseChain[];
  /** The sorted order first, then every other order of chains of equal priority that do something. */
  readonly orders: readonly (readonly BaseChain[])[];
  /** Which chains share a priority, for the verdict that depends on their order; '' when none do. */
  readonly tie: string;
}

/** Where a verdict was decided: writer, table, chain and the rule's text (or the policy). */
export interface RuleRef {
  readonly writer: Writer;
  readonly table: string;
  readonly chain: string;
  readonly rule: string;
}

export type HookVerdict =
  | {
      readonly kind: 'accept';
      /** The packet as it leaves the hook (marks set, addresses rewritten). */
      readonly packet: NfPacket;
      readonly nat: readonly { readonly nat: Nat; readonly by: RuleRef }[];
    }
  | { readonly kind: 'drop'; readonly by: RuleRef }
  /** A rule the model cannot evaluate decides: the hop says so, never a guess. */
  | { readonly kind: 'unknown'; readonly rule: string };
