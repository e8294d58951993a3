/** Reading iptables-save rules the way the kernel would match them, for the firewall checks. */
import type { Firewall, IptablesDump } from '../snapshot/types.js';

export interface RuleSpec {
  readonly chain: string;
  readonly text: string;
  readonly src: { readonly cidr: string; readonly negated: boolean } | null;
  readonly dst: { readonly cidr: string; readonly negated: boolean } | null;
  readonly inIface: string | null;
  readonly outIface: string | null;
  readonly target: string | null;
  /** `-p`: protocol name or number, lower case. */
  readonly proto: { readonly name: string; readonly negated: boolean } | null;
  /** `--dport` / `--dports` as inclusive ranges; null when the rule does not match on it. */
  readonly dports: readonly (readonly [number, number])[] | null;
  readonly dportsNegated: boolean;
  /** Matches this parser does not evaluate (state, mark, set, …): the rule may or may not apply. */
  readonly otherMatches: number;
  /** True when the rule matches on nothing but (optionally) a comment: it applies to every packet. */
  readonly catchAll: boolean;
}

function portRanges(text: string): [number, number][] {
  return text.split(',').map((p) => {
    const [lo, hi] = p.split(':');
    return [Number(lo), Number(hi ?? lo)] as [number, number];
  });
}

/** Splits an iptables-save rule into words, keeping quoted comments whole. */
function words(spec: string): string[] {
  return [...spec.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

export function parseRule(chain: string, spec: string): RuleSpec {
  const w = words(spec);
  let src: RuleSpec['src'] = null;
  let dst: RuleSpec['dst'] = null;
  let inIface: string | null = null;
  let outIface: string | null = null;
  let target: string | null = null;
  let proto: RuleSpec['proto'] = null;
  let dports: [number, number][] | null = null;
  let dportsNegated = false;
  let otherMatches = 0;
  let matches = 0;
  for (let i = 0; i < w.length; i++) {
    const negated = w[i] === '!';
    const opt = negated ? w[++i] : w[i];
    const val = w[i + 1] ?? '';
    if (opt === '-s' || opt === '--source') {
      src = { cidr: val, negated };
      matches++;
      i++;
    } else if (opt === '-d' || opt === '--destination') {
      dst = { cidr: val, negated };
      matches++;
      i++;
    } else if (opt === '-i' || opt === '--in-interface') {
      inIface = val;
      matches++;
      i++;
    } else if (opt === '-o' || opt === '--out-interface') {
      outIface = val;
      matches++;
      i++;
    } else if (opt === '-j' || opt === '--jump' || opt === '-g' || opt === '--goto') {
      target = val;
      break;
    } // the rest are target options
    else if (opt === '-p' || opt === '--protocol') {
      proto = { name: val.toLowerCase(), negated };
      matches++;
      i++;
    } else if (
      opt === '--dport' ||
      opt === '--destination-port' ||
      opt === '--dports' ||
      opt === '--destination-ports'
    ) {
      dports = portRanges(val);
      dportsNegated = negated;
      matches++;
      i++;
    } else if (opt === '-m') {
      i++;
    } // a module name; its options are counted below
    else if (opt === '--comment') {
      i++;
    } else if (opt?.startsWith('-')) {
      matches++;
      otherMatches++;
    }
  }
  return {
    chain,
    text: `-A ${chain} ${spec}`,
    src,
    dst,
    inIface,
    outIface,
    target,
    proto,
    dports,
    dportsNegated,
    otherMatches,
    catchAll: matches === 0,
  };
}

export function rulesOf(dump: IptablesDump, table: string, chain: string): RuleSpec[] {
  return (dump.tables[table]?.rules ?? []).filter((r) => r.chain === chain).map((r) => parseRule(r.chain, r.spec));
}

export function dumpsOf(fw: Firewall, family: 'inet' | 'inet6'): IptablesDump[] {
  return fw.iptables.filter((d) => d.family === family);
}

export function hasChain(dump: IptablesDump, table: string, chain: string): boolean {
  return chain in (dump.tables[table]?.chains ?? {});
}

/** Whether a dump holds any of flannel's chains (current names, or pre-0.20 rules in the built-in chains). */
export function holdsFlannel(dump: IptablesDump): boolean {
  return (
    hasChain(dump, 'nat', 'FLANNEL-POSTRTG') ||
    hasChain(dump, 'filter', 'FLANNEL-FWD') ||
    hasChain(dump, 'nat', 'FLANNEL')
  );
}

export function holdsKubeProxy(dump: IptablesDump): boolean {
  return Object.values(dump.tables).some((t) => Object.keys(t.chains).some((c) => c.startsWith('KUBE-')));
}

/** A boolean flag of flanneld's DS args (Go flag syntax: bare means true, or --flag=value). null when absent. */
export function boolFlag(args: readonly string[], flag: string): boolean | null {
  let value: boolean | null = null;
  for (const a of args) {
    if (a === `--${flag}` || a === `-${flag}`) value = true;
    const m = a.match(new RegExp(`^--?${flag}=(.*)$`));
    if (m) value = !['false', '0', 'f', 'F', 'FALSE', 'False'].includes(m[1]!);
  }
  return value;
}
