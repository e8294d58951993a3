/**
 * `wg show all dump` as it may be stored and shown: private keys (interface lines) and preshared
 * keys (peer lines) replaced, public keys kept. On a line that is not a well-formed interface or
 * peer line nobody can tell which field is which, so every key-like run on it goes.
 */
export function redactWgDump(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const f = line.split('\t');
      if (f.length === 5 && f[1] !== '(none)') f[1] = '(redacted)';
      else if (f.length === 9 && f[2] !== '(none)') f[2] = '(redacted)';
      else if (f.length !== 5 && f.length !== 9) return line.replace(KEY_LIKE, '(redacted)');
      return f.join('\t');
    })
    .join('\n');
}

// A WireGuard key is 32 bytes in base64 (43 characters and `=`); on a malformed line a key may
// also be cut short or hex-encoded, so any base64 run of 16 or more is hidden there.
const KEY_LIKE = /[A-Za-z0-9+/]{16,}={0,2}/g;
