/**
 * Where `capture --decrypt-esp --threads N` spends its CPU, thread by thread, against `--threads 0`, interleaved.
 * Not a test: prints figures. Each thread's CPU time (utime + stime from /proc/PID/task/TID/stat, polled every
 * 5 ms; the last reading before a thread ends, so up to 5 ms short) shows what a machine with a core per thread
 * would wait for: the busiest thread. On a shared machine the wall time mostly shows the other jobs.
 *
 *   node dist/bench/esp/threads.js --exe FILE --pcap FILE --xfrm-state FILE [--runs 5] [--threads 2]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';

const arg = (name: string, dflt?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0) return process.argv[i + 1]!;
  if (dflt === undefined) throw new Error(`--${name} is required`);
  return dflt;
};
const EXE = arg('exe');
const PCAP = arg('pcap');
const STATE = arg('xfrm-state');
const RUNS = Number(arg('runs', '5'));
const THREADS = Number(arg('threads', '2'));
const TICK = 100; // USER_HZ: /proc reports CPU time in 1/100 s

interface Run {
  wall: number;
  threads: number[];
}

/** utime + stime of every thread of `pid`, in seconds, by thread id. */
function threadCpu(pid: number, into: Map<string, number>): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const tid of tids) {
    try {
      // The command name may hold spaces: fields are counted after its closing parenthesis.
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      into.set(tid, (Number(rest[11]) + Number(rest[12])) / TICK);
    } catch {
      // The thread ended between readdir and read: its last reading stays.
    }
  }
}

function run(threads: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const args = ['capture', '-r', PCAP, '--xfrm-state', STATE, '--decrypt-esp', '--threads', String(threads)];
    const child = spawn(EXE, [...args, '-w', '/dev/null'], { stdio: ['ignore', 'ignore', 'ignore'] });
    const cpu = new Map<string, number>();
    const poll = setInterval(() => threadCpu(child.pid!, cpu), 5);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      if (code !== 0) return reject(new Error(`${EXE} exited ${code}`));
      resolve({ wall: Number(process.hrtime.bigint() - t0) / 1e9, threads: [...cpu.values()] });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: Record<string, Run[]> = { single: [], parallel: [] };
for (let i = 0; i < RUNS; i++) {
  rows.single!.push(await run(0));
  rows.parallel!.push(await run(THREADS));
}
const mb = statSync(PCAP).size / 1e6;
console.log(
  `input ${mb.toFixed(1)} MB; ${RUNS} runs each, interleaved; load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} at the end`,
);
for (const [name, runs] of Object.entries(rows)) {
  const total = runs.map((r) => r.threads.reduce((a, b) => a + b, 0));
  const busiest = runs.map((r) => Math.max(...r.threads));
  console.log(
    `${name === 'single' ? '--threads 0' : `--threads ${THREADS}`}: wall median ${median(runs.map((r) => r.wall)).toFixed(2)} s; ` +
      `CPU median ${median(total).toFixed(2)} s (${(mb / median(total)).toFixed(1)} MB per CPU-second); ` +
      `busiest thread median ${median(busiest).toFixed(2)} s (${(mb / median(busiest)).toFixed(1)} MB/s if every thread had a core)`,
  );
  for (const r of runs)
    console.log(
      `  wall ${r.wall.toFixed(2)} s; threads (s): ${r.threads
        .filter((c) => c >= 0.02)
        .map((c) => c.toFixed(2))
        .join(' ')}`,
    );
}
