/** What every redactor puts where a secret was. Redactors keep it as it is, so redacting twice changes nothing. */
export const REDACTED = '<redacted>';

/** A placeholder that keeps the length of what was removed (net-conf.json's PSK length matters to flanneld). */
export function redactedLength(n: number): string {
  return `<redacted: ${n} character${n === 1 ? '' : 's'}>`;
}

export function isRedactedMarker(s: string): boolean {
  return /^<redacted(?:: \d+ characters?| sha256:[0-9a-f]{16})?>$/.test(s);
}
