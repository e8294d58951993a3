/**
 * The secrets corpus: secret placements in every format kubectl-flannel collects, each secret a
 * unique random-looking marker, so a test can assert that no marker (nor its hex or base64 form,
 * nor a 12-character piece of it) appears in anything the tool writes.
 *
 * Where a real output exists it is the base: `ip xfrm state` as iproute2 prints it (the sample
 * capture's state, the seed page's collapsed output, iproute2 6's -s layout), `wg show all dump`,
 * flannel's net-conf.json and cni-conf.json, flanneld's start-up lines, strongSwan's charon lines;
 * the secret is put where the real one sits, then in the places a typo, a paste or an old tool
 * puts it (single quotes, no quotes, JSON inside a string, escaped quotes, odd spacing, unicode,
 * values cut across lines).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Placement {
  readonly id: string;
  readonly marker: string;
}

const placements: Placement[] = [];

function digest(id: string): Buffer {
  return createHash('sha512').update(`kubectl-flannel secrets corpus: ${id}`).digest();
}

/** A marker that looks like the secret it stands for: hex key material, a base64 key, an alphanumeric PSK. */
export function marker(id: string, kind: 'hex' | 'base64' | 'alnum' | 'digits', length = 40): string {
  const d = Buffer.concat([digest(id), digest(`${id}+`)]);
  let m: string;
  if (kind === 'hex') m = d.toString('hex').slice(0, length);
  else if (kind === 'base64') m = d.subarray(0, 32).toString('base64');
  else if (kind === 'digits')
    m = [...d]
      .map((b) => String(b % 10))
      .join('')
      .slice(0, length)
      .replace(/^0/, '7');
  else
    m = d
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, length);
  placements.push({ id, marker: m });
  return m;
}

export function allPlacements(): readonly Placement[] {
  return placements;
}

/** The forms a leaked marker could take: itself, its hex or base64 re-encodings, and pieces of it. */
export function leakForms(m: string): string[] {
  const forms = new Set<string>([m, Buffer.from(m).toString('hex'), Buffer.from(m).toString('base64')]);
  if (/^[0-9a-f]+$/i.test(m) && m.length % 2 === 0) forms.add(Buffer.from(m, 'hex').toString('base64'));
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(m) && m.length % 4 === 0) forms.add(Buffer.from(m, 'base64').toString('hex'));
  for (let i = 0; i + 12 <= m.length; i += 4) forms.add(m.slice(i, i + 12));
  return [...forms].map((f) => f.replace(/=+$/, '')).filter((f) => f.length >= 12);
}

/** The first marker found in `text` (in any of its forms), with where. */
export function findLeak(text: string): string | null {
  const low = text.toLowerCase();
  for (const p of placements) {
    for (const f of leakForms(p.marker)) {
      const at = low.indexOf(f.toLowerCase());
      if (at >= 0)
        return `${p.id} (${JSON.stringify(f)}) at: ${JSON.stringify(text.slice(Math.max(0, at - 80), at + 40))}`;
    }
  }
  return null;
}

const ROOT = new URL('../../../', import.meta.url).pathname;
const fixture = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

// ---------------------------------------------------------------------------------------------
// net-conf.json: the ConfigMap's key, one per cluster; each variant is collected on its own.

const pskHex = (id: string) => marker(id, 'hex', 96);

export const NET_CONFS: readonly { id: string; text: string }[] = [
  {
    id: 'netconf-valid',
    text: `{\n  "Network": "10.244.0.0/16",\n  "Backend": {\n    "Type": "ipsec",\n    "PSK": "${pskHex('netconf-valid')}",\n    "UDPEncap": true\n  }\n}\n`,
  },
  {
    id: 'netconf-single-quoted',
    text: `{\n  'Network': '10.244.0.0/16',\n  'Backend': {\n    'Type': 'ipsec',\n    'PSK': '${pskHex('netconf-single-quoted')}'\n  }\n}\n`,
  },
  {
    id: 'netconf-unquoted',
    text: `{ Network: 10.244.0.0/16, Backend: { Type: ipsec, PSK: ${pskHex('netconf-unquoted')} } }`,
  },
  {
    id: 'netconf-escaped-quote',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec", "PSK": "x\\"${marker('netconf-after-escaped-quote', 'alnum', 60)}"}}`,
  },
  {
    id: 'netconf-go-fold-key',
    // Go folds U+017F (ſ) to s: flanneld reads this key as PSK.
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec", "P\u017fK": "${pskHex('netconf-long-s-key')}"}}`,
  },
  {
    id: 'netconf-number',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec", "PSK": ${marker('netconf-numeric-psk', 'digits', 24)}}}`,
  },
  {
    id: 'netconf-missing-colon',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec", "PSK" "${pskHex('netconf-missing-colon')}"}}`,
  },
  {
    id: 'netconf-cut-off',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec", "PSK": "${pskHex('netconf-cut-off')}`,
  },
  {
    id: 'netconf-tencent',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "tencent-vpc", "AccessKeyID": "AKID", "AccessKeySecret": "${marker('netconf-tencent-secret', 'alnum', 32)}"}}`,
  },
  {
    id: 'netconf-wireguard-odd-spacing',
    text: `{"Network":"10.244.0.0/16","Backend":{"Type":"wireguard","PSK"\n\t :\n   "${marker('netconf-wireguard-psk', 'base64')}"}}`,
  },
  {
    id: 'netconf-json-in-string',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}, "Extra": "{\\"PSK\\":\\"${marker('netconf-json-in-string', 'alnum', 48)}\\"}"}`,
  },
  {
    id: 'netconf-unknown-key',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "etcdPassword": "${marker('netconf-unknown-key', 'alnum', 24)}"}}`,
  },
  {
    id: 'netconf-yaml-pasted',
    text: `Network: 10.244.0.0/16\nBackend:\n  Type: ipsec\n  PSK: ${pskHex('netconf-yaml-pasted')}\n`,
  },
  {
    id: 'netconf-comment',
    text: `{\n  // PSK ${marker('netconf-comment', 'alnum', 40)}\n  "Network": "10.244.0.0/16",\n  "Backend": {"Type": "vxlan"}\n}`,
  },
  {
    id: 'netconf-newline-in-string',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec", "PSK": "first line\n${marker('netconf-newline-in-string', 'alnum', 48)}"}}`,
  },
  {
    id: 'netconf-unicode',
    text: `{"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec", "PSK": "ключ—${marker('netconf-unicode', 'alnum', 48)}—🔑"}}`,
  },
];

// ---------------------------------------------------------------------------------------------
// CNI configuration: the ConfigMap's cni-conf.json and each node's active file.

export const CNI_CONF_CONFIGMAP = JSON.stringify(
  {
    name: 'cbr0',
    cniVersion: '0.3.1',
    plugins: [
      {
        type: 'flannel',
        delegate: { hairpinMode: true, isDefaultGateway: true },
        args: `{"PSK":"${marker('cni-args-json-in-string', 'alnum', 40)}"}`,
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  },
  null,
  2,
);

export const NODE_CNI_CONFS: readonly string[] = [
  // Canal: calico's plugin carries the API token and etcd credentials.
  JSON.stringify({
    name: 'k8s-pod-network',
    cniVersion: '0.3.1',
    plugins: [
      {
        type: 'calico',
        log_level: 'info',
        datastore_type: 'kubernetes',
        etcd_endpoints: `https://root:${marker('cni-etcd-url-credential', 'alnum', 24)}@10.0.0.1:2379`,
        ipam: { type: 'host-local', subnet: 'usePodCidr', password: marker('cni-ipam-password', 'alnum', 24) },
        policy: { type: 'k8s', k8s_auth_token: marker('cni-k8s-auth-token', 'alnum', 64) },
        kubernetes: {
          kubeconfig: '/etc/cni/net.d/calico-kubeconfig',
          k8s_api_root: `https://x:${marker('cni-api-root-credential', 'alnum', 24)}@10.96.0.1`,
        },
      },
      { type: 'flannel', delegate: { hairpinMode: true }, apiKey: marker('cni-unknown-field', 'hex', 32) },
    ],
  }),
  // Not JSON: single quotes and a trailing comma.
  `{'name': 'cbr0', 'plugins': [{'type': 'flannel', 'token': '${marker('cni-invalid-json-token', 'alnum', 40)}',}]}`,
  // An escaped quote before the secret.
  `{"name":"cbr0","plugins":[{"type":"flannel","args":"x\\" psk=${marker('cni-after-escaped-quote', 'alnum', 40)}"}]}`,
  // Multiline value cut by a line break (a hand edit gone wrong).
  `{\n "name": "cbr0",\n "plugins": [{"type": "flannel",\n "secret": "${marker('cni-multiline-a', 'alnum', 20)}\n${marker('cni-multiline-b', 'alnum', 20)}"}]\n}`,
];

// ---------------------------------------------------------------------------------------------
// flanneld (and charon, and wrapper scripts) log lines.

export const LOG_LINES: readonly string[] = [
  `I1122 02:51:48.552968 1 main.go:229] CLI flags config: {etcdEndpoints:http://127.0.0.1:4001 etcdPrefix:/coreos.com/network etcdKeyfile: etcdCertfile: etcdCAFile: etcdUsername:root etcdPassword:${marker('log-go-struct-password', 'alnum', 24)} version:false kubeSubnetMgr:true}`,
  `I1122 02:51:48.600000 1 main.go:450] Found network config - Backend type: ipsec`,
  `psk: ${marker('log-psk-colon', 'alnum', 40)}`,
  `+ flanneld --psk ${marker('log-psk-flag-space', 'alnum', 40)} --ip-masq`,
  `PSK '${marker('log-psk-single-quoted', 'alnum', 40)}'`,
  `token ${marker('log-token-space', 'alnum', 40)}`,
  `flanneld --etcd-password=${marker('log-etcd-password-flag', 'alnum', 24)} --ip-masq`,
  `E1122 ipsec.go:88] bad config {"Type":"ipsec","PSK":"${marker('log-json', 'hex', 96)}"}`,
  `E1122 main.go:300] config: "{\\"Backend\\":{\\"PSK\\":\\"${marker('log-json-in-string', 'alnum', 48)}\\"}}"`,
  `E1122 main.go:300] "PSK": "a\\"${marker('log-after-escaped-quote', 'alnum', 40)}"`,
  `W1122 kube.go:100] request failed: Authorization: Bearer ${marker('log-bearer', 'alnum', 64)}`,
  `Nov 22 02:51:49 charon: 09[CFG] loaded IKE secret for %any: secret = "${marker('log-strongswan-secret', 'alnum', 40)}"`,
  ` : PSK "${marker('log-ipsec-secrets-line', 'alnum', 40)}"`,
  `env: IPSEC_PSK=${marker('log-env-psk', 'hex', 96)}`,
  `PresharedKey = ${marker('log-wg-quick-psk', 'base64')}`,
  `PrivateKey = ${marker('log-wg-quick-private', 'base64')}`,
  `psk\t=\t${marker('log-psk-tabs', 'alnum', 40)}`,
  `      "PSK": "${marker('log-netconf-dump-line', 'hex', 96)}",`,
  `passphrase: '${marker('log-passphrase', 'alnum', 32)}'`,
  `secret => "${marker('log-arrow', 'alnum', 32)}"`,
  'E1122 main.go:330] Failed to create SubnetManager: config error, password is too short',
];

// ---------------------------------------------------------------------------------------------
// Node command output.

/** Real `ip xfrm state` text with every key replaced by a marker of the same length. */
function withMarkerKeys(text: string, prefix: string): string {
  let n = 0;
  return text.replace(
    /0x([0-9a-f]{16,})/g,
    (_m, hex: string) => `0x${marker(`${prefix}-key-${n++}`, 'hex', hex.length)}`,
  );
}

export const XFRM_STATES: readonly string[] = [
  withMarkerKeys(fixture('fixtures/pcap/esp-mix.xfrm-state.txt'), 'xfrm-esp-mix'),
  withMarkerKeys(fixture('fixtures/raw/seeds/000-ip-x-s.txt'), 'xfrm-seed-collapsed'),
  withMarkerKeys(fixture('fixtures/xfrm/state-iproute2-6-stats-handwritten.txt'), 'xfrm-iproute2-stats') +
    // Malformed records, as a cut or hand-edited paste gives them.
    [
      'src 10.0.0.1 dst 10.0.0.2',
      '\tproto esp spi 0x0000c001 reqid 1 mode tunnel',
      `\taead rfc4106(gcm(aes)) ${marker('xfrm-no-0x-prefix', 'hex', 40)} 128`,
      'src 10.0.0.1 dst 10.0.0.2',
      '\tproto esp spi 0x0000c002 reqid 1 mode tunnel',
      `\tenc 0x${marker('xfrm-no-algorithm-name', 'hex', 32)}`,
      'src 10.0.0.1 dst 10.0.0.2',
      '\tproto esp spi 0x0000c003 reqid 1 mode tunnel',
      `\taead rfc4106(gcm(aes)) 0x${marker('xfrm-odd-length', 'hex', 39)} 128`,
      'src 10.0.0.1 dst 10.0.0.2',
      '\tproto esp spi 0x0000c004 reqid 1 mode tunnel',
      `\tenc cbc(aes) 0x${marker('xfrm-glued-keyword', 'hex', 32)}encap type espinudp sport 4500 dport 4500 addr 0.0.0.0`,
      'src 10.0.0.1 dst 10.0.0.2',
      `\tproto esp spi ${marker('xfrm-key-as-spi', 'hex', 32)} reqid 1 mode tunnel`,
      'src 10.0.0.1 dst 10.0.0.2',
      '\tproto esp spi 0x0000c006 reqid 1 mode tunnel',
      `\tauth-trunc hmac(sha256) 0x${marker('xfrm-short-key', 'hex', 16)}`,
      `${marker('xfrm-stray-line', 'hex', 48)} outside any record`,
    ].join('\n'),
  // Keys cut by a newline whose tails are only decimal digits (as a real key's tail may be: the
  // seed page's first key ends in 6074495753293433), landing where a counter, an ICV length, an
  // algorithm name or an SPI goes; the first SA lost its `src`, so it is text outside any record.
  [
    '172.18.0.3 dst 172.18.0.2 proto esp spi 0x0000d001 reqid 11 mode tunnel',
    `\treplay-window 0 flag af-unspec aead rfc4106(gcm(aes)) 0x${marker('xfrm-cut-stray-head', 'hex', 24)}`,
    `${marker('xfrm-cut-stray-tail', 'digits', 16)} 128 anti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000`,
    'src 172.18.0.2 dst 172.18.0.3 proto esp spi 0x0000d002 reqid 11 mode tunnel',
    `\taead rfc4106(gcm(aes)) 0x${marker('xfrm-cut-icv-head', 'hex', 24)}`,
    `${marker('xfrm-cut-icv-tail', 'digits', 16)} 128`,
    'src 172.18.0.2 dst 172.18.0.3 proto esp spi 0x0000d003 reqid 11 mode tunnel',
    `\tenc ${marker('xfrm-cut-name-tail', 'digits', 16)} 0x${marker('xfrm-cut-name-head', 'hex', 24)}`,
    `src 172.18.0.2 dst 172.18.0.3 proto esp spi ${marker('xfrm-cut-spi-tail', 'digits', 16)} reqid 11 mode tunnel`,
    'src 172.18.0.2 dst 172.18.0.3 proto esp spi 0x0000d005 reqid 11 mode tunnel',
    `\taead rfc4106(gcm(aes)) ${marker('xfrm-no-0x-decimal', 'digits', 40)} 128`,
  ].join('\n'),
];

const wgPrivate = (id: string) => marker(id, 'base64');
export const WG_DUMP = [
  ['flannel-wg', wgPrivate('wg-private-key'), 'mkolDLFFr6plA18fAASvhZviO9xFxdoeVIASfx8vjXI=', '51820', 'off'].join(
    '\t',
  ),
  [
    'flannel-wg',
    'pHaoc6UxtzNMrNYbDIDA0Vi/zphu/9MLfa7cU9KxmqA=',
    wgPrivate('wg-preshared-key'),
    '192.168.56.12:51820',
    '10.244.2.0/24',
    '1763778000',
    '3282160',
    '5389844',
    '25',
  ].join('\t'),
  // A line whose tabs became spaces (copied through a terminal).
  `flannel-wg-v6  ${wgPrivate('wg-private-key-spaces')}  40c5YiWNbfN6OyajWWZ7lBjDvVOH6gdfrVWHJLCSLyM=  51821  off`,
  // A line cut after the key.
  `flannel-wg-v6\t${wgPrivate('wg-private-key-truncated-line')}`,
].join('\n');

/** stderr of a node command that echoes a credential. */
export const STDERR_LINE = `warning: cannot read config: password=${marker('stderr-password', 'alnum', 32)}`;

/** flanneld's DaemonSet args: a secret flag in both spellings. */
export const DAEMONSET_ARGS = [
  '--ip-masq',
  '--kube-subnet-mgr',
  `--etcd-password=${marker('args-etcd-password-equals', 'alnum', 24)}`,
  '--psk',
  marker('args-psk-separate', 'alnum', 40),
];
