/**
 * What every parser returns. Parsers never throw: node output comes from many iproute2,
 * busybox and iptables versions, and one odd line must not hide the rest. An issue names the
 * 1-based line so the collector can say `ip -j route show table all: line 3: …`.
 */
export interface ParseIssue {
  readonly line: number;
  readonly text: string;
  readonly message: string;
}

export interface ParseResult<T> {
  readonly value: T;
  readonly errors: readonly ParseIssue[];
}

const MAX_TEXT = 160;

export function issue(line: number, text: string, message: string): ParseIssue {
  return { line, text: text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text, message };
}

/** `line N: message`, the form the collector appends to the command. */
export function formatIssue(i: ParseIssue): string {
  return `line ${i.line}: ${i.message}${i.text ? ` (${JSON.stringify(i.text)})` : ''}`;
}

/** Lines with their 1-based numbers, blank ones dropped. */
export function numberedLines(text: string): { n: number; line: string }[] {
  const out: { n: number; line: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() !== '') out.push({ n: i + 1, line });
  });
  return out;
}
