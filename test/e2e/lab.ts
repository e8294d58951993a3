/**
 * Access to the running kubectl-flannel lab (lab/lab) for the end-to-end tests: its kubeconfig, nodes and pods,
 * ping between pod network namespaces, fault injection, and `kubectl flannel` run through kubectl's own plugin
 * lookup. The lab itself is started by lab/ci-stage.sh (or by hand with `lab/lab up`).
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/test/e2e/lab.js. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const labScript = path.join(repoRoot, 'lab', 'lab');

export interface Lab {
  kubeconfig: string;
  /** Directories holding kubectl and the other lab binaries, PATH-style. */
  binPath: string;
  nodes: string[];
  backend: string;
  /** How flannel is packaged: kube-flannel (DaemonSet) or k3s (embedded, no flannel pods). */
  flavor: 'kube-flannel' | 'k3s';
  /** flanneld in nftables mode (EnableNFTables). */
  nftables: boolean;
  /** Pod networking: IPv4, dual-stack or IPv6-only (flanneld's EnableIPv4/EnableIPv6, the nodes' podCIDRs). */
  ipFamily: 'ipv4' | 'dual' | 'ipv6';
  podNamespace: string;
  /** the underlay bridge in the root netns, where inter-node traffic can be captured */
  bridge: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) return { code: -1, stdout: r.stdout ?? '', stderr: `${r.error.message}\n${r.stderr ?? ''}` };
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function labCmd(args: string[], timeoutMs = 180_000): RunResult {
  return run(labScript, args, process.env, timeoutMs);
}

/** The lab as `lab/lab env` describes it, or undefined (with the reason) when it is not up. */
export function currentLab(): { lab?: Lab; reason?: string } {
  const r = labCmd(['env']);
  if (r.code !== 0) return { reason: (r.stderr || r.stdout).trim() || `lab/lab env exited ${r.code}` };
  const vars = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim());
    if (m?.[1] && m[3] !== undefined) vars.set(m[1], m[3]);
  }
  const need = (k: string): string => {
    const v = vars.get(k);
    if (v === undefined) throw new Error(`lab/lab env printed no ${k}`);
    return v;
  };
  return {
    lab: {
      kubeconfig: need('KUBECONFIG'),
      binPath: need('LAB_PATH'),
      nodes: need('LAB_NODES').split(/\s+/).filter(Boolean),
      backend: need('LAB_BACKEND'),
      flavor: vars.get('LAB_FLAVOR') === 'k3s' ? 'k3s' : 'kube-flannel',
      nftables: vars.get('LAB_NFTABLES') === '1',
      ipFamily: ((f) => (f === 'dual' || f === 'ipv6' ? f : 'ipv4'))(vars.get('LAB_IP_FAMILY')),
      podNamespace: need('LAB_POD_NAMESPACE'),
      bridge: need('LAB_BRIDGE'),
    },
  };
}

/**
 * The lab, or undefined after marking the test skipped. The tests inject faults, so they touch a running lab only
 * when asked: KFL_LAB=1 runs them if a lab is up; KFL_LAB_REQUIRED=1 (set by lab/ci-stage.sh) fails them when none
 * is, so CI cannot pass by skipping. LAB_INSTANCE selects the lab instance, as for lab/lab.
 */
export function requireLab(t: TestContext): Lab | undefined {
  if (process.env.KFL_LAB !== '1' && process.env.KFL_LAB_REQUIRED !== '1') {
    t.skip('end-to-end lab tests run only with KFL_LAB=1 (lab/lab up first) or through lab/ci-stage.sh');
    return undefined;
  }
  const { lab, reason } = currentLab();
  if (lab) return lab;
  if (process.env.KFL_LAB_REQUIRED === '1')
    throw new Error(`the lab is required (KFL_LAB_REQUIRED=1) but not up: ${reason}`);
  t.skip(`lab not up (${reason}); start it with lab/lab up`);
  return undefined;
}

/** Environment in which `kubectl` is the lab's kubectl and `kubectl-flannel` is this repository's bin/. */
export function labEnv(lab: Lab): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: lab.kubeconfig,
    PATH: `${path.join(repoRoot, 'bin')}:${lab.binPath}:${process.env.PATH ?? ''}`,
    NO_COLOR: '1',
  };
}

export function kubectl(lab: Lab, args: string[], timeoutMs = 60_000): RunResult {
  return run('kubectl', args, labEnv(lab), timeoutMs);
}

export function kubectlJSON<T>(lab: Lab, args: string[]): T {
  const r = kubectl(lab, [...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface LabPod {
  name: string;
  node: string;
  ip: string;
  /** the pod's network namespace, wired by CNI ADD */
  netns: string;
  /** the pod's IPv6 address on a dual-stack lab, else '' */
  ip6: string;
}

export function testPods(lab: Lab): LabPod[] {
  const list = kubectlJSON<{
    items: {
      metadata: { name: string; annotations?: Record<string, string> };
      spec: { nodeName: string };
      status: { podIP?: string };
    }[];
  }>(lab, ['-n', lab.podNamespace, 'get', 'pods']);
  return list.items.map((p) => ({
    name: p.metadata.name,
    node: p.spec.nodeName,
    ip: p.status.podIP ?? '',
    netns: p.metadata.annotations?.['lab.flannel.dev/netns'] ?? '',
    ip6: p.metadata.annotations?.['lab.flannel.dev/pod-ip6'] ?? '',
  }));
}

export function podOn(lab: Lab, node: string): LabPod {
  const pod = testPods(lab).find((p) => p.node === node);
  if (!pod) throw new Error(`no test pod on ${node}`);
  return pod;
}

/** ping from one test pod's netns (or a lab node's, named after it) to another pod's IP; true when every echo was answered. */
export function ping(
  from: Pick<LabPod, 'netns'>,
  to: LabPod,
  opts: { size?: number; dontFragment?: boolean; count?: number; ipv6?: boolean } = {},
): boolean {
  const args = ['netns', 'exec', from.netns, 'ping', '-n', '-q', '-c', String(opts.count ?? 2), '-i', '0.2', '-W', '1'];
  if (opts.ipv6) args.push('-6');
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.dontFragment) args.push('-M', 'do');
  args.push(opts.ipv6 ? to.ip6 : to.ip);
  return run('ip', args, process.env, 30_000).code === 0;
}

/**
 * ping as ping() does, without blocking: the pings of every pair run at once, so a pass over all pairs costs one
 * echo timeout, not one per failing pair. `from` is a test pod, or a lab node (its netns is named after it).
 */
export function pingAsync(
  from: Pick<LabPod, 'netns'>,
  to: LabPod,
  opts: { size?: number; dontFragment?: boolean; count?: number; ipv6?: boolean } = {},
): Promise<boolean> {
  const args = ['netns', 'exec', from.netns, 'ping', '-n', '-q', '-c', String(opts.count ?? 2), '-i', '0.2', '-W', '1'];
  if (opts.ipv6) args.push('-6');
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.dontFragment) args.push('-M', 'do');
  args.push(opts.ipv6 ? to.ip6 : to.ip);
  return new Promise((resolve) => {
    const p = spawn('ip', args, { stdio: 'ignore', timeout: 30_000 });
    p.on('error', () => resolve(false));
    p.on('close', (code) => resolve(code === 0));
  });
}

/** Polls cond every 500 ms until it holds or timeoutMs passes; returns whether it held. */
export async function eventually(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs a command inside a lab node's network namespace. */
export function inNode(node: string, cmd: string[]): RunResult {
  return run('ip', ['netns', 'exec', node, ...cmd], process.env, 30_000);
}

export interface DoctorFinding {
  check: string;
  severity: string;
  node: string | null;
  peer?: string | null;
  message: string;
  evidence: string[];
  /** "On <node>: <command> (…)" or prose */
  fix: string;
}

/**
 * `kubectl flannel doctor -o json` through kubectl's plugin mechanism. Any exit other than 0 (clean), 1 (warnings)
 * or 2 (errors) throws: a usage error (3), an unreachable cluster (4) or an internal error (5) in the lab is a
 * failure of the tool, never a skipped test.
 */
export function doctor(lab: Lab, save?: string): { findings: DoctorFinding[]; raw: RunResult } {
  const raw = kubectl(lab, ['flannel', 'doctor', '-o', 'json', ...(save ? ['--save', save] : [])], 180_000);
  if (raw.code > 2 || raw.code < 0)
    throw new Error(`doctor exited ${raw.code}: ${raw.stderr.slice(0, 800)} ${raw.stdout.slice(0, 300)}`);
  let parsed: { findings?: DoctorFinding[] };
  try {
    parsed = JSON.parse(raw.stdout) as { findings?: DoctorFinding[] };
  } catch {
    throw new Error(
      `doctor -o json printed no JSON (exit ${raw.code}): ${raw.stdout.slice(0, 500)} ${raw.stderr.slice(0, 500)}`,
    );
  }
  if (!Array.isArray(parsed.findings))
    throw new Error(`doctor -o json has no findings array: ${raw.stdout.slice(0, 500)}`);
  return { findings: parsed.findings, raw };
}
