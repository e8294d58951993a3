/**
 * A flannel vxlan node built from real kernel objects in fresh network namespaces:
 * `node` (eth0 192.168.56.11, flannel.1 with a /32, per-peer neigh/fdb/onlink route for
 * 10.244.2.0/24, cni0 10.244.1.1/24 with a pod veth, flannel's nat rules in iptables-nft),
 * `peer` (the other end of eth0, 192.168.56.12) and `pod`. Names are unique per lab.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const VTEP_MAC = '8e:1c:6b:0d:49:31';
export const PEER_VTEP_MAC = '6a:2b:0c:11:22:33';

export interface Lab {
  readonly node: string;
  readonly peer: string;
  readonly pod: string;
  destroy(): void;
}

export function canBuildLab(): boolean {
  return process.getuid?.() === 0;
}

function sh(...argv: string[]): void {
  execFileSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * The kernel reports carrier changes asynchronously (linkwatch), so a fresh bridge flips its
 * routes' `linkdown` flag a moment after setup. Waiting for LOWER_UP keeps two reads equal.
 */
function waitForCarrier(ns: string, dev: string): void {
  for (let i = 0; i < 50; i++) {
    const out = execFileSync('ip', ['-n', ns, '-j', 'link', 'show', dev], { encoding: 'utf8' });
    const routes = execFileSync('ip', ['-n', ns, 'route', 'show', 'dev', dev], { encoding: 'utf8' });
    if (out.includes('"LOWER_UP"') && !routes.includes('linkdown')) return;
    execFileSync('sleep', ['0.1']);
  }
  throw new Error(`${dev} in ${ns} got no carrier`);
}

export function buildVxlanLab(): Lab {
  const p = `kfp${randomBytes(3).toString('hex')}`;
  const lab = { node: `${p}node`, peer: `${p}peer`, pod: `${p}pod` };
  const destroy = (): void => {
    for (const ns of [lab.node, lab.peer, lab.pod]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // already gone (a test may delete it on purpose)
      }
    }
  };
  try {
    for (const ns of [lab.node, lab.peer, lab.pod]) sh('ip', 'netns', 'add', ns);
    const n = (...argv: string[]): void => sh('ip', 'netns', 'exec', lab.node, ...argv);
    sh('ip', 'link', 'add', 'eth0', 'netns', lab.node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lab.peer);
    n('ip', 'link', 'set', 'lo', 'up');
    n('ip', 'addr', 'add', '192.168.56.11/24', 'dev', 'eth0');
    n('ip', 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', lab.peer, 'addr', 'add', '192.168.56.12/24', 'dev', 'eth0');
    sh('ip', '-n', lab.peer, 'link', 'set', 'eth0', 'up');
    n(
      'ip',
      'link',
      'add',
      'flannel.1',
      'address',
      VTEP_MAC,
      'mtu',
      '1450',
      'type',
      'vxlan',
      'id',
      '1',
      'local',
      '192.168.56.11',
      'dev',
      'eth0',
      'dstport',
      '8472',
      'nolearning',
    );
    n('ip', 'addr', 'add', '10.244.1.0/32', 'dev', 'flannel.1');
    n('ip', 'link', 'set', 'flannel.1', 'up');
    n('ip', 'neigh', 'add', '10.244.2.0', 'lladdr', PEER_VTEP_MAC, 'dev', 'flannel.1', 'nud', 'permanent');
    n('bridge', 'fdb', 'append', PEER_VTEP_MAC, 'dev', 'flannel.1', 'dst', '192.168.56.12', 'self', 'permanent');
    n('ip', 'route', 'add', '10.244.2.0/24', 'via', '10.244.2.0', 'dev', 'flannel.1', 'onlink');
    n('ip', 'link', 'add', 'cni0', 'type', 'bridge');
    n('ip', 'addr', 'add', '10.244.1.1/24', 'dev', 'cni0');
    n('ip', 'link', 'set', 'cni0', 'up');
    n('ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lab.pod);
    n('ip', 'link', 'set', 'veth0', 'master', 'cni0', 'up');
    sh('ip', '-n', lab.pod, 'addr', 'add', '10.244.1.2/24', 'dev', 'eth0');
    sh('ip', '-n', lab.pod, 'link', 'set', 'eth0', 'up');
    waitForCarrier(lab.node, 'cni0');
    n('iptables-nft', '-t', 'nat', '-N', 'FLANNEL-POSTRTG');
    n(
      'iptables-nft',
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-m',
      'comment',
      '--comment',
      'flanneld masq',
      '-j',
      'FLANNEL-POSTRTG',
    );
    n(
      'iptables-nft',
      '-t',
      'nat',
      '-A',
      'FLANNEL-POSTRTG',
      '-s',
      '10.244.1.0/24',
      '-d',
      '10.244.0.0/16',
      '-m',
      'comment',
      '--comment',
      'flanneld masq',
      '-j',
      'RETURN',
    );
  } catch (e) {
    destroy();
    throw e;
  }
  return { ...lab, destroy };
}
