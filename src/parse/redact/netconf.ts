/**
 * net-conf.json as it may be stored and shown: every key flanneld knows, and values of the shape
 * their key takes (CIDRs for Network, a backend name for Type, numbers for VNI/Port/MTU, ...),
 * kept verbatim; every other value (the PSK, tencent-vpc's AccessKeySecret, a value under an
 * unknown or misspelt key) replaced by a length placeholder. Works on text that does not parse.
 */
import { goFold } from '../go-fold.js';
import { type JsonLikeResult, redactJsonLike } from './json-like.js';

const CIDR_KEYS = new Set([
  'network',
  'ipv6network',
  'networks',
  'ipv6networks',
  'subnetmin',
  'subnetmax',
  'ipv6subnetmin',
  'ipv6subnetmax',
]);
const NUMBER_KEYS = new Set([
  'subnetlen',
  'ipv6subnetlen',
  'vni',
  'port',
  'mtu',
  'listenport',
  'listenportv6',
  'persistentkeepaliveinterval',
]);
const FLAG_KEYS = new Set([
  'enableipv4',
  'enableipv6',
  'enablenftables',
  'gbp',
  'learning',
  'directrouting',
  'udpencap',
  'ipmasq',
]);
const NAME_KEYS = new Set(['type', 'mode', 'backend', 'name', 'iface', 'region']);
const OTHER_KEYS = new Set(['espproposal', 'macprefix', 'psk', 'accesskeyid', 'accesskeysecret', 'vpcid']);

const KNOWN = new Set([...CIDR_KEYS, ...NUMBER_KEYS, ...FLAG_KEYS, ...NAME_KEYS, ...OTHER_KEYS]);

function safeValue(key: string | null, v: string): boolean {
  if (key === null) return false;
  const k = goFold(key);
  if (CIDR_KEYS.has(k)) return /^[0-9A-Fa-f.:]{2,45}(\/\d{1,3})?$/.test(v) && /[.:]/.test(v);
  if (NUMBER_KEYS.has(k) || FLAG_KEYS.has(k)) return /^-?\d{1,10}$/.test(v) || /^(true|false)$/i.test(v);
  if (NAME_KEYS.has(k)) return /^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(v);
  if (k === 'espproposal') return v.length <= 128 && /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/.test(v);
  if (k === 'macprefix') return /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){0,5}$/.test(v);
  // psk, accesskeysecret and anything unknown.
  return false;
}

/** Key names are shown when flanneld knows them, or when they read as a name (the misplaced `IPMasq`, `MTU`). */
function safeKey(key: string): boolean {
  return KNOWN.has(goFold(key)) || /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(key);
}

export function redactNetConf(text: string): JsonLikeResult {
  return redactJsonLike(text, { safeKey, safeValue, knownKey: (w) => KNOWN.has(goFold(w)) });
}
