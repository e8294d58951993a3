/**
 * Error mapping. The transport errors here are real: a closed port, an unresolvable name and a
 * server that never answers, reached through client-node's real fetch and exec paths. The
 * API-status cases (403/404/401) need an API server with RBAC; those run against the lab in
 * lab.test.ts. The ApiException cases below are built by client-node's own class, as it does for
 * a non-2xx answer, to pin the body parsing.
 */

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/client.js';
import { KubeAccessError, toKubeAccessError } from '../../src/kube/errors.js';
import { execInPod, makeExec } from '../../src/kube/exec.js';

function kcFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('ApiException bodies map to forbidden / not-found / unauthorized, naming verb and resource', () => {
  const forbidden = new ApiException(
    403,
    'Forbidden',
    JSON.stringify({
      kind: 'Status',
      reason: 'Forbidden',
      message: 'pods "x" is forbidden: User "system:serviceaccount:d:limited" cannot create resource "pods/exec"',
    }),
    {},
  );
  const e = toKubeAccessError(forbidden, {
    verb: 'create',
    resource: 'pods/exec',
    namespace: 'kube-flannel',
    name: 'x',
  });
  assert.equal(e.kind, 'forbidden');
  assert.match(
    e.message,
    /^permission denied: cannot create pods\/exec x in namespace kube-flannel \(RBAC needs verb "create" on resource "pods\/exec"/,
  );
  assert.match(e.message, /cannot create resource "pods\/exec"/);
  const nf = toKubeAccessError(
    new ApiException(
      404,
      'Not Found',
      Buffer.from('{"reason":"NotFound","message":"configmaps \\"kube-flannel-cfg\\" not found"}'),
      {},
    ),
    {
      verb: 'get',
      resource: 'configmaps',
      namespace: 'kube-flannel',
      name: 'kube-flannel-cfg',
    },
  );
  assert.equal(nf.kind, 'not-found');
  assert.match(nf.message, /configmaps "kube-flannel-cfg" not found/);
  const unauth = toKubeAccessError(new ApiException(401, 'Unauthorized', undefined, {}), {
    verb: 'list',
    resource: 'nodes',
  });
  assert.equal(unauth.kind, 'unauthorized');
  assert.match(unauth.message, /rejected the credentials \(401\) while trying to list nodes: HTTP 401/);
});

test('a closed port is "unreachable" with the real cause (ECONNREFUSED), via client-node fetch', async () => {
  const port = await closedPort();
  const client = new KubeClient(kcFor(`https://127.0.0.1:${port}`), 5000);
  await assert.rejects(client.listNodes(), (e: unknown) => {
    assert.ok(e instanceof KubeAccessError);
    assert.equal(e.kind, 'unreachable');
    assert.match(e.message, /cannot reach the API server to list nodes: .*ECONNREFUSED/);
    return true;
  });
});

test('a server that accepts and never answers hits --request-timeout as kind "timeout"', async (t) => {
  const sockets: net.Socket[] = [];
  const srv = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    srv.close();
  });
  const port = (srv.address() as net.AddressInfo).port;
  const client = new KubeClient(kcFor(`https://127.0.0.1:${port}`), 300);
  const started = Date.now();
  await assert.rejects(client.readConfigMap('kube-flannel', 'kube-flannel-cfg'), (e: unknown) => {
    assert.ok(e instanceof KubeAccessError);
    assert.equal(e.kind, 'timeout');
    assert.match(e.message, /timed out trying to get configmaps kube-flannel-cfg in namespace kube-flannel/);
    return true;
  });
  assert.ok(Date.now() - started < 5000);
  // Exec's WebSocket handshake against the same black hole is bounded by the exec deadline.
  await assert.rejects(
    execInPod(makeExec(kcFor(`https://127.0.0.1:${port}`)), {
      namespace: 'n',
      pod: 'p',
      container: 'c',
      argv: ['true'],
      timeoutMs: 300,
    }),
    (e: unknown) =>
      e instanceof KubeAccessError && e.kind === 'timeout' && /create pods\/exec p in namespace n/.test(e.message),
  );
});

test('exec to a closed port is unreachable, not a crash', async () => {
  const port = await closedPort();
  await assert.rejects(
    execInPod(makeExec(kcFor(`https://127.0.0.1:${port}`)), {
      namespace: 'n',
      pod: 'p',
      container: 'c',
      argv: ['true'],
      timeoutMs: 3000,
    }),
    (e: unknown) => e instanceof KubeAccessError && e.kind === 'unreachable' && /ECONNREFUSED/.test(e.message),
  );
});
