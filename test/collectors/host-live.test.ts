// collectHost through the local runner against a real vxlan/bridge node built in fresh
// network namespaces (see netns-lab.ts). Needs root; skipped otherwise.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { routeDecisionsCommand } from '../../src/collectors/node/commands.js';
import { collectHost } from '../../src/collectors/node/host.js';
import { localRunner } from '../../src/collectors/node/local.js';
import type { CommandRunner } from '../../src/collectors/node/runner.js';
import type { Collected } from '../../src/snapshot/types.js';
import { buildVxlanLab, canBuildLab, PEER_VTEP_MAC, VTEP_MAC } from './netns-lab.js';

const skip = canBuildLab() ? false : 'needs root to create network namespaces';
const hasBusybox = (() => {
  try {
    execFileSync('busybox', ['true']);
    return true;
  } catch {
    return false;
  }
})();

function ok<T>(c: Collected<T>, what: string): T {
  assert.equal(c.status, 'ok', `${what}: ${c.status !== 'ok' ? c.error : ''}`);
  return (c as { data: T }).data;
}

test('collectHost reads a real flannel vxlan node: flannel.1, neigh, fdb, routes, cni0, subnet.env, iptables', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  const dir = mkdtempSync(join(tmpdir(), 'kf-subnet-'));
  t.after(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const subnetEnvPath = join(dir, 'subnet.env');
  writeFileSync(
    subnetEnvPath,
    'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
  );

  const host = await collectHost('node-1', localRunner({ netns: lab.node }), {
    keepKeys: false,
    peerAddresses: ['192.168.56.12', '10.244.2.7'],
    subnetEnvPath,
  });

  assert.equal(host.node, 'node-1');
  assert.deepEqual(JSON.parse(JSON.stringify(host)), host, 'plain JSON: the snapshot round-trips through a file');
  assert.equal(host.via, `netns ${lab.node}`);
  assert.match(host.kernel ?? '', /^\d+\.\d+/);

  const links = ok(host.links, 'links');
  const flannel = links.find((l) => l.name === 'flannel.1');
  assert.equal(flannel?.kind, 'vxlan');
  assert.equal(flannel?.detailsMissing, undefined);
  assert.deepEqual(flannel?.vxlan, {
    id: 1,
    local: '192.168.56.11',
    dev: 'eth0',
    port: 8472,
    learning: false,
    gbp: false,
  });
  assert.equal(flannel?.mac, VTEP_MAC);
  assert.deepEqual(
    flannel?.addresses.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    ['10.244.1.0/32'],
  );
  const cni0 = links.find((l) => l.name === 'cni0');
  assert.equal(cni0?.kind, 'bridge');
  assert.deepEqual(
    cni0?.addresses.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    ['10.244.1.1/24'],
  );
  assert.equal(links.find((l) => l.name === 'veth0')?.master, 'cni0');

  const neigh = ok(host.neighbours, 'neighbours').find((x) => x.dev === 'flannel.1');
  assert.deepEqual(neigh, { dst: '10.244.2.0', dev: 'flannel.1', lladdr: PEER_VTEP_MAC, state: ['PERMANENT'] });

  const fdb = ok(host.fdb, 'fdb').filter((e) => e.dev === 'flannel.1');
  assert.deepEqual(
    fdb.map((e) => [e.mac, e.dst, e.state, e.flags]),
    [[PEER_VTEP_MAC, '192.168.56.12', 'permanent', ['self']]],
  );

  const routes = ok(host.routes, 'routes');
  const overlay = routes.find((r) => r.dst === '10.244.2.0/24');
  assert.equal(overlay?.gateway, '10.244.2.0');
  assert.equal(overlay?.dev, 'flannel.1');
  assert.deepEqual(overlay?.flags, ['onlink']);
  assert.equal(routes.find((r) => r.dst === '10.244.1.0/24' && r.table === 'main')?.dev, 'cni0');
  assert.ok(
    routes.some((r) => r.family === 'inet6'),
    'IPv6 routes collected too',
  );

  assert.deepEqual(ok(host.subnetEnv, 'subnetEnv'), {
    network: '10.244.0.0/16',
    subnet: '10.244.1.1/24',
    ipv6Network: null,
    ipv6Subnet: null,
    mtu: 1450,
    ipMasq: true,
  });
  const sysctls = ok(host.sysctls, 'sysctls');
  assert.match(sysctls['net.ipv4.ip_forward'] ?? '', /^[01]$/);
  assert.ok('net.ipv4.conf.flannel.1.rp_filter' in sysctls, 'per-interface rp_filter of flannel.1');

  const routeGets = ok(host.routeGets, 'routeGets');
  assert.equal(routeGets['192.168.56.12']?.gateway, null, 'the peer is on-link');
  assert.equal(routeGets['192.168.56.12']?.dev, 'eth0');
  assert.equal(routeGets['10.244.2.7']?.dev, 'flannel.1');
  assert.equal(routeGets['10.244.2.7']?.prefsrc, '10.244.1.0', 'host traffic to remote pods leaves from the /32');

  const firewall = ok(host.firewall, 'firewall');
  const nftNat = firewall.iptables.find((d) => d.backend === 'nft' && d.family === 'inet')?.tables['nat'];
  assert.equal(nftNat?.chains['FLANNEL-POSTRTG']?.policy, '-');
  assert.deepEqual(
    nftNat?.rules.map((r) => r.chain),
    ['POSTROUTING', 'FLANNEL-POSTRTG'],
  );
  assert.equal(
    firewall.iptables.some((d) => d.backend === 'legacy' && d.family === 'inet' && 'nat' in d.tables),
    false,
  );
  assert.match(firewall.nftRuleset ?? '', /chain FLANNEL-POSTRTG/);

  // No xfrm state on a vxlan node: collected, parsed, empty.
  assert.deepEqual(ok(host.xfrmStates, 'xfrmStates'), []);
  assert.deepEqual(ok(host.xfrmPolicies, 'xfrmPolicies'), []);
  const linksRaw = host.raw.find((r) => r.id === 'links:json');
  assert.equal(linksRaw?.exitCode, 0);
  assert.equal(
    host.raw.some((r) => r.fallbackReason !== undefined),
    false,
    'iproute2 6.1 needs no fallback',
  );
});

test('busybox ip: the JSON forms fail and the collector falls back to text, recording why', {
  skip: skip || (hasBusybox ? false : 'busybox not installed (scripts/setup.sh installs it)'),
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const inner = localRunner({ netns: lab.node });
  // Real busybox `ip` on the same kernel state: what a minimal node image offers.
  const busybox: CommandRunner = {
    description: 'busybox',
    run: (argv, o) => inner.run(argv[0] === 'ip' ? ['busybox', ...argv] : argv, o),
  };
  const host = await collectHost('node-1', busybox, { keepKeys: false, peerAddresses: ['192.168.56.12'] });

  const flannel = ok(host.links, 'links').find((l) => l.name === 'flannel.1');
  assert.equal(flannel?.mac, VTEP_MAC);
  assert.ok(flannel?.addresses.some((a) => a.local === '10.244.1.0' && a.prefixlen === 32));
  assert.equal(flannel?.detailsMissing, true, 'busybox gives no kind: unknown, not "plain device"');
  const plain = host.raw.find((r) => r.id === 'links:plain');
  assert.match(plain?.fallbackReason ?? '', /^ip -d addr show: exit 1/);
  assert.match(host.raw.find((r) => r.id === 'links:text')?.fallbackReason ?? '', /^ip -j -d addr show: exit 1/);

  assert.ok(
    ok(host.routes, 'routes').some(
      (r) => r.dst === '10.244.2.0/24' && r.gateway === '10.244.2.0' && r.flags.includes('onlink'),
    ),
  );
  assert.ok(ok(host.neighbours, 'neighbours').some((n) => n.dst === '10.244.2.0' && n.state.includes('PERMANENT')));
  assert.ok(ok(host.rules, 'rules').some((r) => r.priority === 32766));
  assert.equal(ok(host.routeGets, 'routeGets')['192.168.56.12']?.dev, 'eth0');
  assert.ok(host.raw.some((r) => r.id === 'routes.inet:text' && r.fallbackReason !== undefined));
});

test('bridge missing from PATH: fdb is unavailable, everything else still collected', { skip }, async (t) => {
  const lab = buildVxlanLab();
  const bin = mkdtempSync(join(tmpdir(), 'kf-path-'));
  t.after(() => {
    lab.destroy();
    rmSync(bin, { recursive: true, force: true });
  });
  for (const tool of ['ip', 'sh', 'cat', 'uname']) {
    const path = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    symlinkSync(path, join(bin, tool));
  }
  const host = await collectHost('node-1', localRunner({ netns: lab.node, env: { PATH: bin } }), {
    keepKeys: false,
    peerAddresses: [],
  });
  assert.equal(host.fdb.status, 'unavailable');
  assert.match('error' in host.fdb ? host.fdb.error : '', /^bridge -j fdb show: not installed/);
  assert.equal(host.wireguard.status, 'unavailable');
  assert.equal(host.firewall.status, 'unavailable');
  ok(host.links, 'links');
  ok(host.routes, 'routes');
  ok(host.neighbours, 'neighbours');
  ok(host.sysctls, 'sysctls');
});

test('namespace deleted mid-run: later parts fail with the command and stderr, earlier ones stay ok', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const inner = localRunner({ netns: lab.node });
  let deleted = false;
  const deleting: CommandRunner = {
    description: inner.description,
    run: (argv, o) => {
      if (argv[0] === 'bridge' && !deleted) {
        execFileSync('ip', ['netns', 'del', lab.node]);
        deleted = true;
      }
      return inner.run(argv, o);
    },
  };
  const host = await collectHost('node-1', deleting, { keepKeys: false, peerAddresses: [], concurrency: 1 });
  ok(host.links, 'links');
  ok(host.routes, 'routes');
  ok(host.neighbours, 'neighbours');
  assert.equal(host.fdb.status, 'failed');
  assert.match('error' in host.fdb ? host.fdb.error : '', /^bridge fdb show: exit \d+: Cannot open network namespace/);
  assert.equal(host.sysctls.status, 'failed');
  const fdbRaw = host.raw.filter((r) => r.id.startsWith('fdb:'));
  assert.deepEqual(
    fdbRaw.map((r) => r.id),
    ['fdb:json', 'fdb:text'],
  );
});

test('an ip that ignores -j (iproute2 before JSON support for a subcommand) falls back on the parse error', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const inner = localRunner({ netns: lab.node });
  // Real iproute2, run without -j for `route` and `neigh`: the text such versions print when given -j.
  const ignoresJ: CommandRunner = {
    description: inner.description,
    run: (argv, o) =>
      inner.run(
        argv[0] === 'ip' && (argv.includes('route') || argv.includes('neigh')) ? argv.filter((a) => a !== '-j') : argv,
        o,
      ),
  };
  const host = await collectHost('node-1', ignoresJ, { keepKeys: false, peerAddresses: ['192.168.56.12'] });
  const overlay = ok(host.routes, 'routes').find((r) => r.dst === '10.244.2.0/24');
  assert.deepEqual([overlay?.gateway, overlay?.dev, overlay?.flags], ['10.244.2.0', 'flannel.1', ['onlink']]);
  assert.equal(ok(host.neighbours, 'neighbours').find((n) => n.dev === 'flannel.1')?.lladdr, PEER_VTEP_MAC);
  assert.equal(ok(host.routeGets, 'routeGets')['192.168.56.12']?.dev, 'eth0');
  assert.match(
    host.raw.find((r) => r.id === 'routes.inet:text')?.fallbackReason ?? '',
    /^ip -4 -j route show table all: line 1: not valid JSON/,
  );
  assert.equal(
    host.raw.find((r) => r.id === 'links:text'),
    undefined,
    'links needed no fallback',
  );
});

test('one ip -batch answers every route question: node and forwarded pod traffic, JSON and text alike', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  execFileSync('ip', ['netns', 'exec', lab.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const runner = localRunner({ netns: lab.node });
  const plan = { dsts: ['10.244.2.1', '10.244.2.254', '10.99.0.1'], podSource4: '10.244.1.2', podSource6: null };
  const host = await collectHost('node-1', runner, {
    keepKeys: false,
    peerAddresses: ['192.168.56.12'],
    routeDecisions: plan,
  });
  const d = ok(host.routeDecisions!, 'routeDecisions');
  const get = (dst: string, as: 'node' | 'pod') => d.find((x) => x.dst === dst && x.as === as);
  assert.equal(d.length, 8, 'public IP and three podCIDR addresses, each as node and as pod');
  for (const as of ['node', 'pod'] as const) {
    assert.equal(get('10.244.2.1', as)?.dev, 'flannel.1');
    assert.equal(get('10.244.2.1', as)?.gateway, '10.244.2.0');
    assert.equal(get('10.244.2.254', as)?.dev, 'flannel.1');
    assert.equal(get('10.99.0.1', as)?.error, 'Network is unreachable');
  }
  assert.equal(get('10.244.2.1', 'pod')?.src, '10.244.1.2');
  assert.equal(get('10.244.2.1', 'pod')?.iif, undefined, 'cni0, the default, is not recorded');
  assert.equal(get('10.244.2.1', 'node')?.prefsrc, '10.244.1.0');
  // The public IP's answer from the batch also serves the on-link tests.
  assert.equal(ok(host.routeGets, 'routeGets')['192.168.56.12']?.gateway, null);
  assert.equal(ok(host.routeGets, 'routeGets')['192.168.56.12']?.dev, 'eth0');
  assert.equal(host.raw.filter((r) => r.id.startsWith('routeGet')).length, 0, 'no per-address route get');
  const cmd = routeDecisionsCommand({ ...plan, dsts: ['192.168.56.12', ...plan.dsts] });
  const [json, text] = cmd.forms.map((f) => runner.run(f.argv).then((r) => f.parse(r.stdout)));
  assert.deepEqual((await text!).errors, []);
  assert.deepEqual((await text!).value, (await json!).value);
});

test('Canal (no cni0): forwarded pod traffic is asked from the first pod behind its cali veth, JSON and text alike', {
  skip,
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const x = (...argv: string[]) => execFileSync('ip', ['netns', 'exec', lab.node, ...argv]);
  x('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  // Calico's CNI: no bridge, each pod a veth cali<hash> with a /32 host route to its address
  x('ip', 'link', 'del', 'cni0');
  x('ip', 'link', 'add', 'cali1a2b3c4d5e6', 'type', 'veth', 'peer', 'name', 'podside');
  x('ip', 'link', 'set', 'cali1a2b3c4d5e6', 'up');
  x('ip', 'link', 'set', 'podside', 'up');
  x('ip', 'route', 'add', '10.244.1.7/32', 'dev', 'cali1a2b3c4d5e6', 'scope', 'link');
  const runner = localRunner({ netns: lab.node });
  // the plan is made before the node is read: it names cni0's + 1 as the pod source
  const plan = { dsts: ['10.244.2.1', '10.244.2.254'], podSource4: '10.244.1.2', podSource6: null };
  const host = await collectHost('node-1', runner, { keepKeys: false, peerAddresses: [], routeDecisions: plan });
  const pods = ok(host.routeDecisions!, 'routeDecisions').filter((d) => d.as === 'pod');
  assert.equal(pods.length, 2);
  for (const d of pods) {
    assert.equal(d.error, null, `${d.dst}: ${d.error}`);
    assert.equal(d.iif, 'cali1a2b3c4d5e6', 'asked as entering by the pod veth');
    assert.equal(d.src, '10.244.1.7', "with that pod's address");
    assert.equal(d.dev, 'flannel.1');
  }
  const cmd = routeDecisionsCommand(plan);
  const [json, text] = cmd.forms.map((f) => runner.run(f.argv).then((r) => f.parse(r.stdout)));
  assert.deepEqual((await text!).errors, []);
  assert.deepEqual((await text!).value, (await json!).value);
});
