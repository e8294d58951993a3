/** `kubectl flannel version`: this plugin's version and, when a cluster answers, the flannel it runs. */
import { type Command, Option } from 'commander';
import type { FlannelVersion } from '../collectors/api/flannel-version.js';
import { EXIT } from '../errors.js';
import { VERSION } from '../version.js';
import { parseDuration } from './cluster-options.js';
import { addExitCodes } from './exit-codes.js';

interface VersionOptions {
  client?: boolean;
  output: 'text' | 'json';
  kubeconfig?: string;
  context?: string;
  requestTimeout: number;
}

export interface VersionReport {
  readonly kubectlFlannel: { readonly version: string; readonly node: string; readonly platform: string };
  readonly flannel: FlannelVersion;
}

export function registerVersion(program: Command): Command {
  const cmd = program
    .command('version')
    .description(
      "Print kubectl-flannel's version and, when a cluster is reachable, flannel's (per packaging: kube-flannel, Canal, k3s)",
    )
    .option('--client', "only kubectl-flannel's version: do not contact the cluster")
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .addOption(
      new Option('--request-timeout <duration>', 'deadline for each API request')
        .default(5000, '5s')
        .argParser((v) => parseDuration(v, '--request-timeout')),
    );
  addExitCodes(cmd, [[EXIT.ok, 'the versions were printed (flannel\'s is "unknown" when no cluster answers)']]);
  return cmd.action(async (opts: VersionOptions) => {
    const report: VersionReport = {
      kubectlFlannel: {
        version: VERSION,
        node: process.versions.node,
        platform: `${process.platform}/${process.arch}`,
      },
      flannel: opts.client ? unknown('--client: the cluster was not asked') : await clusterFlannel(opts),
    };
    process.stdout.write(opts.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderVersion(report));
  });
}

function unknown(reason: string): FlannelVersion {
  return { found: false, version: 'unknown', reason };
}

async function clusterFlannel(opts: VersionOptions): Promise<FlannelVersion> {
  try {
    // Loaded on use: the Kubernetes client is most of the start-up time (bench/startup.sh).
    const [{ KubeClient }, { loadKubeConfig }, { detectFlannelVersion }] = await Promise.all([
      import('../kube/client.js'),
      import('../kube/kubeconfig.js'),
      import('../collectors/api/flannel-version.js'),
    ]);
    const cfg = loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context });
    return await detectFlannelVersion(new KubeClient(cfg.kc, opts.requestTimeout));
  } catch (e) {
    return unknown((e as Error).message);
  }
}

export function renderVersion(r: VersionReport): string {
  const k = r.kubectlFlannel;
  const f = r.flannel;
  let flannel: string;
  if (!f.found) flannel = `flannel unknown (${f.reason})`;
  else {
    const where = [f.daemonSet && `DaemonSet ${f.daemonSet}`, f.image && `image ${f.image}`, f.note]
      .filter(Boolean)
      .join(', ');
    flannel = `flannel ${f.version} (${f.packaging}${where ? `: ${where}` : ''})`;
  }
  return `kubectl-flannel ${k.version} (Node ${k.node}, ${k.platform})\n${flannel}\n`;
}
