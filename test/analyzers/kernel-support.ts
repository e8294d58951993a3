/** What the kernel-comparison tests share: a seeded generator (runs reproduce with their seed) and a command runner. */
import { execFileSync } from 'node:child_process';

/** mulberry32: small, seedable, and the same sequence in every run with one seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A command's output; a failing command gives its stdout and stderr instead of throwing. */
export function run(argv: string[], input?: string): { stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(argv[0]!, argv.slice(1), {
      encoding: 'utf8',
      input: input ?? '',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
    });
    return { stdout, stderr: '' };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
