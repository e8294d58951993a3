/**
 * Kubeconfig loading that behaves like kubectl (client-go's loading rules), not like
 * client-node's `loadFromDefault`:
 * - `--kubeconfig FILE` alone, and the file must exist;
 * - else every file in `KUBECONFIG` (missing ones skipped), merged so that the first file
 *   to define a cluster, user or context name wins, and the first `current-context` wins;
 *   duplicates are not an error;
 * - else `~/.kube/config`;
 * - else the in-cluster service account, when running in a pod;
 * - else a clear error, never client-node's silent `http://localhost:8080`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Cluster, type Context, KubeConfig, type User } from '@kubernetes/client-node';
import { EXIT, UserError } from '../errors.js';

export interface KubeConfigOptions {
  /** `--kubeconfig`. */
  readonly kubeconfig?: string | undefined;
  /** `--context`. */
  readonly context?: string | undefined;
}

export interface LoadedKubeConfig {
  readonly kc: KubeConfig;
  /** Where the config came from, for messages: file paths or "in-cluster service account". */
  readonly sources: readonly string[];
  readonly context: string;
  readonly server: string;
  /** The context's namespace, if it sets one. */
  readonly namespace: string | null;
}

export interface KubeConfigEnv {
  readonly KUBECONFIG?: string | undefined;
  readonly HOME?: string | undefined;
  readonly KUBERNETES_SERVICE_HOST?: string | undefined;
  readonly KUBERNETES_SERVICE_PORT?: string | undefined;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function readOne(file: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    // loadFromFile also resolves relative certificate paths against the file's directory.
    kc.loadFromFile(file);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new UserError(`kubeconfig ${file} cannot be read: ${msg}`, EXIT.usage);
  }
  return kc;
}

function firstWins<T extends { name: string }>(lists: readonly (readonly T[])[]): T[] {
  const seen = new Map<string, T>();
  for (const list of lists) for (const item of list) if (!seen.has(item.name)) seen.set(item.name, item);
  return [...seen.values()];
}

function existing(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Merges kubeconfig files with kubectl's precedence. */
function mergeFiles(files: readonly string[]): KubeConfig {
  const parts = files.map(readOne);
  const merged = new KubeConfig();
  merged.loadFromOptions({
    clusters: firstWins<Cluster>(parts.map((p) => p.getClusters())),
    users: firstWins<User>(parts.map((p) => p.getUsers())),
    contexts: firstWins<Context>(parts.map((p) => p.getContexts())),
    currentContext: parts.map((p) => p.getCurrentContext()).find((c) => !!c) ?? '',
  });
  return merged;
}

/** The merged kubeconfig before any context is chosen (also what --context completion lists). */
export function readKubeConfigFiles(
  opts: Pick<KubeConfigOptions, 'kubeconfig'>,
  env: KubeConfigEnv = process.env,
  inClusterTokenPath = SERVICE_ACCOUNT_TOKEN,
): { kc: KubeConfig; sources: string[] } {
  let kc: KubeConfig;
  let sources: string[];
  if (opts.kubeconfig !== undefined) {
    if (!existing(opts.kubeconfig)) throw new UserError(`--kubeconfig ${opts.kubeconfig}: no such file`, EXIT.usage);
    sources = [path.resolve(opts.kubeconfig)];
    kc = mergeFiles(sources);
  } else if (env.KUBECONFIG) {
    const listed = env.KUBECONFIG.split(path.delimiter).filter((f) => f !== '');
    sources = listed.filter(existing).map((f) => path.resolve(f));
    if (sources.length === 0) {
      throw new UserError(`KUBECONFIG lists ${listed.join(', ')}, but none of these files exists`, EXIT.cluster);
    }
    kc = mergeFiles(sources);
  } else {
    const home = env.HOME ?? os.homedir();
    const defaultFile = path.join(home, '.kube', 'config');
    if (existing(defaultFile)) {
      sources = [defaultFile];
      kc = mergeFiles(sources);
    } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existing(inClusterTokenPath)) {
      kc = new KubeConfig();
      kc.loadFromCluster();
      sources = ['in-cluster service account'];
    } else {
      throw new UserError(
        `no kubeconfig found: --kubeconfig not given, KUBECONFIG not set, ${defaultFile} does not exist, and not running in a pod. ` +
          'Pass --kubeconfig FILE or set KUBECONFIG.',
        EXIT.cluster,
      );
    }
  }

  return { kc, sources };
}

export function loadKubeConfig(
  opts: KubeConfigOptions,
  env: KubeConfigEnv = process.env,
  inClusterTokenPath = SERVICE_ACCOUNT_TOKEN,
): LoadedKubeConfig {
  const { kc, sources } = readKubeConfigFiles(opts, env, inClusterTokenPath);
  const where = sources.join(', ');
  const available = kc.getContexts().map((c) => c.name);
  const list = available.length ? available.join(', ') : 'none';
  let contextName: string;
  if (opts.context !== undefined) {
    if (!kc.getContextObject(opts.context)) {
      throw new UserError(`--context ${opts.context}: no such context in ${where} (available: ${list})`, EXIT.usage);
    }
    contextName = opts.context;
  } else {
    contextName = kc.getCurrentContext();
    if (!contextName)
      throw new UserError(`no current-context in ${where}; pass --context (available: ${list})`, EXIT.cluster);
    if (!kc.getContextObject(contextName)) {
      throw new UserError(
        `current-context ${contextName} is not defined in ${where} (available: ${list})`,
        EXIT.cluster,
      );
    }
  }
  kc.setCurrentContext(contextName);
  const ctx = kc.getContextObject(contextName)!;
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new UserError(
      `context ${contextName} refers to cluster ${ctx.cluster}, which is not defined in ${where}`,
      EXIT.cluster,
    );
  if (ctx.user && !kc.getUser(ctx.user)) {
    throw new UserError(
      `context ${contextName} refers to user ${ctx.user}, which is not defined in ${where}`,
      EXIT.cluster,
    );
  }
  return { kc, sources, context: contextName, server: cluster.server, namespace: ctx.namespace ?? null };
}
