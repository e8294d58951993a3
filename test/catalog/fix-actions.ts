/**
 * What a printed fix does, read the way an operator reads it. Shared by the lab proof (test/e2e/faults.test.ts)
 * and the simulator proof (test/analyzers/sim-fix.test.ts), so both run exactly the same commands.
 */

/** Tools a printed fix may run on a node, as printed. */
const FIX_TOOLS =
  /^(iptables|iptables-nft|iptables-legacy|ip6tables|ip6tables-nft|ip6tables-legacy|nft|bridge|ip|sysctl|wg|modprobe|rm|nsenter) /;

export type FixAction =
  | { readonly node: string; readonly command: string }
  | { readonly node: string; readonly restart: true }
  /** the node's kubelet restarted: it registers its Node again if the Node is gone (`lab/lab restart-kubelet`) */
  | { readonly node: string; readonly kubelet: true }
  /** a kubectl command against the cluster's API: no node */
  | { readonly kubectl: string }
  /** what the underlay between two nodes must let through: `lab/lab underlay-allow` arguments */
  | { readonly from: string; readonly to: string; readonly underlayAllow: readonly string[] };

/**
 * What a printed fix does, read the way an operator reads it (a trailing remark in parentheses and ", and persist
 * it in …" are advice, not part of the command):
 * - "On <node>: <command>" runs the command on that node, followed by a restart when it ends ", then restart the
 *   flannel pod"; "On <node>: systemctl restart k3s" (k3s: the service that runs the embedded flanneld) restarts it;
 * - "Restart the flannel pod on <node>" (or "Restart flanneld on <node>") restarts that node's flanneld, which is
 *   what deleting the pod does (lab/lab restart-flanneld also does what the new pod's install-cni does);
 * - "In the cluster: kubectl …" runs that kubectl against the lab's API (the first choice, before "; or"); when it
 *   goes on with steps joined by ", then " (a Node's podCIDR: patched, or the Node registered again), each step in
 *   order: "restart the kubelet on <node>", "on <node>: <command>", "restart the flannel pod(s) on <a>, <b> and <c>";
 * - "Allow UDP port P (…) from A (IP) to B (IP) in the network …" and "Allow IP from S to D (…) on the way from A
 *   (IP) to B (IP) …" make the lab's underlay (the one network between its nodes) let exactly that through.
 * Anything else is prose: null.
 */
export function fixActions(fix: string): FixAction[] | null {
  const restart = /^Restart (?:the flannel pod|flanneld) on (\S+?)(?=[\s,.:;(]|$)/.exec(fix);
  if (restart) return [{ node: restart[1] as string, restart: true }];
  const k3s = /^On (\S+): systemctl restart k3s\b/.exec(fix);
  if (k3s) return [{ node: k3s[1] as string, restart: true }];
  if (/^In the cluster: kubectl .*?, then /.test(fix)) return clusterSteps(fix);
  const cluster = /^In the cluster: (kubectl .*?)(?: \([^()]*\))?(?:; or\b.*)?\.?$/.exec(fix);
  if (cluster) return [{ kubectl: cluster[1] as string }];
  const between = String.raw`from (\S+) \((\S+)\) to (\S+) \((\S+)\) in the network between them`;
  const udp = new RegExp(String.raw`^Allow UDP port (\d+) \([^()]*\) ${between}`).exec(fix);
  if (udp) {
    const [, port, from, fromIP, to, toIP] = udp as unknown as string[];
    return [{ from: from!, to: to!, underlayAllow: ['udp', port!, fromIP!, toIP!] }];
  }
  const routed = new RegExp(String.raw`^Allow IP from (\S+) to (\S+) \([^()]*\) on the way ${between}`).exec(fix);
  if (routed) {
    const [, src, dst, from, fromIP, to, toIP] = routed as unknown as string[];
    return [{ from: from!, to: to!, underlayAllow: ['ip', src!, dst!, fromIP!, toIP!] }];
  }
  const m =
    /^On (\S+): (.*?)(, then restart the flannel pod\b.*)?(?:, and persist it in \S+?)?(?: \([^()]*\))?\.?$/.exec(fix);
  if (!m || !FIX_TOOLS.test(m[2] ?? '')) return null;
  const node = m[1] as string;
  const command = (m[2] as string).replace(/ \([^()]*\)$/, '');
  return [{ node, command }, ...(m[3] ? [{ node, restart: true as const }] : [])];
}

/** "In the cluster: kubectl …, then <step>, then <step> (remark)": the steps in order, or null if one is prose. */
function clusterSteps(fix: string): FixAction[] | null {
  const steps = fix
    .replace(/ \([^()]*\)\.?$/, '')
    .replace(/^In the cluster: /, '')
    .split(', then ');
  const out: FixAction[] = [{ kubectl: steps[0] as string }];
  for (const step of steps.slice(1)) {
    const kubelet = /^restart the kubelet on (\S+)$/.exec(step);
    const on = /^on (\S+): (.+)$/.exec(step);
    const pods = /^restart the flannel pods? on (.+)$/.exec(step);
    if (kubelet) out.push({ node: kubelet[1] as string, kubelet: true });
    else if (on && FIX_TOOLS.test(on[2] as string)) out.push({ node: on[1] as string, command: on[2] as string });
    else if (pods && /^\S+(?:, \S+)*(?: and \S+)?$/.test(pods[1] as string))
      for (const node of (pods[1] as string).split(/, | and /)) out.push({ node, restart: true });
    else return null;
  }
  return out;
}
