/**
 * flanneld's log lines. It prints its whole flag set at start-up (`CLI flags config: {…
 * etcdPassword:…}`), and a mis-set net-conf may be echoed with its PSK; strongSwan's charon logs
 * and a wrapper script's `set -x` can show `--psk v` or `PSK 'v'`. The value after every
 * secret-ish key goes, in every spelling (free-text.ts), before a line can be saved or shown.
 */
import { redactFreeText } from './free-text.js';

export function redactLogLine(line: string): string {
  return redactFreeText(line, { spaceSeparated: true });
}
