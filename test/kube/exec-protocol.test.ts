/**
 * execInPod's handling of the exec stream protocol, against a local WebSocket server that speaks
 * the Kubernetes channel protocol (v5.channel.k8s.io: 1 stdout, 2 stderr, 3 status).
 *
 * This server is a stand-in, on purpose: the cases here are the ones a real API server cannot be
 * made to produce on demand (a stream that drops without a status, a command that never ends, a
 * status-less close after output). The ordinary cases (exit 0, non-zero exit, missing tool, RBAC
 * refusal) also run against the real kube-apiserver of the lab in lab.test.ts.
 */

import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import type net from 'node:net';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeAccessError } from '../../src/kube/errors.js';
import { execInPod, makeExec } from '../../src/kube/exec.js';

interface WsLike {
  send(data: Buffer): void;
  close(): void;
  terminate(): void;
  protocol: string;
}
const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws') as {
  WebSocketServer: new (o: {
    noServer: boolean;
    handleProtocols?: (p: Set<string>) => string;
  }) => {
    handleUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, cb: (ws: WsLike) => void): void;
    close(): void;
  };
};

function frame(channel: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([channel]), Buffer.from(text)]);
}

async function startServer(t: { after(fn: () => void): void }): Promise<{ kc: KubeConfig; seen: string[] }> {
  const seen: string[] = [];
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : [...p][0]!),
  });
  const open: WsLike[] = [];
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${req.headers.authorization} ${url.pathname} ${url.searchParams.getAll('command').join(' ')}`);
    if (url.pathname.includes('/pods/forbidden/')) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      open.push(ws);
      const cmd = url.searchParams.getAll('command');
      switch (cmd[0]) {
        case 'ok':
          ws.send(frame(1, 'hello '));
          ws.send(frame(1, 'world\n'));
          ws.send(frame(2, 'a warning\n'));
          ws.send(frame(3, JSON.stringify({ status: 'Success', metadata: {} })));
          ws.close();
          break;
        case 'fail':
          ws.send(frame(2, 'boom\n'));
          ws.send(
            frame(
              3,
              JSON.stringify({
                status: 'Failure',
                reason: 'NonZeroExitCode',
                message: 'command terminated with non-zero exit code',
                details: { causes: [{ reason: 'ExitCode', message: '3' }] },
              }),
            ),
          );
          ws.close();
          break;
        case 'missing':
          ws.send(
            frame(
              3,
              JSON.stringify({
                status: 'Failure',
                reason: 'InternalError',
                message: 'exec: "missing": executable file not found in $PATH',
              }),
            ),
          );
          ws.close();
          break;
        case 'drop':
          ws.send(frame(1, 'partial'));
          setTimeout(() => ws.terminate(), 20);
          break;
        case 'hang':
          break;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    open.forEach((w) => w.terminate());
    wss.close();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'tok' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, seen };
}

const req = { namespace: 'kube-flannel', pod: 'kube-flannel-ds-abc', container: 'kube-flannel', timeoutMs: 2000 };

test('exit 0: stdout and stderr collected, status ok; argv is sent as separate command params, with the bearer token', async (t) => {
  const { kc, seen } = await startServer(t);
  const r = await execInPod(makeExec(kc), { ...req, argv: ['ok', 'a b', '--x=1'] });
  assert.equal(r.status, 'ok');
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'hello world\n');
  assert.equal(r.stderr, 'a warning\n');
  assert.equal(r.error, undefined);
  assert.deepEqual(seen, ['Bearer tok /api/v1/namespaces/kube-flannel/pods/kube-flannel-ds-abc/exec ok a b --x=1']);
});

test('a non-zero exit code is read from the status causes', async (t) => {
  const { kc } = await startServer(t);
  const r = await execInPod(makeExec(kc), { ...req, argv: ['fail'] });
  assert.equal(r.status, 'nonzero');
  assert.equal(r.exitCode, 3);
  assert.equal(r.stderr, 'boom\n');
  assert.equal(r.toolMissing, false);
});

test('a runtime failure without exit code is "failed" and flags a missing tool', async (t) => {
  const { kc } = await startServer(t);
  const r = await execInPod(makeExec(kc), { ...req, argv: ['missing'] });
  assert.equal(r.status, 'failed');
  assert.equal(r.exitCode, null);
  assert.equal(r.toolMissing, true);
  assert.match(r.error ?? '', /executable file not found/);
});

test('a stream that closes without a status is a failure, keeping the output seen so far', async (t) => {
  const { kc } = await startServer(t);
  const r = await execInPod(makeExec(kc), { ...req, argv: ['drop'] });
  assert.equal(r.status, 'failed');
  assert.equal(r.exitCode, null);
  assert.equal(r.stdout, 'partial');
  assert.match(r.error ?? '', /connection closed \(code \d+\) before the command reported an exit status/);
});

test('a command that never ends times out at timeoutMs, and a caller abort cancels it', async (t) => {
  const { kc } = await startServer(t);
  const started = Date.now();
  const r = await execInPod(makeExec(kc), { ...req, argv: ['hang'], timeoutMs: 300 });
  assert.equal(r.status, 'timeout');
  assert.equal(r.timedOut, true);
  assert.ok(Date.now() - started < 2000);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const c = await execInPod(makeExec(kc), { ...req, argv: ['hang'], timeoutMs: 5000, signal: ac.signal });
  assert.equal(c.status, 'failed');
  assert.equal(c.error, 'cancelled');
});

test('a refused handshake (403) rejects with a forbidden KubeAccessError naming pods/exec', async (t) => {
  const { kc } = await startServer(t);
  await assert.rejects(execInPod(makeExec(kc), { ...req, pod: 'forbidden', argv: ['ok'] }), (e: unknown) => {
    assert.ok(e instanceof KubeAccessError);
    assert.equal(e.kind, 'forbidden');
    assert.match(e.message, /cannot create pods\/exec forbidden in namespace kube-flannel/);
    return true;
  });
});

test('process.stdout is never ended by the exec handler', async (t) => {
  const { kc } = await startServer(t);
  await execInPod(makeExec(kc), { ...req, argv: ['ok'] });
  assert.equal(process.stdout.writableEnded, false);
});
