/** Route normalisation shared by the JSON and text parsers, so both give equal Route values. */

export type Family = 'inet' | 'inet6';

/** Which family a route belongs to: from its addresses, else the family the command asked for. */
export function familyOf(dst: string, gateway: string | null, hint: Family): Family {
  if (dst !== 'default') return dst.includes(':') ? 'inet6' : 'inet';
  if (gateway !== null) return gateway.includes(':') ? 'inet6' : 'inet';
  return hint;
}

/** `default` becomes 0.0.0.0/0 or ::/0; a bare address becomes a /32 or /128 host route. */
export function normaliseDst(dst: string, family: Family): string {
  if (dst === 'default') return family === 'inet' ? '0.0.0.0/0' : '::/0';
  if (dst.includes('/')) return dst;
  return `${dst}/${family === 'inet' ? 32 : 128}`;
}

export const ROUTE_TYPES = new Set([
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
  'anycast',
]);
