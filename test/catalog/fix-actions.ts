/**
 * What a printed fix does, read the way an operator reads it. Shared by the lab proof (test/e2e/faults.test.ts)
 * and the simulator proof (test/analyzers/sim-fix.test.ts), so both run exactly the same commands.
 */

/** Tools a printed fix may run on a node, as printed. */
const FIX_TOOLS =
  /^(iptables|iptables-nft|iptables-legacy|ip6tables|ip6tables-nft|ip6tables-legacy|nft|bridge|ip|sysctl|wg|modprobe|rm) /;

export type FixAction =
  | { readonly node: string; readonly command: string }
  | { readonly node: string; readonly restart: true };

/**
 * "On <node>: <command>" (a trailing remark in parentheses and ", and persist it in …" are advice, not part of the
 * command) runs the command on that node, followed by a restart when it ends ", then restart the flannel pod";
 * "Restart the flannel pod on <node>" (or "Restart flanneld on <node>") restarts that node's flanneld, which is what
 * deleting the pod does. Anything else is prose: null.
 */
export function fixActions(fix: string): FixAction[] | null {
  const restart = /^Restart (?:the flannel pod|flanneld) on (\S+?)(?=[\s,.:;(]|$)/.exec(fix);
  if (restart) return [{ node: restart[1] as string, restart: true }];
  const m =
    /^On (\S+): (.*?)(, then restart the flannel pod\b.*)?(?:, and persist it in \S+?)?(?: \([^()]*\))?\.?$/.exec(fix);
  if (!m || !FIX_TOOLS.test(m[2] ?? '')) return null;
  const node = m[1] as string;
  const command = (m[2] as string).replace(/ \([^()]*\)$/, '');
  return [{ node, command }, ...(m[3] ? [{ node, restart: true as const }] : [])];
}
