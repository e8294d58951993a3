// Collection failures are data: with any part of a snapshot missing, every check still runs,
// none crashes, and the gap is reported by collection-incomplete instead of a false finding.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { relevantParts } from '../../src/analyzers/checks/collection-incomplete.js';
import { analyze } from '../../src/analyzers/run.js';
import { readSnapshot } from '../../src/snapshot/io.js';
import type { HostState, Snapshot } from '../../src/snapshot/types.js';
import { SIM_BACKENDS } from '../sim/cluster.js';
import { fixturePath } from '../sim/scenario.js';

const failed = { status: 'failed', error: 'exec: connection reset' } as const;

function variants(s: Snapshot): [string, Snapshot][] {
  const out: [string, Snapshot][] = [];
  for (const part of ['flannel', 'nodes', 'flannelPods', 'networkPolicies'] as const)
    out.push([`cluster.${part}`, { ...s, cluster: { ...s.cluster, [part]: failed } }]);
  const first = Object.keys(s.hosts)[0]!;
  out.push([`hosts.${first}`, { ...s, hosts: { ...s.hosts, [first]: failed } }]);
  const host = s.hosts[first]!;
  if (host.status === 'ok') {
    for (const key of Object.keys(host.data) as (keyof HostState)[]) {
      const v = host.data[key] as unknown;
      if (typeof v !== 'object' || v === null || !('status' in v)) continue;
      out.push([
        `hosts.${first}.${key}`,
        { ...s, hosts: { ...s.hosts, [first]: { status: 'ok', data: { ...host.data, [key]: failed } } } },
      ]);
    }
  }
  return out;
}

for (const backend of SIM_BACKENDS) {
  test(`partial ${backend} snapshots: no check crashes, no finding but the gap`, async () => {
    const healthy = await readSnapshot(fixturePath(backend));
    for (const [what, snap] of variants(healthy)) {
      const { findings } = analyze(snap);
      assert.ok(
        !findings.some((f) => f.message.startsWith('the check itself failed')),
        `${what}: a check crashed: ${JSON.stringify(findings)}`,
      );
      const other = findings.filter((f) => f.check !== 'collection-incomplete' && f.severity !== 'info');
      // Without the flannel install or the Node list, cluster checks go silent; nothing else may appear.
      assert.deepEqual(
        other.map((f) => `${f.check} ${f.node}: ${f.message}`),
        [],
        `${what} produced findings beyond the gap`,
      );
      const part = what.split('.').pop() as keyof HostState;
      const mustReport = what.startsWith('cluster.')
        ? true
        : !what.includes('.', 'hosts.'.length) ||
          relevantParts(backend.startsWith('vxlan') ? 'vxlan' : backend).includes(part);
      if (mustReport)
        assert.ok(
          findings.some((f) => f.check === 'collection-incomplete'),
          `${what}: the gap is reported`,
        );
    }
  });
}
