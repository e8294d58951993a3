/** What an analyzer reports. The runner fills in `check`, `severity` defaults and `fix` from the check's meta. */
export type Severity = 'error' | 'warning' | 'info';

export const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

export interface Finding {
  /** Stable check ID, e.g. `vxlan-fdb`. */
  readonly check: string;
  readonly severity: Severity;
  /** Node the finding is about, or null for cluster-wide findings. */
  readonly node: string | null;
  /** The other node, when the problem is between a specific pair (drives the node-pair matrix). */
  readonly peer: string | null;
  readonly message: string;
  /** The exact entries involved, quoted as the kernel or API shows them. */
  readonly evidence: readonly string[];
  /** The command or change that fixes this instance. */
  readonly fix: string;
}
