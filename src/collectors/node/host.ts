/**
 * The per-node collector: runs commands.ts through any CommandRunner (local, netns, pod
 * exec) and turns the output into a HostState. Every part is a Collected<T>, so one failing
 * command never loses the others, and every command's output is kept in `raw` with secrets
 * removed.
 */
import { isIP } from 'node:net';
import { formatIssue, type ParseIssue, type ParseResult } from '../../parse/issue.js';
import { redactMessage, redactRawOutput } from '../../parse/redact/raw.js';
import { parseXfrmPolicy, parseXfrmState } from '../../parse/xfrm.js';
import type {
  BackendType,
  BridgePort,
  Collected,
  Firewall,
  FlanneldHealth,
  HostState,
  IptablesDump,
  NodeNetConf,
  PodInterface,
  RawCommand,
  Route,
  RouteDecision,
  WireguardDevice,
} from '../../snapshot/types.js';
import {
  BRIDGE_PORTS,
  cniCommand,
  DEFAULT_SUBNET_ENV,
  FDB,
  iptablesCommand,
  KERNEL,
  LINKS,
  NEIGHBOURS,
  NFT_JSON,
  NFT_RULESET,
  type NodeCommand,
  POD_INTERFACES,
  type RouteDecisionPlan,
  routeDecisionsCommand,
  routeGetCommand,
  routesCommand,
  rulesCommand,
  SYSCTLS,
  subnetEnvCommand,
  WIREGUARD,
  XFRM_POLICY,
  XFRM_STATE,
} from './commands.js';
import { netConfArgv, probeArgv, probeFlanneld, readNodeNetConf } from './node-files.js';
import type { CommandResult, CommandRunner } from './runner.js';
import { runSafely, type ScriptStep, scripted } from './script.js';

export interface CollectHostOptions {
  /** Keep xfrm keys in the parsed states (--decrypt-esp). Raw output is always redacted. */
  readonly keepKeys: boolean;
  /** Peers' public IPs, for `ip route get` (DirectRouting and host-gw on-link checks). */
  readonly peerAddresses: readonly string[];
  /**
   * Peer podCIDR addresses and this node's pod source for the batched `ip route get`; the
   * peer public IPs above are asked in the same batch. Without it each public IP is asked alone.
   */
  readonly routeDecisions?: RouteDecisionPlan;
  /** Per command; default 10 s. */
  readonly timeoutMs?: number;
  /** Default /run/flannel/subnet.env. */
  readonly subnetEnvPath?: string;
  /** Defaults /etc/cni/net.d and /opt/cni/bin. */
  readonly cniConfDir?: string;
  readonly cniBinDir?: string;
  /**
   * The configured backend, when known. `wg` runs only for wireguard (or an unknown backend):
   * elsewhere it is irrelevant, and a missing `wg` would only cost a helper pod.
   */
  readonly backend?: BackendType | null;
  /** The packaging's net-conf.json on the node (embedded flannel: no ConfigMap), read as `netConfFile`. */
  readonly netConfPath?: string | null;
  /** flanneld's --healthz-port, probed on the node as `flanneldHealth` (only where a flannel pod runs it). */
  readonly healthzPort?: number | null;
  /** Commands in flight at once; default 4. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

type Failure = Exclude<Collected<never>, { status: 'ok' }>;
type Outcome<T> = { readonly status: 'ok'; readonly data: T } | Failure;

export async function collectHost(
  node: string,
  nodeRunner: CommandRunner,
  opts: CollectHostOptions,
): Promise<HostState> {
  const raw: RawEntry[] = [];
  const limit = limiter(opts.concurrency ?? 4);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const wantWg =
    opts.backend === undefined || opts.backend === null || opts.backend === 'wireguard' || opts.backend === 'other';
  // Where the node has a shell, the whole plan runs there as one script (one exec session);
  // what follows reads its results as if each command had run on its own.
  const runner = nodeRunner.shell
    ? await scripted(nodeRunner, scriptSteps(opts, wantWg), timeoutMs, opts.signal)
    : nodeRunner;
  const run = <T>(cmd: NodeCommand<T>): Promise<Outcome<T>> =>
    limit(() => runCommand(cmd, runner, raw, timeoutMs, opts.signal));

  // Started in the order of Appendix B; `limit` keeps that order when slots free up.
  const kernel = run(KERNEL);
  const links = run(LINKS);
  const routes = Promise.all([run(routesCommand('inet')), run(routesCommand('inet6'))]).then(concat);
  const rules = Promise.all([run(rulesCommand('inet')), run(rulesCommand('inet6'))]).then(concat);
  const neighbours = run(NEIGHBOURS);
  const fdb = run(FDB);
  const subnetEnv = run(subnetEnvCommand(opts.subnetEnvPath ?? DEFAULT_SUBNET_ENV));
  const cni = run(cniCommand(opts.cniConfDir, opts.cniBinDir));
  const sysctls = run(SYSCTLS);
  const xfrm = collectXfrm(run, opts.keepKeys);
  const wireguard: Promise<Outcome<WireguardDevice[]>> = wantWg
    ? run(WIREGUARD)
    : Promise.resolve({ status: 'skipped', error: `not a wireguard cluster (backend ${opts.backend})` });
  const firewall = collectFirewall(run);
  const bridgePorts = run(BRIDGE_PORTS);
  const podInterfaces = run(POD_INTERFACES);
  const decisions = collectRouteDecisions(run, opts.routeDecisions, opts.peerAddresses);
  const routeGets = decisions.then((d) => d.routeGets);
  const signal = opts.signal;
  // The packaging's own file and flanneld's health endpoints, answered by the same script.
  const netConfFile: Promise<Collected<NodeNetConf | null> | null> = opts.netConfPath
    ? limit(() => readNodeNetConf(runner, opts.netConfPath!, timeoutMs, signal))
    : Promise.resolve(null);
  const flanneldHealth: Promise<Collected<FlanneldHealth> | null> =
    opts.healthzPort != null
      ? limit(() => probeFlanneld(runner, opts.healthzPort!, timeoutMs, signal))
      : Promise.resolve(null);

  const k = await kernel;
  const x = await xfrm;
  const state: HostState = {
    node,
    kernel: k.status === 'ok' && k.data !== '' ? k.data : null,
    via: runner.description,
    links: await links,
    routes: await routes,
    rules: await rules,
    neighbours: await neighbours,
    fdb: await fdb,
    xfrmStates: x.xfrmStates,
    xfrmPolicies: x.xfrmPolicies,
    wireguard: await wireguard,
    subnetEnv: await subnetEnv,
    cni: await cni,
    sysctls: await sysctls,
    firewall: await firewall,
    ...(await bridgePortsOf(bridgePorts)),
    ...(await podInterfacesOf(podInterfaces)),
    routeGets: await routeGets,
    ...((await decisions).routeDecisions ? { routeDecisions: (await decisions).routeDecisions! } : {}),
    ...(await packagingState(netConfFile, flanneldHealth)),
    raw: [],
  };
  // Raw entries arrive in completion order; list them in the order commands are declared.
  return { ...state, raw: raw.sort((a, b) => a.startedAt - b.startedAt).map(({ startedAt: _s, ...r }) => r) };
}

type RawEntry = RawCommand & { startedAt: number };

async function packagingState(
  netConf: Promise<Collected<NodeNetConf | null> | null>,
  health: Promise<Collected<FlanneldHealth> | null>,
): Promise<Pick<HostState, 'netConfFile' | 'flanneldHealth'>> {
  const [n, h] = await Promise.all([netConf, health]);
  return { ...(n ? { netConfFile: n } : {}), ...(h ? { flanneldHealth: h } : {}) };
}

/** What collectHost runs, in the order it starts them, as steps of the node script. */
function scriptSteps(opts: CollectHostOptions, wantWg: boolean): ScriptStep[] {
  const saves = [
    iptablesCommand('legacy', 'inet'),
    iptablesCommand('nft', 'inet'),
    iptablesCommand('legacy', 'inet6'),
    iptablesCommand('nft', 'inet6'),
  ];
  const addresses = opts.peerAddresses.every((a) => isIP(a) !== 0) ? [...new Set(opts.peerAddresses)] : [];
  const detect = { ifAllMissing: saves.map((c) => c.id) };
  const batch = routeBatch(opts.routeDecisions, opts.peerAddresses);
  // Where `ip -batch` works the batch answers every peer: one `ip route get` per peer would cost
  // N processes per node (N^2 over the cluster) for nothing. Busybox has no -batch: there they run.
  const routeGets = addresses.map(
    (a): ScriptStep => ({
      command: routeGetCommand(a) as NodeCommand<unknown>,
      ...(batch ? { unless: 'ip -force -batch /dev/null >/dev/null 2>&1' } : {}),
    }),
  );
  const extra = (id: string, argv: string[]): ScriptStep => ({
    command: { id, forms: [{ id: `${id}:text`, argv, parse: (t) => ({ value: t, errors: [] }) }], optional: true },
  });
  return [
    KERNEL,
    LINKS,
    routesCommand('inet'),
    routesCommand('inet6'),
    rulesCommand('inet'),
    rulesCommand('inet6'),
    NEIGHBOURS,
    FDB,
    subnetEnvCommand(opts.subnetEnvPath ?? DEFAULT_SUBNET_ENV),
    cniCommand(opts.cniConfDir, opts.cniBinDir),
    SYSCTLS,
    XFRM_STATE,
    XFRM_POLICY,
    ...(wantWg ? [WIREGUARD] : []),
    ...saves,
    NFT_RULESET,
    NFT_JSON,
    BRIDGE_PORTS,
    POD_INTERFACES,
    ...(batch ? [routeDecisionsCommand(batch)] : []),
  ]
    .map((command): ScriptStep => ({ command: command as NodeCommand<unknown> }))
    .concat(routeGets, [
      { command: iptablesCommand('detect', 'inet') as NodeCommand<unknown>, ...detect },
      { command: iptablesCommand('detect', 'inet6') as NodeCommand<unknown>, ...detect },
      ...(opts.netConfPath ? [extra('netConfFile', netConfArgv(opts.netConfPath))] : []),
      ...(opts.healthzPort != null ? [extra('flanneldHealth', probeArgv(opts.healthzPort))] : []),
    ]);
}

/** The one `ip -batch` a node is asked: the plan's podCIDR ends plus the peers' public IPs; null when any is not an IP. */
function routeBatch(plan: RouteDecisionPlan | undefined, peerAddresses: readonly string[]): RouteDecisionPlan | null {
  if (!plan) return null;
  const all = [
    ...(plan.podSource4 ? [plan.podSource4] : []),
    ...(plan.podSource6 ? [plan.podSource6] : []),
    ...peerAddresses,
    ...plan.dsts,
  ];
  if (all.some((a) => isIP(a) === 0)) return null;
  return { ...plan, dsts: [...new Set([...peerAddresses, ...plan.dsts])] };
}

/** Runs a command's forms in order until one gives a parsed result. */
async function runCommand<T>(
  cmd: NodeCommand<T>,
  runner: CommandRunner,
  raw: RawEntry[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Outcome<T>> {
  let fallbackReason: string | null = null;
  for (const [i, form] of cmd.forms.entries()) {
    const isLast = i === cmd.forms.length - 1;
    const startedAt = performance.now();
    const res = await runSafely(runner, form.argv, { timeoutMs, ...(signal ? { signal } : {}) });
    // Parsers see the output as printed (the xfrm parser digests keys); what is stored, and
    // any line quoted in an error, is redacted.
    const redact = (t: string): string => redactMessage(cmd.id, t);
    const entry: RawEntry = {
      id: form.id,
      argv: form.argv,
      exitCode: res.exitCode,
      stdout: redactRawOutput(cmd.id, res.stdout),
      stderr: redact(res.stderr),
      durationMs: res.durationMs,
      startedAt,
      ...(fallbackReason !== null ? { fallbackReason } : {}),
    };
    raw.push(entry);
    const where = form.argv.join(' ');

    if (res.timedOut)
      return { status: 'timeout', error: redact(`${where}: ${res.error ?? `timed out after ${timeoutMs} ms`}`) };
    // The node's deadline passed or the run was cancelled: no point trying other forms.
    if (signal?.aborted)
      return { status: 'timeout', error: `${where}: stopped (node deadline reached or run cancelled)` };
    if (isMissingTool(res)) return { status: 'unavailable', error: redact(`${where}: ${missingText(res)}`) };
    if (res.exitCode !== 0) {
      if (cmd.emptyWhen?.test(res.stderr)) return parsed(parseSafely(form.parse, ''), where, redact);
      const why = redact(
        `${where}: ${res.exitCode === null ? (res.error ?? 'did not run') : `exit ${res.exitCode}`}${firstLine(res.stderr)}`,
      );
      if (isLast) return { status: 'failed', error: why };
      fallbackReason = why;
      continue;
    }
    const result = parseSafely(form.parse, res.stdout);
    if (!isLast && ('crash' in result || result.errors.length > 0)) {
      fallbackReason = redact(
        `${where}: ${'crash' in result ? result.crash : formatIssue(result.errors[0] as ParseIssue)}`,
      );
      continue;
    }
    return parsed(result, where, redact);
  }
  return { status: 'failed', error: `${cmd.id}: no command form` };
}

/** A runner that throws (transport bug, exec error) becomes a result, so other parts carry on. */

/** Parsers do not throw by contract; this keeps a parser bug from losing the whole host. */
function parseSafely<T>(parse: (s: string) => ParseResult<T>, stdout: string): ParseResult<T> | { crash: string } {
  try {
    return parse(stdout);
  } catch (e) {
    return { crash: `parser error: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Any issue fails the part: a half-read route table would make analyzers report routes missing. */
function parsed<T>(
  result: ParseResult<T> | { crash: string },
  where: string,
  redact: (text: string) => string = (t) => redactMessage('', t),
): Outcome<T> {
  if ('crash' in result) return { status: 'failed', error: `${where}: ${result.crash}` };
  const [first, ...more] = result.errors;
  if (!first) return { status: 'ok', data: result.value };
  const extra = more.length > 0 ? ` (and ${more.length} more issue${more.length > 1 ? 's' : ''})` : '';
  return { status: 'failed', error: redact(`${where}: ${formatIssue(first)}${extra}`) };
}

/** "Not installed" as a local exec, `sh`, `ip netns exec` and kubectl exec report it. */
function isMissingTool(res: CommandResult): boolean {
  if (res.exitCode === 127) return true;
  const text = `${res.error ?? ''}\n${res.stderr}`;
  return (
    (res.exitCode === null && /command not found|ENOENT/.test(text)) ||
    /exec of "[^"]+" failed: No such file or directory|executable file not found in \$PATH|applet not found/.test(text)
  );
}

function missingText(res: CommandResult): string {
  return `not installed (${(res.error ?? res.stderr.split('\n').find((l) => l.trim() !== '') ?? `exit ${res.exitCode}`).trim()})`;
}

function firstLine(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.trim() !== '');
  return line ? `: ${line.trim()}` : '';
}

function concat<T>(parts: Outcome<readonly T[]>[]): Collected<readonly T[]> {
  const failed = parts.find((p) => p.status !== 'ok');
  if (failed) return failed;
  return { status: 'ok', data: parts.flatMap((p) => (p.status === 'ok' ? p.data : [])) };
}

async function collectXfrm(
  run: <T>(cmd: NodeCommand<T>) => Promise<Outcome<T>>,
  keepKeys: boolean,
): Promise<Pick<HostState, 'xfrmStates' | 'xfrmPolicies'>> {
  const [state, policy] = await Promise.all([run(XFRM_STATE), run(XFRM_POLICY)]);
  const where = (c: NodeCommand<string>): string => c.forms[0].argv.join(' ');
  const states = (text: string) => {
    const r = parseXfrmState(text, { keepKeys });
    return { value: r.states, errors: r.errors };
  };
  const policies = (text: string) => {
    const r = parseXfrmPolicy(text);
    return { value: r.policies, errors: r.errors };
  };
  return {
    xfrmStates:
      state.status !== 'ok'
        ? state
        : parsed(states(state.data), where(XFRM_STATE), (t) => redactMessage(XFRM_STATE.id, t)),
    xfrmPolicies: policy.status !== 'ok' ? policy : parsed(policies(policy.data), where(XFRM_POLICY)),
  };
}

/** Absent when the node has no `bridge` with JSON: the walk then does not judge bridge ports. */
async function bridgePortsOf(p: Promise<Outcome<BridgePort[]>>): Promise<{ bridgePorts?: Collected<BridgePort[]> }> {
  const r = await p;
  return r.status === 'unavailable' ? {} : { bridgePorts: r };
}

/** Left out where the pods' namespaces cannot be read (a kube-flannel pod mounts no /var/run/netns): not a failure. */
async function podInterfacesOf(
  p: Promise<Outcome<PodInterface[] | null>>,
): Promise<{ podInterfaces?: Collected<PodInterface[]> }> {
  const r = await p;
  if (r.status === 'unavailable' || (r.status === 'ok' && r.data === null)) return {};
  return { podInterfaces: r.status === 'ok' ? { status: 'ok', data: r.data! } : r };
}

async function collectFirewall(run: <T>(cmd: NodeCommand<T>) => Promise<Outcome<T>>): Promise<Collected<Firewall>> {
  const saves = await Promise.all([
    run(iptablesCommand('legacy', 'inet')),
    run(iptablesCommand('nft', 'inet')),
    run(iptablesCommand('legacy', 'inet6')),
    run(iptablesCommand('nft', 'inet6')),
  ]);
  const nft = await run(NFT_RULESET);
  const nftJson = await run(NFT_JSON);
  let results: Outcome<IptablesDump>[] = saves;
  // Before iptables 1.8 there is only `iptables-save` (always legacy); read the backend from it.
  if (saves.every((s) => s.status === 'unavailable')) {
    results = await Promise.all([run(iptablesCommand('detect', 'inet')), run(iptablesCommand('detect', 'inet6'))]);
  }
  for (const r of [...results, nft]) if (r.status === 'failed' || r.status === 'timeout') return r;
  if (results.every((r) => r.status === 'unavailable') && nft.status === 'unavailable') {
    return { status: 'unavailable', error: 'neither iptables-save nor nft is installed' };
  }
  return {
    status: 'ok',
    data: {
      // A backend without any table holds no rules (its kernel modules are not even loaded).
      iptables: results.flatMap((r) => (r.status === 'ok' && Object.keys(r.data.tables).length > 0 ? [r.data] : [])),
      nftRuleset: nft.status === 'ok' ? nft.data : null,
      ...(nftJson.status === 'ok' ? { nftJson: nftJson.data } : {}),
    },
  };
}

/**
 * One `ip -batch` for every peer address (public IPs and podCIDR ends): the kernel's answers,
 * and the public IPs' answers as routeGets. Where the batch cannot run (busybox ip) the
 * public IPs are asked one by one as before.
 */
async function collectRouteDecisions(
  run: <T>(cmd: NodeCommand<T>) => Promise<Outcome<T>>,
  plan: RouteDecisionPlan | undefined,
  peerAddresses: readonly string[],
): Promise<{
  routeDecisions?: Collected<readonly RouteDecision[]>;
  routeGets: Collected<Readonly<Record<string, Route | null>>>;
}> {
  if (!plan) return { routeGets: await collectRouteGets(run, peerAddresses) };
  const all = [
    ...(plan.podSource4 ? [plan.podSource4] : []),
    ...(plan.podSource6 ? [plan.podSource6] : []),
    ...peerAddresses,
    ...plan.dsts,
  ];
  const bad = all.filter((a) => isIP(a) === 0);
  if (bad.length > 0) {
    const error = `ip route get: not an IP address: ${bad.map((b) => JSON.stringify(b)).join(', ')}`;
    return { routeDecisions: { status: 'failed', error }, routeGets: { status: 'failed', error } };
  }
  const res = await run(routeDecisionsCommand(routeBatch(plan, peerAddresses)!));
  if (res.status !== 'ok') return { routeDecisions: res, routeGets: await collectRouteGets(run, peerAddresses) };
  const gets: Record<string, Route | null> = {};
  for (const a of new Set(peerAddresses)) {
    const d = res.data.find((x) => x.dst === a && x.as === 'node');
    gets[a] =
      d && d.error === null
        ? {
            family: a.includes(':') ? 'inet6' : 'inet',
            table: d.table ?? 'main',
            dst: `${a}/${a.includes(':') ? 128 : 32}`,
            type: d.type ?? 'unicast',
            gateway: d.gateway,
            dev: d.dev,
            protocol: null,
            scope: null,
            prefsrc: d.prefsrc,
            metric: null,
            flags: [],
          }
        : null;
  }
  return { routeDecisions: res, routeGets: { status: 'ok', data: gets } };
}

async function collectRouteGets(
  run: <T>(cmd: NodeCommand<T>) => Promise<Outcome<T>>,
  addresses: readonly string[],
): Promise<Collected<Readonly<Record<string, Route | null>>>> {
  const bad = addresses.filter((a) => isIP(a) === 0);
  if (bad.length > 0)
    return {
      status: 'failed',
      error: `ip route get: not an IP address: ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
    };
  const unique = [...new Set(addresses)];
  const outcomes = await Promise.all(unique.map((a) => run(routeGetCommand(a))));
  const out: Record<string, Route | null> = {};
  for (const [i, o] of outcomes.entries()) {
    if (o.status !== 'ok') return o;
    out[unique[i] as string] = o.data[0] ?? null;
  }
  return { status: 'ok', data: out };
}

/** At most `n` tasks at once, started in call order. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = (): void => {
    if (active >= n) return;
    const start = queue.shift();
    if (start) {
      active++;
      start();
    }
  };
  return (task) =>
    new Promise((resolve, reject) => {
      queue.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}
