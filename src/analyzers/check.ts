/**
 * A check is one small module, shaped like an ESLint rule: metadata (stable ID, severity,
 * title, documentation) and a pure function from the context the runner hands it to reports.
 */
import type { ClusterScope, NodeContext } from './context.js';
import type { Finding, Severity } from './finding.js';

export interface CheckDocs {
  /** What the finding means, in flannel's and Linux's terms. */
  readonly meaning: string;
  /** Why it breaks (or may break) pod traffic. */
  readonly impact: string;
  /** The exact command or change that fixes it; `<node>`-style placeholders are filled per finding. */
  readonly fix: string;
}

export interface Report {
  readonly node: string | null;
  readonly peer?: string | null;
  readonly message: string;
  readonly evidence: readonly string[];
  /** Overrides the check's default severity for this one finding. */
  readonly severity?: Severity;
  /** A fix specific to this finding; defaults to docs.fix. */
  readonly fix?: string;
  /**
   * Checks that, when any of them reports on the same node, already explain this finding: the runner then
   * drops it. For a check that follows whole paths (pod-path), whose break is often another check's cause
   * seen from further away. It is a declaration, not a look at the other findings: node checks run one node
   * at a time and cluster checks only after every node (context.ts), so no check can see every finding, and
   * the runner, which does, applies the rule once all are in. The check stays a pure function of its context.
   */
  readonly unless?: readonly string[];
  /**
   * The same for the peer the finding names, when a finding of one of these checks names the peer as its node or
   * its peer: a path or an entry toward a node whose pods do not live where its lease says (a podCIDR outside the
   * Network, one another node shares) follows from that finding.
   */
  readonly unlessPeer?: readonly string[];
}

interface CheckMeta {
  /** Stable, never reused: users select and skip checks by it. */
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly docs: CheckDocs;
  /** Numbers of the failure modes in flannel-internals.md §11 that this check reveals. */
  readonly failureModes: readonly number[];
}

export type Report_ = (r: Report) => void;

/**
 * Node checks look at one node at a time, through its NodeContext (the node, its host, its peers' leases,
 * its expected state, its indexed tables); the runner builds that once per node and drops it before the next.
 * Cluster checks compare across nodes and see the ClusterScope once, after every node: the leases and each
 * node's NodeSummary, never a host (context.ts says why).
 */
export type Check =
  | (CheckMeta & {
      readonly scope: 'node';
      runNode(ctx: NodeContext, report: Report_): void;
      /**
       * A node check whose subject spans two nodes (pod-path's pairs) judges the seam between its per-node
       * halves here, once every node is done, from the NodeSummary facts both sides left (context.ts).
       */
      seam?(ctx: ClusterScope, report: Report_): void;
    })
  | (CheckMeta & { readonly scope: 'cluster'; run(ctx: ClusterScope, report: Report_): void });

/**
 * Findings about the node's own state that follows its podCIDR (cni0's address, FLANNEL_SUBNET, flannel.1's
 * address, the route to its own range) say nothing new when the podCIDR itself is wrong, and their fixes would
 * move that state onto a range the podCIDR finding's fix gives up: they are left to that finding.
 */
export const PODCIDR_WRONG: readonly string[] = ['podcidr-outside-network', 'podcidr-overlap'];

/**
 * The entries a peer programs toward a node whose podCIDR is wrong (its route, neighbour and fdb entry) follow that
 * lease: wrong or missing while it is, and re-programmed by the restarts of the podCIDR finding's fix.
 */
export const PEER_PODCIDR_WRONG = { unlessPeer: PODCIDR_WRONG } as const;

export function defineCheck(check: Check): Check {
  return check;
}

export function toFinding(check: Check, r: Report): Finding {
  return {
    check: check.id,
    severity: r.severity ?? check.severity,
    node: r.node,
    peer: r.peer ?? null,
    message: r.message,
    evidence: r.evidence,
    fix: r.fix ?? (r.node ? check.docs.fix.replaceAll('<node>', r.node) : check.docs.fix),
  };
}
