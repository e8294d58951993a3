import { covers, hostAt, type Prefix, parsePrefix, sameIP, usableEnds } from '../../net/cidr.js';
import type { HostState, RouteDecision } from '../../snapshot/types.js';
import { defineCheck } from '../check.js';
import type { ExpectedRoute } from '../expected/index.js';
import { decisionOf, describeWinner, formatDecision } from '../fib/explain.js';
import type { FibAnswer } from '../fib/lookup.js';
import { PodCIDRLookups } from '../fib/podcidr-lookups.js';
import { formatExpectedRoute, formatRouteSpec } from '../format.js';
import type { HostTables } from '../host-index.js';
import { type FlannelNode, type Model, ok } from '../model.js';
import { satisfies } from '../routes.js';

export default defineCheck({
  id: 'route-decision',
  severity: 'error',
  title: "The kernel routes each peer's pods the way flanneld set up",
  failureModes: [],
  docs: {
    meaning:
      "flanneld's route toward a peer's podCIDR is in place, but the kernel's own lookup (`ip route get` of the podCIDR's first and last address, as the node and as forwarded pod traffic from cni0) picks something else: a policy rule (`ip rule … lookup N`) sending the traffic to another table, a more specific prefix shadowing part of the podCIDR, or a blackhole, unreachable or prohibit route in a table consulted first (local included). Where the snapshot has no kernel answers, the offline model of `ip rule` and every table answers instead.",
    impact:
      "Pods on this node cannot reach the peer's pods (all of them, or the part the other route covers): the packets are dropped or leave by a device that is not flannel's, while every flannel entry looks right.",
    fix: "Remove what wins over flanneld's route, as named in the finding: `ip rule del …` for a rule that only concerns pod traffic (otherwise add `ip rule add pref <N-1> to <Network> lookup main` ahead of it), `ip route del …` for a blackhole or a more specific route, or `ip route add throw <Network> table <T>` for a wider route in a table consulted first.",
  },
  scope: 'node',
  runNode(ctx, report) {
    const { model, node: n } = ctx;
    const b = model.backend;
    // IPsec selects by xfrm policy, not route; an unknown backend has no expected route.
    if (!b || b.type === 'ipsec' || b.type === 'other' || !n.host) return;
    const host = n.host;
    const fib = ctx.fib;
    const kernel = decisionIndex(host);
    if (!kernel && !fib) return;
    // Peers whose podCIDRs the node's FIB does not tell apart share one lookup (podcidr-lookups.ts).
    const lookups = fib ? new PodCIDRLookups(fib, ctx.cluster.podCIDRShape) : null;
    const podSources = new Map<string, string | null>();
    const podSrcOf = (family: 'inet' | 'inet6') => {
      let s = podSources.get(family);
      if (s === undefined) podSources.set(family, (s = podSource(n, host, family)));
      return s;
    };
    // By peer once: a per-peer scan of every expected route would be quadratic in the node count.
    const byPeer = new Map<string | null, ExpectedRoute[]>();
    for (const w of ctx.expected.routes) {
      const list = byPeer.get(w.peer);
      if (list) list.push(w);
      else byPeer.set(w.peer, [w]);
    }
    const everyPeer = byPeer.get(null) ?? [];
    const everyOf = {
      inet: everyPeer.filter((w) => w.family === 'inet'),
      inet6: everyPeer.filter((w) => w.family === 'inet6'),
    };
    const tables = ctx.tables!;
    for (const p of ctx.peers) {
      for (let i = 0; i < 2; i++) {
        const cidr = i === 0 ? p.podCIDR : p.podCIDRv6;
        if (!cidr) continue;
        // The peer's routes, then those toward every peer, of the podCIDR's family (a loop: once per peer and node).
        const every = everyOf[cidr.family];
        const own = byPeer.get(p.name);
        let want: readonly ExpectedRoute[] = every;
        if (own) {
          const list: ExpectedRoute[] = [];
          for (const w of own) if (w.family === cidr.family) list.push(w);
          if (list.length > 0) want = every.length === 0 ? list : [...list, ...every];
        }
        if (want.length === 0) continue;
        // flanneld's own route missing or wrong is peer-routes' finding; what the kernel does then follows from it.
        if (!inPlace(tables, want)) continue;
        const wrong = wrongAnswers(cidr, podSrcOf(cidr.family), want, kernel, lookups);
        if (wrong.length === 0) continue;
        const first = wrong[0]!;
        const winner = first.model && sameDecision(first.model.decision, first.answer) ? first.model.answer : null;
        const dropped = first.answer.error !== null;
        const where = dropped
          ? `is dropped (${first.answer.error})`
          : `leaves ${first.answer.gateway ? `via ${first.answer.gateway} ` : ''}dev ${first.answer.dev ?? '?'}${first.answer.table && first.answer.table !== 'main' ? ` (table ${first.answer.table})` : ''}`;
        const part =
          wrong.length < usableEnds(cidr).length * 2 ? ` (${[...new Set(wrong.map((w) => w.q.dst))].join(', ')})` : '';
        report({
          node: n.name,
          peer: p.name,
          message: `traffic to ${p.name}'s pods ${cidr.text}${part} ${where} instead of ${formatExpectedRoute(want[0]!)}${winner ? `: ${describeWinner(winner)} wins` : ''}`,
          evidence: [
            `expected: ${want.map(formatExpectedRoute).join(' or ')} (in place)`,
            ...wrong.map((w) => `${w.fromKernel ? 'kernel' : 'model'}: ${formatDecision(w.answer)}`),
            ...(winner
              ? [`decided by: ${describeWinner(winner)}`]
              : first.model
                ? [`the offline model answers otherwise: ${formatDecision(first.model.decision)}`]
                : []),
          ],
          fix: `On ${n.name}: ${winner ? fixFor(model, host, winner, cidr) : 'read `ip rule` and `ip route show table all` for what matches first'}`,
        });
      }
    }
  },
});

interface Wrong {
  readonly q: Pick<RouteDecision, 'dst' | 'as' | 'src'>;
  readonly answer: RouteDecision;
  readonly fromKernel: boolean;
  readonly model: { readonly answer: FibAnswer; readonly decision: RouteDecision } | null;
}

/** The pod source of forwarded lookups, or null when none is made (forwarding off, no podCIDR of that family). */
function podSource(n: FlannelNode, host: HostState, family: 'inet' | 'inet6'): string | null {
  const own = family === 'inet' ? n.podCIDR : n.podCIDRv6;
  const sysctls = ok(host.sysctls);
  const forwarding = sysctls?.[family === 'inet' ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'] !== '0';
  // Forwarded lookups need forwarding on (ip-forward reports it off) and a pod source in the node's podCIDR.
  return own && forwarding ? hostAt(own, 2) : null;
}

/** Some expected route is in the main table (without a closure per peer: this runs for every peer of every node). */
function inPlace(tables: HostTables, want: readonly ExpectedRoute[]): boolean {
  for (const w of want) for (const r of tables.routesTo(w.dst)) if (satisfies(r, w)) return true;
  return false;
}

const NONE: Wrong[] = [];

function wrongAnswers(
  cidr: Prefix,
  podSrc: string | null,
  want: readonly ExpectedRoute[],
  kernel: ReadonlyMap<string, RouteDecision> | undefined,
  lookups: PodCIDRLookups | null,
): Wrong[] {
  // Without kernel answers and with the podCIDR's lookups shared, both ends get the same answer (podcidr-lookups.ts):
  // when the first end's fit, so do the last's, and the usual healthy peer costs two class answers, not four
  // lookups. A shared podCIDR is IPv4; up to /30 it has two usable ends (usableEnds).
  if (!kernel && lookups && cidr.length <= 30 && lookups.shares(cidr)) {
    if (
      fitsModel(lookups.classAnswer(cidr, null, null), want) &&
      (!podSrc || fitsModel(lookups.classAnswer(cidr, podSrc, 'cni0'), want))
    )
      return NONE;
  }
  const ends = usableEnds(cidr);
  const out: Wrong[] = [];
  for (const dst of ends) {
    for (const as of ['node', 'pod'] as const) {
      const src = as === 'pod' ? podSrc : null;
      if (as === 'pod' && !src) continue;
      const k = kernel?.get(`${as} ${dst}`);
      // cni0 absent (no pod yet on the node): no forwarded answer, and cni0-address says why.
      if (k?.error && /Cannot find device/.test(k.error)) continue;
      if (k && fits(k, want)) continue;
      // The model runs only where the kernel did not answer or answered wrong (to name what won).
      const m = lookups ? lookups.lookup(cidr, as === 'pod' ? { dst, src, iif: 'cni0' } : { dst, src }) : null;
      // The usual case, judged on the model's answer itself: no decision is made for every peer of every node.
      if (!k && m && fitsModel(m, want)) continue;
      const q = { dst, as, src };
      const md = m ? { answer: m, decision: decisionOf(m, q) } : null;
      const answer = k ?? md?.decision;
      if (!answer || fits(answer, want)) continue;
      out.push({ q, answer, fromKernel: k !== undefined, model: md });
    }
  }
  return out;
}

function fits(a: RouteDecision, want: readonly ExpectedRoute[]): boolean {
  if (a.error !== null || (a.type !== null && a.type !== 'unicast')) return false;
  return fitsRoute(a.dev, a.gateway, want);
}

/** fits(decisionOf(a, q), want), without making the decision. */
function fitsModel(a: FibAnswer, want: readonly ExpectedRoute[]): boolean {
  if (a.error !== null || a.type !== 'unicast') return false;
  return fitsRoute(a.route?.dev ?? null, a.route?.gateway ?? null, want);
}

/** Loops, not closures: twice per peer and node. */
function fitsRoute(dev: string | null, gateway: string | null, want: readonly ExpectedRoute[]): boolean {
  for (const w of want) {
    if (fitsOne(w, dev, gateway)) return true;
    for (const a of w.alternatives) if (fitsOne(a, dev, gateway)) return true;
  }
  return false;
}

function fitsOne(
  x: { readonly dev: string | null; readonly gateway: string | null },
  dev: string | null,
  gateway: string | null,
): boolean {
  return (x.dev === null || x.dev === dev) && (x.gateway === null || sameIP(x.gateway, gateway));
}

function sameDecision(a: RouteDecision, b: RouteDecision): boolean {
  return a.error === b.error && a.dev === b.dev && (a.gateway === b.gateway || sameIP(a.gateway, b.gateway));
}

const DEFAULT_RULES: ReadonlySet<string> = new Set(['0 local', '32766 main', '32767 default']);

/** A fix that restores the peer's traffic and touches nothing that carries other traffic. */
function fixFor(model: Model, host: HostState, a: FibAnswer, cidr: Prefix): string {
  const six = cidr.family === 'inet6' ? ' -6' : '';
  const network = (cidr.family === 'inet' ? model.network : model.network6) ?? cidr;
  const rule = a.rule;
  const byRule = rule && !(rule.action.kind === 'lookup' && DEFAULT_RULES.has(`${rule.priority} ${rule.action.table}`));
  if (rule && byRule) {
    const to = rule.toText ? parsePrefix(rule.toText) : null;
    // A rule that only selects pod traffic can go; a wider one may carry other traffic, so pod traffic is steered around it.
    if (to && covers(network, to)) return `ip${six} rule del priority ${rule.priority} ${rule.spec}`;
    return `ip${six} rule add priority ${freePriorityBelow(host, rule.priority, cidr.family)} to ${network.text} lookup main`;
  }
  const r = a.route;
  if (!r) return 'read `ip rule` and `ip route show table all` for what matches first';
  const dst = parsePrefix(r.dst);
  const spec = formatRouteSpec(r);
  const dropsOnly = ['blackhole', 'unreachable', 'prohibit', 'throw'].includes(r.type);
  if (dropsOnly || (dst && covers(network, dst))) return `ip${six} route del ${spec}`;
  return `ip${six} route add throw ${network.text} table ${r.table}`;
}

function freePriorityBelow(host: HostState, priority: number, family: 'inet' | 'inet6'): number {
  const used = new Set((ok(host.rules) ?? []).filter((r) => r.family === family).map((r) => r.priority));
  for (let p = priority - 1; p > 0; p--) if (!used.has(p)) return p;
  return Math.max(1, priority - 1);
}

/** The kernel's answers by `<as> <dst>`: a 1,000-node snapshot holds thousands per node. */
function decisionIndex(host: HostState): ReadonlyMap<string, RouteDecision> | undefined {
  const d = ok(host.routeDecisions);
  return d ? new Map(d.map((x) => [`${x.as} ${x.dst}`, x])) : undefined;
}
