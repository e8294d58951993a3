/**
 * What kubectl-flannel runs on every node, as data (flannel-internals.md, Appendix B).
 * Each command lists its forms in order of preference: the iproute2 JSON form first, then the
 * text forms old iproute2 and busybox `ip` understand. The collector (host.ts) falls back to the
 * next form when one fails and records why in the raw output.
 */

import { parseBridgeLinkJson } from '../../parse/bridge-link-json.js';
import { parseCniListing } from '../../parse/cni.js';
import { parseBridgeFdbJson } from '../../parse/fdb-json.js';
import { parseBridgeFdbText } from '../../parse/fdb-text.js';
import { iptablesBackendOf, parseIptablesSave } from '../../parse/iptables-save.js';
import type { ParseResult } from '../../parse/issue.js';
import { parseIpAddrJson } from '../../parse/links-json.js';
import { parseIpAddrText } from '../../parse/links-text.js';
import { parseIpNeighJson } from '../../parse/neigh-json.js';
import { parseIpNeighText } from '../../parse/neigh-text.js';
import { NETNS_ABSENT, NETNS_SECTION, NETNS_UNLISTED, parsePodInterfaces } from '../../parse/pod-netns.js';
import { POD_IIF, parseRouteBatch, type RouteQuery, STDERR_MARKER } from '../../parse/route-batch.js';
import type { Family } from '../../parse/route-common.js';
import { parseIpRouteJson } from '../../parse/routes-json.js';
import { parseIpRouteText } from '../../parse/routes-text.js';
import { parseIpRuleJson } from '../../parse/rules-json.js';
import { parseIpRuleText } from '../../parse/rules-text.js';
import { ABSENT_MARKER, parseSubnetEnv } from '../../parse/subnet-env.js';
import { parseSysctls } from '../../parse/sysctl.js';
import { parseWgDump } from '../../parse/wireguard.js';
import type {
  BridgePort,
  CniState,
  FdbEntry,
  IptablesDump,
  Link,
  Neighbour,
  PodInterface,
  Route,
  RouteDecision,
  RoutingRule,
  SubnetEnv,
  WireguardDevice,
} from '../../snapshot/types.js';

export interface CommandForm<T> {
  /** `<command id>:json`, `<command id>:text`, …; names the form in raw output. */
  readonly id: string;
  readonly argv: readonly string[];
  readonly parse: (stdout: string) => ParseResult<T>;
}

export interface NodeCommand<T> {
  readonly id: string;
  /** Preferred form first; later forms are fallbacks for old iproute2 and busybox. */
  readonly forms: readonly [CommandForm<T>, ...CommandForm<T>[]];
  /**
   * A missing tool is normal on some nodes (one of two iptables backends, wg without the
   * wireguard backend). Either way a missing tool makes the part `unavailable`; this tells
   * renderers whether that deserves a mention.
   */
  readonly optional: boolean;
  /** stderr that means "none of these here", giving an empty result (e.g. IPv6 disabled). */
  readonly emptyWhen?: RegExp;
}

const ip = (family: Family): string[] => ['ip', family === 'inet' ? '-4' : '-6'];
const text = (s: string): ParseResult<string> => ({ value: s, errors: [] });

export const KERNEL: NodeCommand<string> = {
  id: 'kernel',
  forms: [{ id: 'kernel:text', argv: ['uname', '-r'], parse: (s) => text(s.trim()) }],
  optional: true,
};

/** `ip -d addr` gives links with details and addresses in one call; busybox knows no `-d`. */
export const LINKS: NodeCommand<Link[]> = {
  id: 'links',
  forms: [
    { id: 'links:json', argv: ['ip', '-j', '-d', 'addr', 'show'], parse: parseIpAddrJson },
    { id: 'links:text', argv: ['ip', '-d', 'addr', 'show'], parse: parseIpAddrText },
    { id: 'links:plain', argv: ['ip', 'addr', 'show'], parse: (s) => parseIpAddrText(s, { detailed: false }) },
  ],
  optional: false,
};

const NO_IPV6 = /Address family not supported by protocol/;

export function routesCommand(family: Family): NodeCommand<Route[]> {
  const id = `routes.${family}`;
  return {
    id,
    forms: [
      {
        id: `${id}:json`,
        argv: [...ip(family), '-j', 'route', 'show', 'table', 'all'],
        parse: (s) => parseIpRouteJson(s, family),
      },
      {
        id: `${id}:text`,
        argv: [...ip(family), 'route', 'show', 'table', 'all'],
        parse: (s) => parseIpRouteText(s, family),
      },
    ],
    optional: false,
    ...(family === 'inet6' ? { emptyWhen: NO_IPV6 } : {}),
  };
}

export function rulesCommand(family: Family): NodeCommand<RoutingRule[]> {
  const id = `rules.${family}`;
  return {
    id,
    forms: [
      { id: `${id}:json`, argv: [...ip(family), '-j', 'rule', 'show'], parse: (s) => parseIpRuleJson(s, family) },
      { id: `${id}:text`, argv: [...ip(family), 'rule', 'show'], parse: (s) => parseIpRuleText(s, family) },
    ],
    optional: false,
    ...(family === 'inet6' ? { emptyWhen: NO_IPV6 } : {}),
  };
}

export const NEIGHBOURS: NodeCommand<Neighbour[]> = {
  id: 'neighbours',
  forms: [
    { id: 'neighbours:json', argv: ['ip', '-j', 'neigh', 'show'], parse: (s) => parseIpNeighJson(s) },
    { id: 'neighbours:text', argv: ['ip', 'neigh', 'show'], parse: (s) => parseIpNeighText(s) },
  ],
  optional: false,
};

export const FDB: NodeCommand<FdbEntry[]> = {
  id: 'fdb',
  forms: [
    { id: 'fdb:json', argv: ['bridge', '-j', 'fdb', 'show'], parse: (s) => parseBridgeFdbJson(s) },
    { id: 'fdb:text', argv: ['bridge', 'fdb', 'show'], parse: (s) => parseBridgeFdbText(s) },
  ],
  optional: false,
};

/** Kept as text: parsed by the xfrm parser (parse/xfrm.ts). */
export const XFRM_STATE: NodeCommand<string> = {
  id: 'xfrm.state',
  forms: [{ id: 'xfrm.state:text', argv: ['ip', 'xfrm', 'state'], parse: text }],
  optional: false,
};

export const XFRM_POLICY: NodeCommand<string> = {
  id: 'xfrm.policy',
  forms: [{ id: 'xfrm.policy:text', argv: ['ip', 'xfrm', 'policy'], parse: text }],
  optional: false,
};

export const WIREGUARD: NodeCommand<WireguardDevice[]> = {
  id: 'wireguard',
  forms: [{ id: 'wireguard:text', argv: ['wg', 'show', 'all', 'dump'], parse: parseWgDump }],
  optional: true,
};

export const DEFAULT_SUBNET_ENV = '/run/flannel/subnet.env';

/** The path goes in as `$1`, never into the script text. */
export function subnetEnvCommand(path: string = DEFAULT_SUBNET_ENV): NodeCommand<SubnetEnv | null> {
  const script = `if [ -e "$1" ]; then cat "$1"; else echo "${ABSENT_MARKER} $1"; fi`;
  return {
    id: 'subnetEnv',
    forms: [{ id: 'subnetEnv:text', argv: ['sh', '-c', script, 'sh', path], parse: parseSubnetEnv }],
    optional: false,
  };
}

export const DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_CNI_BIN_DIR = '/opt/cni/bin';

/** The CNI config directory, the config the runtime loads (libcni: first by name), and the plugin binaries. */
export function cniCommand(
  confDir: string = DEFAULT_CNI_CONF_DIR,
  binDir: string = DEFAULT_CNI_BIN_DIR,
): NodeCommand<CniState> {
  const script = [
    'export LC_ALL=C',
    'if [ -d "$1" ]; then echo "#confdir"; ls -1 "$1"; f=$(ls -1 "$1" | grep -E "[.](conf|conflist|json)$" | head -n 1);',
    '  if [ -n "$f" ]; then echo "#active $f"; cat "$1/$f"; echo; fi; else echo "#absent-confdir"; fi',
    'if [ -d "$2" ]; then echo "#bindir"; ls -1 "$2"; else echo "#absent-bindir"; fi',
  ].join('\n');
  return {
    id: 'cni',
    forms: [
      {
        id: 'cni:text',
        argv: ['sh', '-c', script, 'sh', confDir, binDir],
        parse: (out) => parseCniListing(out, confDir, binDir),
      },
    ],
    optional: false,
  };
}

/** /proc/sys files flannel depends on but does not set (flannel-internals.md §7.8). */
export const SYSCTL_PATHS = [
  '/proc/sys/net/ipv4/ip_forward',
  '/proc/sys/net/ipv6/conf/all/forwarding',
  '/proc/sys/net/ipv6/conf/all/disable_ipv6',
  '/proc/sys/net/bridge/bridge-nf-call-iptables',
  '/proc/sys/net/bridge/bridge-nf-call-ip6tables',
  '/proc/sys/net/ipv4/conf/*/rp_filter',
] as const;

export const SYSCTLS: NodeCommand<Record<string, string>> = {
  id: 'sysctls',
  forms: [
    {
      id: 'sysctls:text',
      argv: [
        'sh',
        '-c',
        `for f in ${SYSCTL_PATHS.join(' ')}; do if [ -r "$f" ]; then printf '%s=%s\\n' "$f" "$(cat "$f")"; else printf '#absent %s\\n' "$f"; fi; done`,
      ],
      parse: parseSysctls,
    },
  ],
  optional: false,
};

/** One iptables backend and family; `detect` reads the backend from a plain `iptables-save`. */
export function iptablesCommand(
  backend: IptablesDump['backend'] | 'detect',
  family: Family,
): NodeCommand<IptablesDump> {
  const bin = `${family === 'inet' ? 'iptables' : 'ip6tables'}${backend === 'detect' ? '' : `-${backend}`}-save`;
  const id = `iptables.${backend === 'detect' ? 'default' : backend}.${family}`;
  return {
    id,
    forms: [
      {
        id: `${id}:text`,
        argv: [bin],
        parse: (s) => parseIptablesSave(s, backend === 'detect' ? iptablesBackendOf(s) : backend, family),
      },
    ],
    optional: true,
  };
}

export const NFT_RULESET: NodeCommand<string> = {
  id: 'nft',
  forms: [{ id: 'nft:text', argv: ['nft', 'list', 'ruleset'], parse: text }],
  optional: true,
};

/** `nft -j list ruleset`: the form the netfilter model evaluates (the text above stays for older nft and the checks). */
export const NFT_JSON: NodeCommand<string> = {
  id: 'nftJson',
  forms: [
    {
      id: 'nftJson:json',
      argv: ['nft', '-j', 'list', 'ruleset'],
      parse: (s) => {
        try {
          JSON.parse(s);
          return text(s);
        } catch (e) {
          return {
            value: '',
            errors: [{ line: 1, text: s.slice(0, 80), message: `not JSON: ${(e as Error).message}` }],
          };
        }
      },
    },
  ],
  optional: true,
};

/** Bridge ports and their STP state: a disabled cni0 port cuts its pod off. */
export const BRIDGE_PORTS: NodeCommand<BridgePort[]> = {
  id: 'bridgePorts',
  forms: [{ id: 'bridgePorts:json', argv: ['bridge', '-j', 'link', 'show'], parse: parseBridgeLinkJson }],
  optional: true,
};

/** Where containerd and CRI-O keep pod network namespaces, and the only directory `ip netns list` reads. */
export const POD_NETNS_DIR = '/var/run/netns';

/**
 * Each pod network namespace's own veth end (the MTU the pod sends with), in one shell loop: a node holds up to a
 * few hundred pods. Only the namespaces this node's namespace has an id for are entered: a pod's veth gives it one,
 * and any other namespace visible there (another node's, in the lab) holds nothing of this node.
 */
const POD_INTERFACES_SCRIPT = [
  `d=${POD_NETNS_DIR}`,
  `[ -d "$d" ] || { echo "${NETNS_ABSENT} $d"; exit 0; }`,
  `l=$(ip netns list 2>&1) || { echo "${NETNS_UNLISTED} $l"; exit 0; }`,
  // `cni-1c3e… (id: 3)`
  `printf '%s\\n' "$l" | while read -r n x id; do`,
  '  [ "$x" = "(id:" ] || continue',
  `  echo "${NETNS_SECTION}$d/$n \${id%)}"`,
  // only veths: a pod's end of its veth is one (lo and other devices would only fill the raw output)
  '  o=$(nsenter --net="$d/$n" ip -j addr show type veth 2>/dev/null) || o=$(nsenter --net="$d/$n" ip addr show type veth 2>&1)',
  `  printf '%s\\n' "$o"`,
  'done',
].join('\n');

export const POD_INTERFACES: NodeCommand<PodInterface[] | null> = {
  id: 'podInterfaces',
  forms: [{ id: 'podInterfaces:text', argv: ['sh', '-c', POD_INTERFACES_SCRIPT], parse: parsePodInterfaces }],
  // nsenter missing (a minimal image) leaves the pod ends unread, as a missing /var/run/netns does
  optional: true,
};

/** `ip route get` for one address; the caller checks it is an IP, so it cannot read as an option. */
export function routeGetCommand(address: string): NodeCommand<Route[]> {
  const family: Family = address.includes(':') ? 'inet6' : 'inet';
  const id = `routeGet.${address}`;
  return {
    id,
    forms: [
      { id: `${id}:json`, argv: ['ip', '-j', 'route', 'get', address], parse: (s) => parseIpRouteJson(s, family) },
      { id: `${id}:text`, argv: ['ip', 'route', 'get', address], parse: (s) => parseIpRouteText(s, family) },
    ],
    optional: false,
    // No route at all is an answer (null), not a failure.
    emptyWhen: /Network is unreachable|No route to host|unreachable/i,
  };
}

/** What a node is asked in one batch: addresses, and the pod source per family for forwarded lookups. */
export interface RouteDecisionPlan {
  readonly dsts: readonly string[];
  /** An address in the node's own podCIDR (cni0's + 1): the source of forwarded pod traffic. */
  readonly podSource4: string | null;
  readonly podSource6: string | null;
}

/** The batch lines in the order the node's shell prints them (see ROUTE_BATCH_SCRIPT). */
export function routeQueries(plan: RouteDecisionPlan): RouteQuery[] {
  return plan.dsts.flatMap((dst) => {
    const src = dst.includes(':') ? plan.podSource6 : plan.podSource4;
    const node: RouteQuery = { dst, as: 'node', src: null };
    return src ? [node, { dst, as: 'pod', src }] : [node];
  });
}

/**
 * Expands the addresses into `route get` lines on the node (so the argv stays one address per
 * peer, not one line per query) and runs them through a single `ip -batch`; ip's stderr
 * (`Command failed -:<line>` per error) follows a marker, after the answers.
 */
const ROUTE_BATCH_SCRIPT = (ipArgs: string): string =>
  [
    's4=$1; s6=$2; shift 2',
    'i4=cni0; i6=cni0',
    // Calico's CNI (Canal) has no cni0: forwarded pod traffic is asked as it enters from the first pod's cali veth,
    // with that pod's address (its /32 or /128 host route names both), as the walk follows it.
    'if ! ip link show cni0 >/dev/null 2>&1; then',
    `  p=$( { ip -4 route show | awk '${CALI_ROUTE}'; } 2>/dev/null); [ "$s4" = - ] || [ -z "$p" ] || { s4=\${p% *}; i4=\${p#* }; }`,
    `  p=$( { ip -6 route show | awk '${CALI_ROUTE}'; } 2>/dev/null); [ "$s6" = - ] || [ -z "$p" ] || { s6=\${p% *}; i6=\${p#* }; }`,
    'fi',
    'exec 3>&1',
    `e=$(for a in "$@"; do echo "route get $a"; case $a in *:*) s=$s6; i=$i6;; *) s=$s4; i=$i4;; esac; [ "$s" = - ] || echo "route get $a from $s iif $i"; done | ip ${ipArgs} -force -batch - 2>&1 >&3)`,
    // The pod source and device each family was asked with, ahead of ip's stderr (parseRouteBatch reads them).
    `printf '\n${STDERR_MARKER}\n${POD_IIF} inet %s %s\n${POD_IIF} inet6 %s %s\n%s\n' "$s4" "$i4" "$s6" "$i6" "$e"`,
  ].join('\n');

/** The first host route on a cali veth: `10.244.1.5 dev cali1a2b scope link` prints `10.244.1.5 cali1a2b`. */
const CALI_ROUTE = '$2 == "dev" && $3 ~ /^cali/ && $1 !~ /\\// { print $1, $3; exit }';

/** Addresses and sources must be IPs (the caller checks): they become lines of ip's batch input. */
export function routeDecisionsCommand(plan: RouteDecisionPlan): NodeCommand<RouteDecision[]> {
  const queries = routeQueries(plan);
  const args = ['sh', plan.podSource4 ?? '-', plan.podSource6 ?? '-', ...plan.dsts];
  return {
    id: 'routeDecisions',
    forms: [
      {
        id: 'routeDecisions:json',
        argv: ['sh', '-c', ROUTE_BATCH_SCRIPT('-j'), ...args],
        parse: (s) => parseRouteBatch(s, queries, true),
      },
      {
        id: 'routeDecisions:text',
        argv: ['sh', '-c', ROUTE_BATCH_SCRIPT(''), ...args],
        parse: (s) => parseRouteBatch(s, queries, false),
      },
    ],
    // busybox ip has no -batch: the offline model answers instead.
    optional: true,
  };
}

/** Every command one node collection runs, in the order it starts them. */
export function nodeCommands(
  opts: {
    subnetEnvPath?: string;
    cniConfDir?: string;
    cniBinDir?: string;
    peerAddresses?: readonly string[];
    routeDecisions?: RouteDecisionPlan;
  } = {},
): NodeCommand<unknown>[] {
  return [
    KERNEL,
    LINKS,
    routesCommand('inet'),
    routesCommand('inet6'),
    rulesCommand('inet'),
    rulesCommand('inet6'),
    NEIGHBOURS,
    FDB,
    subnetEnvCommand(opts.subnetEnvPath),
    cniCommand(opts.cniConfDir, opts.cniBinDir),
    SYSCTLS,
    XFRM_STATE,
    XFRM_POLICY,
    WIREGUARD,
    iptablesCommand('legacy', 'inet'),
    iptablesCommand('nft', 'inet'),
    iptablesCommand('legacy', 'inet6'),
    iptablesCommand('nft', 'inet6'),
    NFT_RULESET,
    NFT_JSON,
    BRIDGE_PORTS,
    POD_INTERFACES,
    ...(opts.routeDecisions ? [routeDecisionsCommand(opts.routeDecisions)] : []),
    ...(opts.peerAddresses ?? []).map(routeGetCommand),
  ] as NodeCommand<unknown>[];
}
