import type { WireguardDevice } from '../snapshot/types.js';
import { issue, numberedLines, type ParseIssue, type ParseResult } from './issue.js';
import { redactWgDump } from './redact/wireguard.js';

/**
 * `wg show all dump`: tab-separated, every line starting with the interface name.
 * Interface line: name, private-key, public-key, listen-port, fwmark.
 * Peer line: name, public-key, preshared-key, endpoint, allowed-ips, latest-handshake,
 * rx-bytes, tx-bytes, persistent-keepalive.
 * The private key is dropped here and never stored; a preshared key becomes a boolean.
 */
export function parseWgDump(text: string): ParseResult<WireguardDevice[]> {
  const devices: { name: string; publicKey: string; listenPort: number; peers: WireguardDevice['peers'][number][] }[] =
    [];
  const errors: ParseIssue[] = [];
  for (const { n, line } of numberedLines(text)) {
    const f = line.split('\t');
    if (f.length === 5) {
      const port = Number(f[3]);
      if (!Number.isInteger(port)) {
        errors.push(issue(n, redactWgDump(line), 'listen port is not a number'));
        continue;
      }
      devices.push({ name: f[0] ?? '', publicKey: f[2] ?? '', listenPort: port, peers: [] });
    } else if (f.length === 9) {
      const dev = devices.find((d) => d.name === f[0]);
      if (!dev) {
        errors.push(issue(n, redactWgDump(line), `peer of ${f[0]} before its interface line`));
        continue;
      }
      const keepalive = f[8] ?? 'off';
      const allowed = f[4] ?? '(none)';
      dev.peers.push({
        publicKey: f[1] ?? '',
        presharedKey: (f[2] ?? '(none)') !== '(none)',
        endpoint: f[3] === '(none)' || f[3] === undefined ? null : f[3],
        allowedIPs: allowed === '(none)' || allowed === '' ? [] : allowed.split(','),
        latestHandshake: Number(f[5] ?? 0) || 0,
        persistentKeepalive: keepalive === 'off' || !/^\d+$/.test(keepalive) ? null : Number(keepalive),
      });
    } else {
      errors.push(
        issue(n, redactWgDump(line), `expected 5 (interface) or 9 (peer) tab-separated fields, got ${f.length}`),
      );
    }
  }
  return { value: devices, errors };
}
