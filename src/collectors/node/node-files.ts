/**
 * What cluster collection reads on a node beyond the kernel tables, because the packaging puts it
 * there: embedded flannel's net-conf.json (k3s writes it to a file on every node; there is no
 * ConfigMap) and flanneld's /healthz and /readyz (served on the node with --healthz-port).
 *
 * Both go through the node's CommandRunner like every other command, and both are Collected<T>:
 * a node where they fail keeps the rest of its state.
 */

import { parseNetConf } from '../../parse/netconf.js';
import { redactNetConf } from '../../parse/redact/netconf.js';
import type {
  Collected,
  FlanneldHealth,
  FlannelInstall,
  HostState,
  HttpProbe,
  NetConf,
  NodeNetConf,
} from '../../snapshot/types.js';
import { flagValue } from '../api/cluster.js';
import type { CommandRunner } from './runner.js';

const ABSENT = '#absent';

/** net-conf.json from the node; the path goes in as $1, never into the script. */
export function netConfArgv(path: string): string[] {
  return ['sh', '-c', `if [ -e "$1" ]; then cat "$1"; else echo "${ABSENT} $1"; fi`, 'sh', path];
}

export async function readNodeNetConf(
  runner: CommandRunner,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Collected<NodeNetConf | null>> {
  try {
    const r = await runner.run(netConfArgv(path), { timeoutMs, ...(signal ? { signal } : {}) });
    if (r.timedOut) return { status: 'timeout', error: `cat ${path}: timed out after ${timeoutMs} ms` };
    if (r.exitCode !== 0)
      return { status: 'failed', error: `cat ${path}: ${r.error ?? `exit ${r.exitCode}`} ${r.stderr.trim()}`.trim() };
    if (r.stdout.startsWith(ABSENT)) return { status: 'ok', data: null };
    const parsed = parseNetConf(r.stdout);
    return {
      status: 'ok',
      data: {
        path,
        raw: redactNetConf(r.stdout).text,
        netConf: parsed.ok ? parsed.netConf : null,
        error: parsed.ok ? null : parsed.error,
      },
    };
  } catch (e) {
    return { status: 'failed', error: `cat ${path}: ${(e as Error).message}` };
  }
}

/** The port flanneld serves /healthz on (--healthz-port, default 0 = off), or null. */
export function healthzPort(args: readonly string[]): number | null {
  const v = flagValue(args, 'healthz-port');
  const n = v === undefined ? 0 : Number(v);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : null;
}

/**
 * One line per path, "<path> <code>" (000 when nothing answered). curl where the image has it, else
 * busybox wget (the flannel image is Alpine), whose -S prints the status line even for a 503.
 * A SIGSTOPped flanneld accepts the TCP connection in the kernel and never answers: the 2 s limit
 * turns that into 000, the same as a dead one.
 */
const PROBE = [
  'for p in healthz readyz; do u="http://127.0.0.1:$1/$p";',
  '  if command -v curl >/dev/null 2>&1; then c=$(curl -s -o /dev/null -w "%{http_code}" --max-time 2 "$u" 2>&1);',
  '  elif command -v wget >/dev/null 2>&1; then c=$(wget -q -T 2 -O /dev/null -S "$u" 2>&1 | sed -n "s/^ *HTTP\\/[0-9.]* \\([0-9][0-9][0-9]\\).*/\\1/p" | tail -n 1);',
  '  else echo "#no-http-client"; exit 0; fi',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a JS template
  '  echo "$p ${c:-000}"; done',
].join('\n');

export function parseProbe(stdout: string): { healthz: HttpProbe; readyz: HttpProbe } | null {
  if (stdout.includes('#no-http-client')) return null;
  const get = (p: string): HttpProbe => {
    const m = new RegExp(`^${p} (\\d{3})`, 'm').exec(stdout);
    const code = m ? Number(m[1]) : 0;
    return code === 0
      ? { code: null, detail: 'no answer (connection refused or timed out after 2 s)' }
      : { code, detail: `HTTP ${code}` };
  };
  return { healthz: get('healthz'), readyz: get('readyz') };
}

export function probeArgv(port: number): string[] {
  return ['sh', '-c', PROBE, 'sh', String(port)];
}

export async function probeFlanneld(
  runner: CommandRunner,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Collected<FlanneldHealth>> {
  try {
    const r = await runner.run(probeArgv(port), {
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
    if (r.timedOut) return { status: 'timeout', error: `flanneld health probe: timed out after ${timeoutMs} ms` };
    if (r.exitCode !== 0)
      return { status: 'failed', error: `flanneld health probe: ${r.error ?? `exit ${r.exitCode}`}` };
    const p = parseProbe(r.stdout);
    if (!p) return { status: 'unavailable', error: 'neither curl nor wget on the node image' };
    return { status: 'ok', data: { port, ...p } };
  } catch (e) {
    return { status: 'failed', error: `flanneld health probe: ${(e as Error).message}` };
  }
}

/**
 * The install's net-conf.json for embedded flannel: what the nodes' files say. flanneld on each node
 * reads its own file, so the analysis uses the text most nodes hold; nodes that differ are named in
 * the error list by the caller (see netConfDisagreement).
 */
export function installFromNodeFiles(
  install: FlannelInstall,
  hosts: Readonly<Record<string, Collected<HostState>>>,
  path: string,
): { install: FlannelInstall; differing: string[] } {
  const byText = new Map<string, { file: NodeNetConf; nodes: string[] }>();
  for (const [node, h] of Object.entries(hosts)) {
    const f = h.status === 'ok' ? h.data.netConfFile : undefined;
    if (f?.status !== 'ok' || f.data === null) continue;
    const e = byText.get(f.data.raw);
    if (e) e.nodes.push(node);
    else byText.set(f.data.raw, { file: f.data, nodes: [node] });
  }
  const ranked = [...byText.values()].sort(
    (a, b) => b.nodes.length - a.nodes.length || a.file.raw.localeCompare(b.file.raw),
  );
  const top = ranked[0];
  if (!top) {
    return {
      install: { ...install, netConf: { status: 'failed', error: `${path} could not be read on any node` } },
      differing: [],
    };
  }
  const netConf: Collected<NetConf> = top.file.netConf
    ? { status: 'ok', data: top.file.netConf }
    : { status: 'failed', error: `${path} on ${top.nodes.join(', ')}: ${top.file.error}` };
  return {
    install: { ...install, netConf, netConfRaw: top.file.raw },
    differing: ranked
      .slice(1)
      .flatMap((r) => r.nodes)
      .sort(),
  };
}
