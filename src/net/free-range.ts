/**
 * The lowest range of a given length inside a Network that overlaps none of the ranges already handed out: what
 * kube-controller-manager's range allocator gives a newly registered Node (it marks every Node's podCIDR as used at
 * start and searches the cluster CIDR from its beginning).
 */
import { addressText, covers, overlaps, type Prefix, parsePrefix } from './cidr.js';

/** Candidates searched at most: a /8 Network cut into /24s; beyond that the answer is not worth the wait. */
const MAX_CANDIDATES = 1n << 16n;

export function lowestFreeRange(network: Prefix, length: number, taken: readonly Prefix[]): Prefix | null {
  const bits = network.family === 'inet' ? 32 : 128;
  if (length < network.length || length > bits) return null;
  const same = new Set<string>();
  const others: Prefix[] = [];
  for (const t of taken) {
    if (t.family !== network.family || !overlaps(t, network)) continue;
    if (t.length === length) same.add(t.text);
    else others.push(t);
  }
  let base = 0n;
  for (const b of network.bytes) base = (base << 8n) | BigInt(b);
  const step = 1n << BigInt(bits - length);
  const count = 1n << BigInt(length - network.length);
  for (let i = 0n; i < count && i < MAX_CANDIDATES; i++) {
    const p = parsePrefix(`${addressText(base + i * step, bits as 32 | 128)}/${length}`);
    if (!p || same.has(p.text) || others.some((o) => overlaps(o, p))) continue;
    if (covers(network, p)) return p;
  }
  return null;
}
