// The JSON and text forms of each command, run live, parse to the same values: on this
// machine's own network state (whatever it holds) and on a vxlan/bridge netns node. This is
// what makes the text fallback trustworthy on nodes whose ip has no -j.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FDB,
  LINKS,
  NEIGHBOURS,
  type NodeCommand,
  routesCommand,
  rulesCommand,
} from '../../src/collectors/node/commands.js';
import { localRunner } from '../../src/collectors/node/local.js';
import type { CommandRunner } from '../../src/collectors/node/runner.js';
import type { Link } from '../../src/snapshot/types.js';
import { buildVxlanLab, canBuildLab } from './netns-lab.js';

async function both<T>(runner: CommandRunner, cmd: NodeCommand<T>): Promise<[T, T]> {
  const [json, text] = cmd.forms;
  assert.ok(json && text);
  const out: T[] = [];
  for (const form of [json, text]) {
    const res = await runner.run(form.argv);
    assert.equal(res.exitCode, 0, `${form.argv.join(' ')}: ${res.stderr}`);
    const parsed = form.parse(res.stdout);
    assert.deepEqual(parsed.errors, [], form.argv.join(' '));
    out.push(parsed.value);
  }
  return [out[0] as T, out[1] as T];
}

// Links, routes and rules of this host do not change between two commands; neighbour states
// and learned fdb entries might, so those are compared on the netns node only.
test('this machine: ip -d addr, ip route, ip rule text forms equal the JSON forms', async () => {
  const host = localRunner();
  for (const cmd of [
    LINKS,
    routesCommand('inet'),
    routesCommand('inet6'),
    rulesCommand('inet'),
    rulesCommand('inet6'),
  ] as NodeCommand<unknown>[]) {
    const [json, text] = await both(host, cmd);
    assert.deepEqual(text, json, cmd.id);
  }
});

/**
 * The lab's peers sit in named namespaces, for which ip's text form prints the name (`link-netns kf…pod`) instead of
 * the id JSON gives (`link_netnsid`): that id is dropped from the JSON side where the text has none, and the pod's
 * veth must carry it in JSON (what pairs a pod's eth0 with its host veth).
 */
function withoutNamedNsid(json: readonly Link[], text: readonly Link[]): Link[] {
  assert.ok(
    json.some((l) => l.kind === 'veth' && l.linkNetnsId !== undefined),
    'JSON gives the veths their namespace id',
  );
  return json.map((l) => {
    if (l.linkNetnsId === undefined || text.find((t) => t.name === l.name)?.linkNetnsId !== undefined) return l;
    const { linkNetnsId: _id, ...rest } = l;
    return rest;
  });
}

test('vxlan/bridge netns node: every text form equals its JSON form', {
  skip: canBuildLab() ? false : 'needs root',
}, async (t) => {
  const lab = buildVxlanLab();
  t.after(() => lab.destroy());
  const node = localRunner({ netns: lab.node });
  for (const cmd of [
    LINKS,
    routesCommand('inet'),
    routesCommand('inet6'),
    rulesCommand('inet'),
    NEIGHBOURS,
    FDB,
  ] as NodeCommand<unknown>[]) {
    const [json, text] = await both(node, cmd);
    assert.deepEqual(text, cmd === LINKS ? withoutNamedNsid(json as Link[], text as Link[]) : json, cmd.id);
    assert.ok(Array.isArray(json) && json.length > 0, `${cmd.id} is not empty`);
  }
});
