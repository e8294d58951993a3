/**
 * CNI configuration (a node's active .conf/.conflist, flannel's cni-conf.json) as it may be
 * stored and shown: parsed, and only fields known to carry no secret kept verbatim, each with a
 * value of the shape its field takes; every other field's value becomes a marker. Calico/Canal
 * configs carry `k8s_auth_token`, etcd credentials and arbitrary plugin `args`; none of those is
 * on the list. Text that does not parse goes through the same allowlist token by token.
 */
import { goFold } from '../go-fold.js';
import { redactJsonLike } from './json-like.js';
import { REDACTED } from './marker.js';

type Shape = 'name' | 'path' | 'address' | 'scalar' | 'container';

const FIELDS: Readonly<Record<string, Shape>> = Object.fromEntries(
  (
    [
      ['name', 'name'],
      ['cniVersion', 'name'],
      ['cniVersions', 'name'],
      ['type', 'name'],
      ['bridge', 'name'],
      ['mode', 'name'],
      ['master', 'name'],
      ['log_level', 'name'],
      ['datastore_type', 'name'],
      ['nodename', 'name'],
      ['domain', 'name'],
      ['subnetFile', 'path'],
      ['dataDir', 'path'],
      ['kubeconfig', 'path'],
      ['log_file_path', 'path'],
      ['subnet', 'address'],
      ['rangeStart', 'address'],
      ['rangeEnd', 'address'],
      ['gateway', 'address'],
      ['dst', 'address'],
      ['gw', 'address'],
      ['nameservers', 'address'],
      ['hairpinMode', 'scalar'],
      ['isDefaultGateway', 'scalar'],
      ['isGateway', 'scalar'],
      ['ipMasq', 'scalar'],
      ['forceAddress', 'scalar'],
      ['promiscMode', 'scalar'],
      ['disableCheck', 'scalar'],
      ['disableGC', 'scalar'],
      ['portMappings', 'scalar'],
      ['bandwidth', 'scalar'],
      ['snat', 'scalar'],
      ['mtu', 'scalar'],
      ['vlan', 'scalar'],
      ['plugins', 'container'],
      ['delegate', 'container'],
      ['ipam', 'container'],
      ['capabilities', 'container'],
      ['routes', 'container'],
      ['ranges', 'container'],
      ['policy', 'container'],
      ['kubernetes', 'container'],
      ['dns', 'container'],
    ] as const
  ).map(([k, v]) => [goFold(k), v]),
);

function shapeOf(key: string | null): Shape | undefined {
  return key === null ? undefined : FIELDS[goFold(key)];
}

function safeString(shape: Shape | undefined, v: string): boolean {
  switch (shape) {
    case 'name':
      return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v);
    case 'path':
      return /^\/[A-Za-z0-9_./-]{0,255}$/.test(v) || /^__[A-Z_]+__$/.test(v);
    case 'address':
      return (/^[0-9A-Fa-f.:]{2,45}(\/\d{1,3})?$/.test(v) && /[.:]/.test(v)) || /^usePodCidr(IPv6)?$/.test(v);
    case 'scalar':
      return /^-?\d{1,10}$/.test(v) || /^(true|false)$/i.test(v);
    default:
      return false;
  }
}

function redactValue(key: string | null, v: unknown): unknown {
  const shape = shapeOf(key);
  if (v === null || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return shape === undefined ? REDACTED : v.map((x) => redactValue(key, x));
  if (typeof v === 'object') {
    if (shape !== 'container') return REDACTED;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(k) ? k : REDACTED] = redactValue(k, x);
    }
    return out;
  }
  if (typeof v === 'number') return shape === 'scalar' ? v : REDACTED;
  return typeof v === 'string' && safeString(shape, v) ? v : REDACTED;
}

export function redactCniConf(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return redactJsonLike(text, {
      safeKey: (k) => /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(k),
      safeValue: (k, v) => safeString(shapeOf(k), v),
      knownKey: (w) => shapeOf(w) !== undefined,
    }).text;
  }
  // The top level is a container whatever its key would be.
  const top = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? redactValue('plugins', doc) : REDACTED;
  // Nothing removed: the file as written (its layout helps whoever reads the bundle).
  if (JSON.stringify(top) === JSON.stringify(doc)) return text;
  return JSON.stringify(top, null, 2);
}

/**
 * The node-side CNI listing (node-commands.ts `cniCommand`): file names, then `#active FILE` and
 * the file's text, then the plugin binaries. The file's text goes through redactCniConf.
 */
export function redactCniListing(text: string, others: (line: string) => string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let body: string[] | null = null;
  const flush = () => {
    if (body === null) return;
    // The listing's blank lines after the file stay as they were, so redacting twice changes nothing.
    const lines: string[] = body;
    let end = lines.length;
    while (end > 0 && lines[end - 1] === '') end--;
    out.push(...redactCniConf(lines.slice(0, end).join('\n')).split('\n'), ...lines.slice(end));
    body = null;
  };
  for (const line of lines) {
    if (line.startsWith('#active ')) {
      flush();
      out.push(others(line));
      body = [];
    } else if (body !== null && (line === '#bindir' || line === '#absent-bindir')) {
      flush();
      out.push(line);
    } else if (body !== null) body.push(line);
    else out.push(others(line));
  }
  flush();
  return out.join('\n');
}
