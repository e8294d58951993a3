/**
 * One node's netfilter rules, ready for the path walk: compiled once per node, with the node's own
 * addresses (addrtype LOCAL, MASQUERADE's source) and a memo of verdicts. Rules tell packets apart only
 * through the address literals they name, so two packets whose addresses fall in the same literals (and
 * that agree on every other field) get the same verdict: one evaluation serves every peer that a node's
 * rules do not single out.
 */
import type { HostState } from '../../snapshot/types.js';
import { type Addr, inPrefix, parseAddrPrefix } from '../fib/addr.js';
import { ok } from '../model.js';
import { type EvalEnv, evaluateHook } from '../netfilter/evaluate.js';
import { type Ruleset, rulesetOf } from '../netfilter/ruleset.js';
import type { Hook, HookVerdict, NfFamily, NfPacket } from '../netfilter/types.js';

/** Address literals in rule text; a fresh expression per use, since a global one carries its lastIndex. */
const addressPattern = (): RegExp =>
  /(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\/\d{1,3})?)(?![\w.:])/gi;

export class NodeFilter {
  readonly ruleset: Ruleset | null;
  readonly env: EvalEnv;
  readonly #literals: Addr[] = [];
  readonly #signatures = new Map<string, string>();
  readonly #memo = new Map<string, HookVerdict>();

  constructor(host: HostState) {
    const fw = ok(host.firewall);
    this.ruleset = fw ? rulesetOf(fw, fw.nftJson ?? null) : null;
    if (fw) {
      const texts = [
        ...fw.iptables.flatMap((d) => Object.values(d.tables).flatMap((t) => t.rules.map((r) => r.spec))),
        fw.nftJson ?? '',
      ];
      const seen = new Set<string>();
      for (const t of texts)
        for (const m of t.matchAll(addressPattern())) {
          if (seen.has(m[1]!)) continue;
          seen.add(m[1]!);
          const a = parseAddrPrefix(m[1]!);
          if (a) this.#literals.push(a);
        }
    }
    const links = ok(host.links) ?? [];
    const local = new Set(links.flatMap((l) => l.addresses.map((a) => a.local)));
    this.env = {
      localAddresses: local,
      primaryAddress: (dev, family) =>
        links.find((l) => l.name === dev)?.addresses.find((a) => a.family === family && a.scope === 'global')?.local ??
        null,
    };
  }

  /** The address literals the rules name: the only way a rule tells two peers' packets apart. */
  get literals(): readonly Addr[] {
    return this.#literals;
  }

  /** Which of the rules' literals an address falls in, and whether it is the node's own. */
  #signature(ip: string): string {
    let s = this.#signatures.get(ip);
    if (s === undefined) {
      const a = parseAddrPrefix(ip);
      s = this.env.localAddresses.has(ip) ? 'L' : '-';
      if (a) for (const l of this.#literals) s += inPrefix(l, a) ? '1' : '0';
      this.#signatures.set(ip, s);
    }
    return s;
  }

  verdict(family: NfFamily, hook: Hook, p: NfPacket): HookVerdict {
    if (!this.ruleset) return { kind: 'accept', packet: p, nat: [] };
    const key = [
      family,
      hook,
      this.#signature(p.src),
      this.#signature(p.dst),
      p.proto,
      p.sport,
      p.dport,
      p.iif,
      p.oif,
      p.mark,
      p.physIn,
      p.physOut,
    ].join('|');
    const hit = this.#memo.get(key);
    if (hit) return hit.kind === 'accept' ? { kind: 'accept', packet: { ...p, mark: hit.packet.mark }, nat: [] } : hit;
    const v = evaluateHook(this.ruleset.hook(family, hook), p, this.env);
    // A rewritten packet carries its own addresses: only verdicts without NAT are shared.
    if (v.kind !== 'accept' || v.nat.length === 0) this.#memo.set(key, v);
    return v;
  }
}
