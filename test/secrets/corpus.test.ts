// The secrets corpus (corpus.ts) through collection and then every output: the snapshot as
// collected, doctor -o text|json|yaml, --save, every file of a bundle, capture's warnings and
// summary; through the real CLI where it can run here. No marker may appear in any form.
//
// What is fake and why: the Kubernetes API objects (DaemonSet, ConfigMap, Nodes, pods and their
// logs) come from an in-memory client, since this test needs no cluster: the objects are the
// inputs under test. Node commands run for real on this host, except the ones whose output
// carries the secrets (`ip xfrm state`, `wg show all dump`, the CNI listing, `uname -r`'s
// stderr): this kernel has no wireguard and no ESP crypto for keyed SAs, so their real iproute2
// and wg output (fixtures, seeds) with markers for keys is served instead.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { V1ConfigMap, V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import { analyze } from '../../src/analyzers/run.js';
import { bundleFiles } from '../../src/bundle/write.js';
import { readClusterState } from '../../src/collectors/api/cluster.js';
import { collectHost } from '../../src/collectors/node/host.js';
import { localRunner } from '../../src/collectors/node/local.js';
import type { CommandRunner } from '../../src/collectors/node/runner.js';
import type { KubeClient } from '../../src/kube/client.js';
import { guardSnapshot } from '../../src/parse/redact/guard.js';
import { buildReport } from '../../src/render/report.js';
import { renderJSON, renderYAML } from '../../src/render/structured.js';
import { styleFor } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import type { HostState, Snapshot } from '../../src/snapshot/types.js';
import {
  allPlacements,
  CNI_CONF_CONFIGMAP,
  DAEMONSET_ARGS,
  findLeak,
  LOG_LINES,
  NET_CONFS,
  NODE_CNI_CONFS,
  STDERR_LINE,
  WG_DUMP,
  XFRM_STATES,
} from './corpus.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const NODES = ['node1', 'node2', 'node3', 'node4'];
const dir = mkdtempSync(join(tmpdir(), 'kf-corpus-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function noLeak(what: string, text: string): void {
  const leak = findLeak(text);
  assert.equal(leak, null, `${what}: ${leak}`);
}

// ---------------------------------------------------------------------------------------------
// Collection

function fakeClient(netConf: string): KubeClient {
  const ds: V1DaemonSet = {
    metadata: { name: 'kube-flannel-ds', namespace: 'kube-flannel' },
    spec: {
      selector: { matchLabels: { app: 'flannel' } },
      template: {
        spec: {
          containers: [{ name: 'kube-flannel', image: 'flannel:v0.28.9', args: DAEMONSET_ARGS }],
        },
      },
    },
    status: { desiredNumberScheduled: 4, numberReady: 4, currentNumberScheduled: 4, numberMisscheduled: 0 },
  };
  const cm: V1ConfigMap = { data: { 'net-conf.json': netConf, 'cni-conf.json': CNI_CONF_CONFIGMAP } };
  const nodes: V1Node[] = NODES.map((name, i) => ({
    metadata: {
      name,
      annotations: {
        'flannel.alpha.coreos.com/backend-type': 'ipsec',
        'flannel.alpha.coreos.com/public-ip': `192.168.56.${11 + i}`,
      },
    },
    spec: { podCIDR: `10.244.${i}.0/24`, podCIDRs: [`10.244.${i}.0/24`] },
    status: {
      addresses: [{ type: 'InternalIP', address: `192.168.56.${11 + i}` }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  }));
  const pods: V1Pod[] = NODES.map((node) => ({
    metadata: { name: `kube-flannel-ds-${node}`, namespace: 'kube-flannel' },
    spec: { nodeName: node, containers: [{ name: 'kube-flannel', image: 'flannel:v0.28.9' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'kube-flannel',
          ready: true,
          restartCount: 0,
          image: 'flannel:v0.28.9',
          imageID: '',
          state: { running: {} },
        },
      ],
    },
  }));
  const client = {
    listDaemonSets: async (ns: string) => (ns === 'kube-flannel' ? [ds] : []),
    readDaemonSet: async () => ds,
    readConfigMap: async () => cm,
    listPods: async () => pods,
    listNodes: async () => nodes,
    readPodLog: async () => `${LOG_LINES.join('\n')}\n`,
    listNetworkPolicies: async () => [],
  };
  return client as unknown as KubeClient;
}

function nodeRunner(i: number): CommandRunner {
  const inner = localRunner();
  const served = (argv: readonly string[], stdout: string, stderr = '') => ({
    argv,
    exitCode: 0,
    stdout,
    stderr,
    durationMs: 0,
  });
  const listing = `#confdir\n10-flannel.conflist\n#active 10-flannel.conflist\n${NODE_CNI_CONFS[i % NODE_CNI_CONFS.length]}\n\n#bindir\nflannel\nportmap\n`;
  return {
    description: `corpus node ${i}`,
    run: async (argv, o) => {
      const line = argv.join(' ');
      if (line === 'ip xfrm state') return served(argv, XFRM_STATES[i % XFRM_STATES.length]!);
      if (line === 'wg show all dump') return served(argv, WG_DUMP);
      if (line === 'uname -r') return served(argv, '6.1.0\n', STDERR_LINE);
      if (argv[0] === 'sh' && (argv[2] ?? '').includes('#confdir')) return served(argv, listing);
      return inner.run(argv, o);
    },
  };
}

async function collect(netConf: string, withHosts: boolean): Promise<Snapshot> {
  const read = await readClusterState(fakeClient(netConf), {});
  const hosts: Record<string, { status: 'ok'; data: HostState }> = {};
  if (withHosts) {
    for (const [i, node] of NODES.entries())
      hosts[node] = {
        status: 'ok',
        data: await collectHost(node, nodeRunner(i), { keepKeys: false, peerAddresses: [] }),
      };
  }
  return {
    schemaVersion: 1,
    collectedAt: '2026-12-01T09:00:00.000Z',
    source: { kind: 'cluster', description: 'secrets corpus', toolVersion: 'test', keysIncluded: false },
    cluster: read.state,
    hosts,
    errors: [],
  };
}

function cli(args: string[]) {
  return spawnSync(join(ROOT, 'bin/kubectl-flannel'), args, {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, NO_COLOR: '1' },
  });
}

/** Every file of a bundle, extracted by the system's tar. */
function bundleContents(file: string): { name: string; text: string }[] {
  const out = mkdtempSync(join(dir, 'x-'));
  execFileSync('tar', ['xzf', file, '-C', out]);
  const files: { name: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else files.push({ name: p.slice(out.length + 1), text: readFileSync(p, 'utf8') });
    }
  };
  walk(out);
  return files;
}

// ---------------------------------------------------------------------------------------------

let snapshot: Snapshot;
let snapFile: string;
before(async () => {
  snapshot = await collect(NET_CONFS[1]!.text, true);
  snapFile = join(dir, 'snapshot.json');
  writeFileSync(snapFile, JSON.stringify(snapshot));
});

test('the corpus has at least 50 secret placements, all distinct', () => {
  const markers = allPlacements().map((p) => p.marker);
  assert.ok(markers.length >= 50, `${markers.length} placements`);
  assert.equal(new Set(markers).size, markers.length);
  // Every marker is in an input: the corpus is not checking strings nobody feeds in.
  const inputs = [
    ...NET_CONFS.map((n) => n.text),
    CNI_CONF_CONFIGMAP,
    ...NODE_CNI_CONFS,
    ...LOG_LINES,
    ...XFRM_STATES,
    WG_DUMP,
    STDERR_LINE,
    ...DAEMONSET_ARGS,
  ].join('\n');
  for (const p of allPlacements()) assert.ok(inputs.includes(p.marker), p.id);
});

test('collection removes every secret: the snapshot as collected holds no marker', () => {
  noLeak('snapshot', JSON.stringify(snapshot));
  // What must survive: public keys, SPIs, digests, the shape of net-conf.json, log lines that diagnose.
  const text = JSON.stringify(snapshot);
  assert.match(text, /mkolDLFFr6plA18fAASvhZviO9xFxdoeVIASfx8vjXI=/, 'WireGuard public keys are kept');
  assert.match(text, /spi 0xcfc2f79d reqid 11/, 'SPIs are kept');
  assert.match(text, /<redacted sha256:[0-9a-f]{16}>/, 'key digests are kept');
  assert.match(text, /password is too short/, 'a diagnostic log line is kept');
  const f = snapshot.cluster.flannel;
  assert.equal(f.status, 'ok');
  if (f.status !== 'ok') return;
  assert.match(f.data.netConfRaw ?? '', /'Network': '10\.244\.0\.0\/16'/);
  assert.match(f.data.netConfRaw ?? '', /'Type': 'ipsec'/);
  assert.match(f.data.cniConfRaw ?? '', /"type": "flannel"/);
  assert.match(f.data.cniConfRaw ?? '', /"hairpinMode": true/);
  for (const h of Object.values(snapshot.hosts)) {
    assert.equal(h.status, 'ok');
    if (h.status === 'ok') assert.equal(h.data.wireguard.status, 'failed', 'the malformed wg lines are reported');
  }
});

test('doctor --from: text, json and yaml reports, and the --save file, hold no marker (real CLI)', () => {
  const saved = join(dir, 'saved.json');
  const json = cli(['doctor', '--from', snapFile, '-o', 'json', '--save', saved]);
  assert.ok([0, 1, 2].includes(json.status ?? -1), json.stderr);
  noLeak('doctor -o json', json.stdout + json.stderr);
  noLeak('--save file', readFileSync(saved, 'utf8'));
  for (const o of ['text', 'yaml']) {
    const r = cli(['doctor', '--from', snapFile, '-o', o]);
    assert.ok([0, 1, 2].includes(r.status ?? -1), r.stderr);
    noLeak(`doctor -o ${o}`, r.stdout + r.stderr);
  }
  // netconf-invalid still reports the broken file, quoting what is safe to quote.
  assert.match(json.stdout, /"check": "netconf-invalid"/);
  assert.match(json.stdout, /'Network': '10\.244\.0\.0\/16'/);
});

test('bundle: every file of the archive holds no marker (real CLI)', () => {
  const file = join(dir, 'b.tar.gz');
  const r = cli(['bundle', '--from', snapFile, '-f', file]);
  assert.equal(r.status, 0, r.stderr);
  noLeak('bundle stderr', r.stderr);
  const files = bundleContents(file);
  assert.ok(files.some((f) => f.name.endsWith('cluster/net-conf.json')));
  assert.ok(files.some((f) => f.name.endsWith('nodes/node1/xfrm.state_text.txt')));
  for (const f of files) noLeak(`bundle file ${f.name}`, f.text);
});

test('the guard: a snapshot with secrets left in (as older versions saved them) gives a clean bundle and --save file', () => {
  // Put every secret back where an older version, or a collector bug, would have left it.
  const f = snapshot.cluster.flannel;
  assert.equal(f.status, 'ok');
  if (f.status !== 'ok') return;
  const leaky: Snapshot = {
    ...snapshot,
    cluster: {
      ...snapshot.cluster,
      flannel: {
        status: 'ok',
        data: {
          ...f.data,
          netConfRaw: NET_CONFS[1]!.text,
          cniConfRaw: CNI_CONF_CONFIGMAP,
          daemonSet: f.data.daemonSet ? { ...f.data.daemonSet, args: DAEMONSET_ARGS } : null,
        },
      },
      flannelPods:
        snapshot.cluster.flannelPods.status === 'ok'
          ? { status: 'ok', data: snapshot.cluster.flannelPods.data.map((p) => ({ ...p, logTail: LOG_LINES })) }
          : snapshot.cluster.flannelPods,
    },
    hosts: Object.fromEntries(
      Object.entries(snapshot.hosts).map(([n, h], i) => [
        n,
        h.status !== 'ok'
          ? h
          : {
              status: 'ok',
              data: {
                ...h.data,
                raw: h.data.raw.map((r) =>
                  r.id.startsWith('xfrm.state')
                    ? { ...r, stdout: XFRM_STATES[i % XFRM_STATES.length]! }
                    : r.id.startsWith('wireguard')
                      ? { ...r, stdout: WG_DUMP }
                      : r.id.startsWith('cni')
                        ? {
                            ...r,
                            stdout: `#active x.conflist\n${NODE_CNI_CONFS[i % NODE_CNI_CONFS.length]}\n#bindir\n`,
                          }
                        : { ...r, stderr: STDERR_LINE },
                ),
              },
            },
      ]),
    ),
  };
  assert.notEqual(findLeak(JSON.stringify(leaky)), null, 'the leaky snapshot does hold the secrets');
  const file = join(dir, 'leaky.json');
  writeFileSync(file, JSON.stringify(leaky));
  const bundle = join(dir, 'leaky.tar.gz');
  const r = cli(['bundle', '--from', file, '-f', bundle]);
  assert.equal(r.status, 0, r.stderr);
  for (const x of bundleContents(bundle)) noLeak(`guarded bundle file ${x.name}`, x.text);
  const saved = join(dir, 'leaky-saved.json');
  cli(['doctor', '--from', file, '-o', 'json', '--save', saved]);
  noLeak('guarded --save file', readFileSync(saved, 'utf8'));
});

test('every net-conf.json variant: collected, analysed, rendered in every format and bundled, no marker', async () => {
  for (const nc of NET_CONFS) {
    const snap = await collect(nc.text, false);
    const report = buildReport(snap, analyze(snap));
    const outputs = [
      JSON.stringify(snap),
      renderText(report, styleFor({ isTTY: false }, {}, true)),
      renderJSON(report),
      renderYAML(report),
      JSON.stringify(guardSnapshot(snap, { keepXfrmKeys: false })),
      ...bundleFiles(snap, renderText(report, styleFor({ isTTY: false }, {}, true)), renderJSON(report)).map((f) =>
        typeof f.content === 'string' ? f.content : f.content.toString('latin1'),
      ),
    ];
    for (const [i, o] of outputs.entries()) noLeak(`${nc.id} output ${i}`, o);
    // The text that may be shown still says what flanneld would see.
    const f = snap.cluster.flannel;
    if (f.status === 'ok') assert.match(f.data.netConfRaw ?? '', /10\.244\.0\.0\/16/, nc.id);
  }
});

test('capture: warnings and summary over every corpus xfrm state hold no key (real CLI)', () => {
  for (const [i, state] of XFRM_STATES.entries()) {
    const s = join(dir, `state-${i}.txt`);
    writeFileSync(s, state);
    const r = cli([
      'capture',
      '-r',
      join(ROOT, 'fixtures/pcap/esp-mix.pcap'),
      '--xfrm-state',
      s,
      '--decrypt-esp',
      '-w',
      join(dir, `out-${i}.pcap`),
    ]);
    assert.ok([0, 3].includes(r.status ?? -1), r.stderr);
    noLeak(`capture stderr (state ${i})`, r.stdout + r.stderr);
    if (i === 2) assert.match(r.stderr, /warning: .* line \d+: /, 'the malformed records are reported');
  }
});

test('the guard changes nothing on a snapshot without secrets: every fixture snapshot stays byte for byte', () => {
  const base = join(ROOT, 'fixtures/snapshots');
  let n = 0;
  for (const b of readdirSync(base)) {
    for (const f of readdirSync(join(base, b))) {
      const s = JSON.parse(readFileSync(join(base, b, f), 'utf8')) as Snapshot;
      assert.equal(JSON.stringify(guardSnapshot(s, { keepXfrmKeys: false })), JSON.stringify(s), `${b}/${f}`);
      n++;
    }
  }
  assert.ok(n >= 50, `${n} fixtures`);
});
