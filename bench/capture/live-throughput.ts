/**
 * Benchmark: live capture throughput through the exec stream, against what a user would otherwise run
 * (`kubectl exec FLANNEL_POD -- tcpdump -U -w - > file`), on the lab.
 *
 * A paced UDP sender (Python, in a lab node's network namespace) sends N packets to 127.0.0.1 at a fixed rate;
 * both captures listen on that node's `lo` with the same filter. A run is lossless when the file holds all N
 * packets. Printed per payload size and rate: packets in the file, kernel drops, MB/s.
 *
 *   npx tsc -p . && LAB_INSTANCE=3 node_modules/.bin/node dist/bench/capture/live-throughput.js [--rates 10000,50000]
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureReader } from '../../src/capture/pcap-reader.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const inst = process.env.LAB_INSTANCE ?? '0';
const sfx = inst === '0' ? '' : inst;
const kubeconfig = process.env.KF_LAB_KUBECONFIG ?? `/var/run/kubectl-flannel-lab${sfx ? `-${sfx}` : ''}/kubeconfig`;
const node = `kfl${sfx}-node1`;
const kubectlBin = '/var/cache/kubectl-flannel-lab/k8s-1.36.3/bin/kubectl';
if (!existsSync(kubeconfig)) {
  process.stdout.write(`lab not up (${kubeconfig} missing): nothing measured\n`);
  process.exit(0);
}
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const rates = arg('--rates', '10000,25000,50000,100000').split(',').map(Number);
const sizes = arg('--sizes', '64,1400').split(',').map(Number);
const seconds = Number(arg('--seconds', '2'));
const env = { ...process.env, KUBECONFIG: kubeconfig, NO_COLOR: '1' };
const dir = mkdtempSync(join(tmpdir(), 'kf-bench-cap-'));
const PORT = 9999;

const BLAST = `
import socket, sys, time
n, size, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b'x' * size
t0 = time.monotonic()
sent = 0
while sent < n:
    due = int((time.monotonic() - t0) * rate) + 1
    while sent < min(due, n):
        s.sendto(payload, ('127.0.0.1', ${PORT}))
        sent += 1
    if sent < due: continue
    time.sleep(0.0005)
print(time.monotonic() - t0)
`;

function blast(n: number, size: number, rate: number): number {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', node, '/usr/bin/python3', '-c', BLAST, String(n), String(size), String(rate)],
    {
      encoding: 'utf8',
    },
  );
  return Number(r.stdout.trim());
}

async function countPackets(file: string): Promise<number> {
  let n = 0;
  const data = readFileSync(file);
  if (data.length === 0) return 0;
  for await (const b of new CaptureReader(
    (async function* () {
      yield data;
    })(),
    file,
  ))
    n += b.length;
  return n;
}

async function waitFor(stderr: () => string, re: RegExp, child: ReturnType<typeof spawn>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!re.test(stderr())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Run {
  readonly packets: number;
  readonly dropped: number | null;
  readonly sendSeconds: number;
}

async function ours(n: number, size: number, rate: number): Promise<Run> {
  const out = join(dir, 'ours.pcapng');
  const child = spawn(
    join(root, 'bin/kubectl-flannel'),
    [
      'capture',
      '--node',
      node,
      '-i',
      'lo',
      '-f',
      `udp port ${PORT}`,
      '--count',
      String(n),
      '--max-size',
      '4G',
      '-w',
      out,
      '--duration',
      '60s',
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => err, /capturing on/, child);
  const sendSeconds = blast(n, size, rate);
  const timer = setTimeout(() => child.kill('SIGINT'), 3000);
  await once(child, 'exit');
  clearTimeout(timer);
  const dropped = /(\d+) dropped by kernel/.exec(err);
  return { packets: await countPackets(out), dropped: dropped ? Number(dropped[1]) : null, sendSeconds };
}

async function baseline(n: number, size: number, rate: number): Promise<Run> {
  const pods = spawnSync(
    kubectlBin,
    ['-n', 'kube-flannel', 'get', 'pods', '--field-selector', `spec.nodeName=${node}`, '-o', 'name'],
    { env, encoding: 'utf8' },
  ).stdout.trim();
  const pod = pods.split('\n')[0]!.replace('pod/', '');
  const out = join(dir, 'baseline.pcap');
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(out, 'w');
  // `timeout` so a lossy run does not leave tcpdump waiting for its count on the node.
  const child = spawn(
    kubectlBin,
    [
      '-n',
      'kube-flannel',
      'exec',
      pod,
      '--',
      'timeout',
      '-s',
      'INT',
      '15',
      'tcpdump',
      '-U',
      '-n',
      '-i',
      'lo',
      '-c',
      String(n),
      '-w',
      '-',
      `udp port ${PORT}`,
    ],
    { env, stdio: ['ignore', fd, 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => err, /listening on/, child);
  const sendSeconds = blast(n, size, rate);
  await once(child, 'exit');
  closeSync(fd);
  const dropped = /(\d+) packets dropped by kernel/.exec(err);
  return { packets: await countPackets(out), dropped: dropped ? Number(dropped[1]) : null, sendSeconds };
}

const mb = (pkts: number, size: number, s: number) => ((pkts * (size + 42)) / s / 1e6).toFixed(1);
process.stdout.write(`node ${node} lo, UDP to 127.0.0.1:${PORT}, ${seconds} s per run; frame = payload + 42 bytes\n`);
process.stdout.write('payload  rate/s   sent in   kubectl-flannel capture              kubectl exec tcpdump -w -\n');
for (const size of sizes) {
  for (const rate of rates) {
    const n = rate * seconds;
    const a = await ours(n, size, rate);
    const b = await baseline(n, size, rate);
    const cell = (r: Run) =>
      `${String(r.packets).padStart(7)}/${n} ${r.packets === n ? 'lossless' : 'LOSS    '} drops ${String(r.dropped ?? '?').padStart(5)} ${mb(r.packets, size, r.sendSeconds).padStart(6)} MB/s`;
    process.stdout.write(
      `${String(size).padStart(7)} ${String(rate).padStart(7)} ${a.sendSeconds.toFixed(2).padStart(7)} s   ${cell(a)}   ${cell(b)}\n`,
    );
  }
}
rmSync(dir, { recursive: true, force: true });
