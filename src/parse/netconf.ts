/**
 * net-conf.json as flanneld reads it.
 *
 * flanneld decodes this file with Go's encoding/json, so the parser follows Go rather than
 * JavaScript: key names match struct fields case-insensitively (each matching key overwrites the
 * field, so of several spellings the last one in the document wins), unknown keys are dropped silently,
 * `null` leaves a field at its default, and a value of the wrong JSON type is fatal (flanneld
 * exits). Defaults are the ones flanneld applies (flannel-internals.md §2).
 *
 * Secrets (the wireguard/ipsec PSK, tencent-vpc's AccessKeySecret) never leave this module:
 * NetConf only records whether a PSK is set and how long it is; redact/netconf.ts gives the text
 * that may be stored, and every message here is scrubbed of whatever that redaction removed (a
 * type error quotes the offending value, which may be the PSK).
 */
import type { Backend, NetConf } from '../snapshot/types.js';
import { goFold } from './go-fold.js';
import { jsonErrorMessage } from './redact/json-error.js';
import { scrub } from './redact/json-like.js';
import { redactNetConf } from './redact/netconf.js';

export type NetConfResult =
  | { readonly ok: true; readonly netConf: NetConf }
  | { readonly ok: false; readonly error: string };

type JsonObject = { readonly [key: string]: unknown };

/** The value Go would decode into `field`, following its key-matching rules; undefined when absent. */
function goField(obj: JsonObject, field: string): { key: string; value: unknown } | undefined {
  let found: { key: string; value: unknown } | undefined;
  const folded = goFold(field);
  for (const [key, value] of Object.entries(obj)) {
    if (key === field || goFold(key) === folded) found = { key, value };
  }
  return found;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class NetConfError extends Error {}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function typeError(path: string, want: string, v: unknown): NetConfError {
  // A secret of the wrong type is still a secret: name its type only.
  if (/(^|\.)(psk|accesskeysecret)$/.test(goFold(path)))
    return new NetConfError(`${path} must be ${want}, got ${jsonType(v)}`);
  return new NetConfError(`${path} must be ${want}, got ${jsonType(v)} ${JSON.stringify(v)}`);
}

/** Reader for one JSON object with Go semantics; records which keys it consumed. */
class GoObject {
  private readonly used = new Set<string>();
  constructor(
    private readonly obj: JsonObject,
    private readonly path: string,
  ) {}

  private take(field: string): unknown {
    const f = goField(this.obj, field);
    for (const key of Object.keys(this.obj)) if (goFold(key) === goFold(field)) this.used.add(key);
    // null leaves a Go field at its zero/default value.
    return f === undefined || f.value === null ? undefined : f.value;
  }

  has(field: string): boolean {
    return goField(this.obj, field) !== undefined;
  }

  bool(field: string, dflt: boolean): boolean {
    const v = this.take(field);
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw typeError(`${this.path}${field}`, 'true or false', v);
    return v;
  }

  int(field: string, dflt: number, opts: { unsigned?: boolean } = {}): number {
    const v = this.take(field);
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || (opts.unsigned && v < 0)) {
      throw typeError(`${this.path}${field}`, opts.unsigned ? 'a non-negative integer' : 'an integer', v);
    }
    return v;
  }

  string(field: string, dflt: string): string {
    const v = this.take(field);
    if (v === undefined) return dflt;
    if (typeof v !== 'string') throw typeError(`${this.path}${field}`, 'a string', v);
    return v;
  }

  raw(field: string): unknown {
    return this.take(field);
  }

  /** Keys present in the document that no struct field consumed: Go drops them silently. */
  unused(): string[] {
    return Object.keys(this.obj).filter((k) => !this.used.has(k));
  }
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function parseIPv4Cidr(path: string, v: unknown, warnings: string[]): string {
  if (typeof v !== 'string') throw typeError(path, 'an IPv4 CIDR string', v);
  const m = IPV4_CIDR.exec(v);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const len = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || len > 32) {
    throw new NetConfError(`${path} is not a valid IPv4 CIDR: ${JSON.stringify(v)}`);
  }
  const addr = octets.reduce((a, o) => a * 256 + o, 0);
  const net = addr - (addr % 2 ** (32 - len));
  const canonical = `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${len}`;
  if (canonical !== v) warnings.push(`${path} ${v} has host bits set; flanneld uses ${canonical}`);
  return canonical;
}

function parseIPv6Cidr(path: string, v: unknown): string {
  if (typeof v !== 'string') throw typeError(path, 'an IPv6 CIDR string', v);
  const [addr, len, ...rest] = v.split('/');
  const n = Number(len);
  if (
    rest.length ||
    !addr?.includes(':') ||
    !/^[0-9a-fA-F:.]+$/.test(addr) ||
    !/^\d{1,3}$/.test(len ?? '') ||
    n > 128
  ) {
    throw new NetConfError(`${path} is not a valid IPv6 CIDR: ${JSON.stringify(v)}`);
  }
  return v;
}

/** Keys flanneld only reads in etcd mode; in kube mode the node's podCIDR decides the subnet. */
const ETCD_ONLY = ['SubnetLen', 'SubnetMin', 'SubnetMax', 'IPv6SubnetLen', 'IPv6SubnetMin', 'IPv6SubnetMax'];
const TOP_FIELDS = [
  'EnableIPv4',
  'EnableIPv6',
  'EnableNFTables',
  'Network',
  'IPv6Network',
  'Networks',
  'IPv6Networks',
  'Backend',
  ...ETCD_ONLY,
];

/** Keys people put in net-conf.json that belong elsewhere, and where they do belong. */
const MISPLACED: Readonly<Record<string, string>> = {
  ipmasq: 'masquerading is the flanneld flag --ip-masq (the DaemonSet args), not a net-conf.json key',
  mtu: 'MTU is a Backend key (Backend.MTU, vxlan and wireguard only)',
  directrouting: 'DirectRouting is a Backend key (Backend.DirectRouting)',
  vni: 'VNI is a Backend key (Backend.VNI)',
  type: 'Type is a Backend key (Backend.Type)',
  iface: 'the interface is the flanneld flag --iface, not a net-conf.json key',
};

function parseBackend(raw: unknown, present: boolean, warnings: string[]): Backend {
  if (!present) {
    warnings.push('Backend is absent: flanneld falls back to the udp backend (not vxlan, whatever the docs say)');
    return { type: 'udp', port: 8285 };
  }
  // `"Backend": null` reaches flanneld as the raw text `null`, which decodes to an empty Type.
  if (raw !== undefined && !isObject(raw)) throw typeError('Backend', 'an object', raw);
  const be = new GoObject(raw ?? {}, 'Backend.');
  const type = be.string('Type', '').toLowerCase();
  let backend: Backend;
  let fields: string[];
  switch (type) {
    case '':
      throw new NetConfError('Backend.Type is missing or empty: flanneld exits with "unknown backend type"');
    case 'vxlan': {
      const port = be.int('Port', 0);
      const mtu = be.int('MTU', 0);
      backend = {
        type,
        vni: be.int('VNI', 1),
        // Port 0 lets the kernel pick its VXLAN default, which is 8472 (not the IANA 4789).
        port: port === 0 ? 8472 : port,
        gbp: be.bool('GBP', false),
        learning: be.bool('Learning', false),
        directRouting: be.bool('DirectRouting', false),
        mtu: mtu === 0 ? null : mtu,
      };
      fields = ['Type', 'VNI', 'Port', 'GBP', 'Learning', 'DirectRouting', 'MTU', 'MacPrefix', 'Name'];
      if (be.has('MacPrefix') || be.has('Name'))
        warnings.push('Backend.MacPrefix and Backend.Name apply to Windows nodes only');
      break;
    }
    case 'host-gw':
      backend = { type };
      fields = ['Type'];
      break;
    case 'udp':
      backend = { type, port: be.int('Port', 8285) };
      fields = ['Type', 'Port'];
      break;
    case 'ipip':
      backend = { type, directRouting: be.bool('DirectRouting', false) };
      fields = ['Type', 'DirectRouting'];
      break;
    case 'wireguard': {
      const mode = be.string('Mode', 'separate');
      if (mode !== 'separate' && mode !== 'auto' && mode !== 'ipv4' && mode !== 'ipv6') {
        throw new NetConfError(`Backend.Mode must be one of separate, auto, ipv4, ipv6; got ${JSON.stringify(mode)}`);
      }
      const mtu = be.int('MTU', 0);
      backend = {
        type,
        listenPort: be.int('ListenPort', 51820),
        listenPortV6: be.int('ListenPortV6', 51821),
        mtu: mtu === 0 ? null : mtu,
        pskSet: be.string('PSK', '') !== '',
        persistentKeepalive: be.int('PersistentKeepaliveInterval', 0),
        mode,
      };
      fields = ['Type', 'ListenPort', 'ListenPortV6', 'MTU', 'PSK', 'PersistentKeepaliveInterval', 'Mode'];
      break;
    }
    case 'ipsec': {
      // a short PSK is judged by the netconf-invalid check (an error), from pskLength; a warning here repeated it
      const psk = be.string('PSK', '');
      backend = {
        type,
        pskLength: psk.length,
        udpEncap: be.bool('UDPEncap', false),
        espProposal: be.string('ESPProposal', '') || 'aes128gcm16-sha256-prfsha256-ecp256',
      };
      fields = ['Type', 'PSK', 'UDPEncap', 'ESPProposal'];
      break;
    }
    case 'alloc':
    case 'extension':
    case 'tencent-vpc':
      backend = { type: 'other', name: type };
      fields = Object.keys(raw ?? {});
      break;
    default:
      throw new NetConfError(
        `Backend.Type ${JSON.stringify(type)} is not a flannel backend: flanneld exits with "unknown backend type"`,
      );
  }
  for (const key of be.unused()) {
    if (!fields.some((f) => goFold(f) === goFold(key))) {
      warnings.push(`Backend.${key} is not a ${type} backend setting; flanneld ignores it`);
    }
  }
  return backend;
}

/** Parses net-conf.json text the way flanneld does. Never throws; no message carries a secret. */
export function parseNetConf(text: string): NetConfResult {
  const r = parseUnscrubbed(text);
  const removed = redactNetConf(text).removed;
  if (!r.ok) return { ok: false, error: scrub(r.error, removed) };
  const warnings = r.netConf.warnings.map((w) => scrub(w, removed));
  return { ok: true, netConf: { ...r.netConf, warnings } };
}

function parseUnscrubbed(text: string): NetConfResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `net-conf.json is not valid JSON: ${jsonErrorMessage(e)}` };
  }
  if (!isObject(doc)) return { ok: false, error: `net-conf.json must be a JSON object, got ${jsonType(doc)}` };
  const warnings: string[] = [];
  try {
    const top = new GoObject(doc, '');
    const enableIPv4 = top.bool('EnableIPv4', true);
    const enableIPv6 = top.bool('EnableIPv6', false);
    const enableNFTables = top.bool('EnableNFTables', false);
    const networkRaw = top.raw('Network');
    const network = networkRaw === undefined ? null : parseIPv4Cidr('Network', networkRaw, warnings);
    const v6Raw = top.raw('IPv6Network');
    const ipv6Network = v6Raw === undefined ? null : parseIPv6Cidr('IPv6Network', v6Raw);
    const backendPresent = top.has('Backend');
    const backend = parseBackend(top.raw('Backend'), backendPresent, warnings);
    for (const f of ETCD_ONLY) {
      if (top.raw(f) !== undefined)
        warnings.push(`${f} is only used in etcd mode; with --kube-subnet-mgr each node's podCIDR is its subnet`);
    }
    top.raw('Networks');
    top.raw('IPv6Networks');
    if (enableIPv4 && network === null)
      warnings.push('Network is missing while EnableIPv4 is on: flanneld cannot start IPv4');
    if (enableIPv6 && ipv6Network === null)
      warnings.push('IPv6Network is missing while EnableIPv6 is on: flanneld cannot start IPv6');
    if (enableIPv6 && !['vxlan', 'host-gw', 'wireguard'].includes(backend.type)) {
      warnings.push(
        `EnableIPv6 has no effect with the ${backend.type === 'other' ? backend.name : backend.type} backend: the lease is IPv4 only`,
      );
    }
    for (const key of top.unused()) {
      if (TOP_FIELDS.some((f) => goFold(f) === goFold(key))) continue;
      const hint = MISPLACED[goFold(key)];
      warnings.push(`${key} is not a net-conf.json setting and flanneld ignores it${hint ? `: ${hint}` : ''}`);
    }
    return { ok: true, netConf: { network, ipv6Network, enableIPv4, enableIPv6, enableNFTables, backend, warnings } };
  } catch (e) {
    if (e instanceof NetConfError) return { ok: false, error: `net-conf.json: ${e.message}` };
    throw e;
  }
}
