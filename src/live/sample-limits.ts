// The bounds of a bundle's tcpdump samples, apart from the code that takes them: `bundle --help` shows them, and
// the command must not load the capture code (and with it the Kubernetes client) merely to print its options.

export interface SampleLimits {
  readonly durationMs: number;
  /** Packets and bytes kept per node interface. */
  readonly count: number;
  readonly maxBytes: number;
}

export const SAMPLE_DEFAULTS: SampleLimits = { durationMs: 5_000, count: 2_000, maxBytes: 512 * 1024 };
