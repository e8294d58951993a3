/**
 * Collected data (log lines, xfrm text, messages, evidence) can hold terminal control sequences:
 * an ESC or OSC in a flanneld log line would otherwise recolour, retitle or rewrite the user's
 * terminal. Every such character is shown as a visible escape instead, colour or not.
 * Kept: newline and tab. Replaced: the rest of C0, DEL, C1, and the bidirectional overrides
 * that reorder what is displayed.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function neutralise(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A copy of `value` with every string in it neutralised: for a report about to be rendered as text. */
export function neutraliseAll<T>(value: T): T {
  if (typeof value === 'string') return neutralise(value) as T;
  if (Array.isArray(value)) return value.map(neutraliseAll) as T;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [neutralise(k), neutraliseAll(v)])) as T;
  return value;
}
