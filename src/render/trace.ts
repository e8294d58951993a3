/** The trace as a numbered list of hops, the first broken one marked and explained. */
import type { TraceResult } from '../analyzers/trace/trace.js';
import { neutraliseAll } from '../neutralise.js';
import type { Style } from './style.js';

export function renderTraceText(unsafe: TraceResult, style: Style): string {
  // Hop notes and entries quote collected data: no control character of theirs reaches the terminal.
  const t = neutraliseAll(unsafe);
  const who = (e: TraceResult['src']) =>
    `${e.ip} (${e.kind === 'outside' ? 'outside the cluster' : `${e.kind} on ${e.node}`})`;
  const out = [
    t.brokenAt === null && t.egress
      ? `${style.green('✔')} ${style.bold(`${who(t.src)} leaves the cluster network via ${t.egress.dev} toward ${t.dst.ip}`)}${t.src.kind === 'pod' ? `, masqueraded by ${t.egress.masquerade}` : ''} (${t.hops.length} hops)`
      : t.brokenAt === null
        ? `${style.green('✔')} ${style.bold(`${who(t.src)} reaches ${who(t.dst)}`)}${t.via.length ? `, via ${t.via.join(', ')}` : ''} in ${t.hops.length} hops`
        : `${style.red('✖')} ${style.bold(`${who(t.src)} does not reach ${who(t.dst)}`)}: hop ${t.brokenAt + 1} breaks`,
    '',
  ];
  if (t.size !== null) out[0] += ` ${style.dim(`(a ${t.size}-byte packet, DF)`)}`;
  t.hops.forEach((h, i) => {
    const mark = h.ok ? style.green('✔') : style.red('✖');
    out.push(`${String(i + 1).padStart(2)}. ${mark} ${style.bold(h.node ?? '-')} ${h.step}: ${h.note}`);
    if (h.entry) out.push(`      ${style.dim('│')} ${h.entry}`);
  });
  return out.join('\n') + '\n';
}
