/** `kubectl flannel cleanup`: delete every helper pod any run left behind (found by label). */
import { type Command, Option } from 'commander';
import { deleteLeftoverHelperPods, HELPER_SELECTOR } from '../collectors/node/helper-pods.js';
import { EXIT, UserError } from '../errors.js';
import { KubeAccessError } from '../kube/errors.js';
import { parseDuration } from './cluster-options.js';
import { addExitCodes, CLUSTER_UNREACHABLE } from './exit-codes.js';

interface CleanupOptions {
  kubeconfig?: string;
  context?: string;
  requestTimeout: number;
  namespace?: string;
}

export function registerCleanup(program: Command): Command {
  const cmd = program.command('cleanup');
  addExitCodes(cmd, [[EXIT.ok, 'every leftover helper pod was deleted (or there was none)'], CLUSTER_UNREACHABLE]);
  return cmd
    .description('Delete helper pods left behind by an interrupted or killed run')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .addOption(
      new Option('--request-timeout <duration>', 'deadline for each API request (0 = none)')
        .default(30_000, '30s')
        .argParser((v) => parseDuration(v, '--request-timeout')),
    )
    .option('-n, --namespace <ns>', 'only this namespace (default: all namespaces)')
    .addHelpText(
      'after',
      `
Helper pods are found by the labels ${HELPER_SELECTOR}.
It also removes the helper pods of a doctor run still in progress elsewhere (that run then reports
those nodes as failed). They also stop by themselves after --helper-deadline (activeDeadlineSeconds); this
removes them at once, e.g. after kubectl-flannel was killed with SIGKILL.`,
    )
    .action(async (opts: CleanupOptions) => {
      // Loaded on use, not at start: the Kubernetes client and ink are most of the start-up time (bench/startup.sh).
      const [{ KubeClient }, { loadKubeConfig }] = await Promise.all([
        import('../kube/client.js'),
        import('../kube/kubeconfig.js'),
      ]);
      const cfg = loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context });
      const client = new KubeClient(cfg.kc, opts.requestTimeout);
      let result: Awaited<ReturnType<typeof deleteLeftoverHelperPods>>;
      try {
        result = await deleteLeftoverHelperPods(client, opts.namespace ? { namespace: opts.namespace } : {});
      } catch (e) {
        if (e instanceof KubeAccessError) throw new UserError(e.message, EXIT.cluster);
        throw e;
      }
      for (const p of result.deleted)
        process.stdout.write(`deleted pod ${p.namespace}/${p.name}${p.node ? ` (node ${p.node})` : ''}\n`);
      if (result.deleted.length === 0 && result.failed.length === 0) process.stdout.write('no helper pods found\n');
      for (const f of result.failed)
        process.stderr.write(`kubectl-flannel: could not delete pod ${f.pod.namespace}/${f.pod.name}: ${f.error}\n`);
      if (result.failed.length) process.exitCode = EXIT.cluster;
    });
}
