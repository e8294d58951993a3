/**
 * Wireshark's ESP SA table (the `esp_sa` UAT file, Preferences > Protocols > ESP), for users who
 * would rather decrypt in Wireshark. Field order and algorithm names as Wireshark 4.0 stores them.
 */
import type { EspSA } from './sa-table.js';

const AUTH_NAMES: Readonly<Record<string, string>> = {
  'sha1/12': 'HMAC-SHA-1-96 [RFC2404]',
  'sha256/16': 'HMAC-SHA-256-128 [RFC4868]',
  'sha384/24': 'HMAC-SHA-384-192 [RFC4868]',
  'sha512/32': 'HMAC-SHA-512-256 [RFC4868]',
  'md5/12': 'HMAC-MD5-96 [RFC2403]',
};

const q = (s: string): string => `"${s}"`;

/** One line per SA; SAs Wireshark cannot describe become comments saying why. */
export function espSaTable(sas: readonly EspSA[]): string {
  const lines = ['# Wireshark ESP SAs written by kubectl-flannel capture --write-keys. Contains secret keys.'];
  for (const sa of sas) {
    const hex = (k: string | undefined): string => k ?? '';
    const s = sa.state;
    let enc: string;
    let encKey: string;
    const c = sa.cipher;
    if (c.kind === 'gcm') {
      enc = `AES-GCM with ${c.icvLen} octet ICV [RFC4106]`;
      encKey = hex(s.aead?.hex); // key || salt, as Wireshark expects
    } else if (c.kind === 'cbc') {
      enc = 'AES-CBC [RFC3602]';
      encKey = hex(s.enc?.hex);
    } else if (c.kind === 'ctr') {
      enc = 'AES-CTR [RFC3686]';
      encKey = hex(s.enc?.hex);
    } else {
      enc = 'NULL';
      encKey = '';
    }
    let auth = 'NULL';
    let authKey = '';
    if (sa.auth) {
      const name = AUTH_NAMES[`${sa.auth.hash}/${sa.auth.icvLen}`];
      if (!name) {
        lines.push(
          `# skipped ${sa.label}: Wireshark has no HMAC-${sa.auth.hash} truncated to ${sa.auth.icvLen * 8} bits`,
        );
        continue;
      }
      auth = name;
      authKey = hex(s.auth?.hex);
    }
    const proto = sa.dstBytes.length === 4 ? 'IPv4' : 'IPv6';
    const spi = `0x${sa.spi.toString(16).padStart(8, '0')}`;
    lines.push([proto, s.src, s.dst, spi, enc, encKey, auth, authKey].map(q).join(','));
  }
  return `${lines.join('\n')}\n`;
}
