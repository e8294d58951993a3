/**
 * Last-line secret scrubbing for raw command output that goes into snapshots and bundles.
 * Parsers that know where keys sit (xfrm, wg) redact precisely; this catches PSK-like
 * assignments anywhere else (e.g. a strongSwan or flannel config echoed by a command).
 */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_ASSIGNMENT, (_m, key: string, sep: string) => `${key}${sep}(redacted)`);
}

// `PSK: "…"`, `"PSK":"…"`, `secret = …`, `PresharedKey = …`, `password=…`, `token: …`.
const SECRET_ASSIGNMENT =
  /((?:"?)(?:psk|ipsecpsk|preshared[-_ ]?key|secret|password|passwd|token|private[-_ ]?key)(?:"?))(\s*[:=]\s*)(?:"[^"\n]*"|'[^'\n]*'|[^\s,;}]+)/gi;
