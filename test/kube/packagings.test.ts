/**
 * Discovery of each flannel packaging from API objects shaped like the real ones: the kube-flannel
 * DaemonSet (Documentation/kube-flannel.yml), Canal's (projectcalico/calico manifests/canal.yaml and
 * rancher/rke2-charts rke2-canal: DaemonSet labelled k8s-app=canal in kube-system, flannel container
 * kube-flannel, ConfigMap mounted at /etc/kube-flannel/) and k3s's embedded flannel (no DaemonSet, Nodes
 * with flannel's annotations, kubeletVersion v…+k3s1). The lab runs the kube-flannel and k3s
 * packagings against a real API server (test/e2e).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ConfigMap, V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import {
  K3S_PATHS,
  locateFlannel,
  readClusterState,
  readInstall,
  STANDARD_PATHS,
} from '../../src/collectors/api/cluster.js';
import { healthzPort, parseProbe } from '../../src/collectors/node/node-files.js';
import { UserError } from '../../src/errors.js';
import type { KubeClient } from '../../src/kube/client.js';
import { KubeAccessError } from '../../src/kube/errors.js';

interface FakeApi {
  daemonSets: Record<string, V1DaemonSet[]>;
  configMaps?: Record<string, V1ConfigMap>;
  nodes?: V1Node[];
  pods?: V1Pod[];
}

function fakeClient(api: FakeApi) {
  const calls: string[] = [];
  const client = {
    async listDaemonSets(ns: string, selector?: string) {
      calls.push(`listDaemonSets ${ns} ${selector}`);
      return (api.daemonSets[ns] ?? []).filter((d) =>
        (selector ?? '').split(',').every((kv) => {
          const [k, v] = kv.split('=');
          return d.metadata?.labels?.[k!] === v;
        }),
      );
    },
    async readDaemonSet(ns: string, name: string) {
      const d = (api.daemonSets[ns] ?? []).find((x) => x.metadata?.name === name);
      if (!d)
        throw new KubeAccessError(
          'not-found',
          { verb: 'get', resource: 'daemonsets', namespace: ns, name },
          'not found',
        );
      return d;
    },
    async readConfigMap(ns: string, name: string) {
      const cm = api.configMaps?.[`${ns}/${name}`];
      if (!cm)
        throw new KubeAccessError(
          'not-found',
          { verb: 'get', resource: 'configmaps', namespace: ns, name },
          'not found',
        );
      return cm;
    },
    async listNodes() {
      calls.push('listNodes');
      return api.nodes ?? [];
    },
    async listPods() {
      calls.push('listPods');
      return api.pods ?? [];
    },
    async listNetworkPolicies() {
      return [];
    },
    async readPodLog() {
      return '';
    },
  };
  return { client: client as unknown as KubeClient, calls };
}

const NET_CONF = '{\n  "Network": "10.244.0.0/16",\n  "Backend": {\n    "Type": "vxlan"\n  }\n}\n';

function canalDaemonSet(name: string, configMap: string): V1DaemonSet {
  return {
    metadata: { name, namespace: 'kube-system', labels: { 'k8s-app': 'canal' } },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'canal' } },
      template: {
        spec: {
          containers: [
            { name: 'calico-node', image: 'quay.io/calico/node:v3.31.0', command: ['start_runit'] },
            {
              name: 'kube-flannel',
              image: 'docker.io/flannel/flannel:v0.28.9',
              command: ['/opt/bin/flanneld', '--ip-masq', '--kube-subnet-mgr'],
              volumeMounts: [{ name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' }],
            },
          ],
          volumes: [{ name: 'flannel-cfg', configMap: { name: configMap } }],
        },
      },
    },
    status: { desiredNumberScheduled: 3, numberReady: 3 } as V1DaemonSet['status'],
  };
}

function k3sNode(name: string, i: number): V1Node {
  return {
    metadata: {
      name,
      annotations: {
        'flannel.alpha.coreos.com/backend-data': `{"VNI":1,"VtepMAC":"aa:bb:cc:00:00:0${i}"}`,
        'flannel.alpha.coreos.com/backend-type': 'vxlan',
        'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
        'flannel.alpha.coreos.com/public-ip': `192.168.1.1${i}`,
        'k3s.io/node-args': '["server"]',
      },
    },
    spec: { podCIDR: `10.42.${i}.0/24`, podCIDRs: [`10.42.${i}.0/24`] },
    status: { nodeInfo: { kubeletVersion: 'v1.34.2+k3s1' } as NonNullable<V1Node['status']>['nodeInfo'] },
  };
}

test('the kube-flannel DaemonSet is found first and named as the kube-flannel packaging', async () => {
  const ds: V1DaemonSet = {
    metadata: { name: 'kube-flannel-ds', labels: { app: 'flannel' } },
    spec: {
      selector: { matchLabels: { app: 'flannel' } },
      template: {
        spec: {
          containers: [
            {
              name: 'kube-flannel',
              image: 'ghcr.io/flannel-io/flannel:v0.28.9',
              command: ['/opt/bin/flanneld'],
              args: ['--ip-masq', '--kube-subnet-mgr', '--healthz-port=8081'],
            },
          ],
        },
      },
    },
  };
  const { client } = fakeClient({
    daemonSets: { 'kube-flannel': [ds], 'kube-system': [canalDaemonSet('canal', 'x')] },
  });
  const loc = await locateFlannel(client, {});
  assert.deepEqual(loc.packaging, { kind: 'kube-flannel' });
  assert.equal(loc.configMap, 'kube-flannel-cfg');
  assert.deepEqual(loc.nodePaths, STANDARD_PATHS);
  assert.equal(healthzPort(loc.args), 8081);
});

for (const [name, cm] of [
  ['canal', 'canal-config'],
  ['rke2-canal', 'rke2-canal-config'],
] as const) {
  test(`Canal (${name}) is found by k8s-app=canal, its flannel container and ConfigMap read`, async () => {
    const { client } = fakeClient({
      daemonSets: { 'kube-system': [canalDaemonSet(name, cm)] },
      configMaps: { [`kube-system/${cm}`]: { data: { 'net-conf.json': NET_CONF, cni_network_config: '{}' } } },
    });
    const loc = await locateFlannel(client, {});
    assert.deepEqual(loc.packaging, { kind: 'canal' });
    assert.equal(loc.namespace, 'kube-system');
    assert.equal(loc.container, 'kube-flannel');
    assert.equal(loc.configMap, cm);
    assert.deepEqual(loc.args, ['--ip-masq', '--kube-subnet-mgr']);
    assert.equal(healthzPort(loc.args), null, 'Canal runs flanneld without --healthz-port');
    const install = await readInstall(client, loc);
    assert.equal(install.netConf.status, 'ok');
    assert.deepEqual(install.packaging, { kind: 'canal' });
  });
}

test("k3s: no DaemonSet, Nodes with flannel's annotations -> embedded flannel with k3s's paths, no pods", async () => {
  const nodes = [k3sNode('k3s-1', 1), k3sNode('k3s-2', 2)];
  const { client, calls } = fakeClient({ daemonSets: {}, nodes });
  const read = await readClusterState(client, {});
  assert.deepEqual(read.location.packaging, {
    kind: 'embedded',
    distribution: 'k3s',
    version: 'v1.34.2+k3s1',
    netConfPath: '/var/lib/rancher/k3s/agent/etc/flannel/net-conf.json',
  });
  assert.deepEqual(read.location.nodePaths, K3S_PATHS);
  assert.equal(read.location.daemonSet, null);
  assert.equal(read.location.namespace, 'kube-system', 'helper pods go to kube-system');
  assert.equal(read.state.flannelPods.status, 'skipped');
  assert.equal(read.state.flannel.status, 'ok');
  const f = read.state.flannel.status === 'ok' ? read.state.flannel.data : null;
  assert.equal(f?.daemonSet, null);
  assert.equal(f?.netConf.status, 'unavailable', 'net-conf.json comes from the nodes');
  assert.deepEqual(
    read.nodes.map((n) => n.name),
    ['k3s-1', 'k3s-2'],
  );
  assert.equal(calls.filter((c) => c === 'listNodes').length, 1, 'the Node list is read once');
  assert.ok(!calls.includes('listPods'), 'no flannel pods are listed for embedded flannel');
});

test('nothing flannel-like: the error names every place looked at, embedded flannel included', async () => {
  const { client } = fakeClient({ daemonSets: {}, nodes: [{ metadata: { name: 'n1', annotations: {} } }] });
  await assert.rejects(locateFlannel(client, {}), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /app=flannel in namespaces kube-flannel, kube-system/);
    assert.match(e.message, /k8s-app=canal in namespace kube-system/);
    assert.match(e.message, /embedded flannel, as in k3s/);
    return true;
  });
});

test('--flannel-namespace restricts the search: no Canal or embedded fallback', async () => {
  const { client, calls } = fakeClient({ daemonSets: {}, nodes: [k3sNode('k3s-1', 1)] });
  await assert.rejects(
    locateFlannel(client, { namespace: 'net' }),
    /looked for a DaemonSet labelled app=flannel in namespace net\./,
  );
  assert.ok(!calls.includes('listNodes'));
});

test('the health probe output is read as status codes; no answer is null', () => {
  assert.deepEqual(parseProbe('healthz 200\nreadyz 503\n'), {
    healthz: { code: 200, detail: 'HTTP 200' },
    readyz: { code: 503, detail: 'HTTP 503' },
  });
  assert.equal(parseProbe('healthz 000\nreadyz 000\n')?.healthz.code, null);
  assert.equal(parseProbe('#no-http-client\n'), null);
  assert.equal(healthzPort(['--healthz-port', '0']), null);
  assert.equal(healthzPort(['-healthz-port=9999']), 9999);
});
