// The INPUT walk behind overlay-port-blocked decides only where a rule set is plain enough to be sure.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inputVerdict } from '../../src/analyzers/checks/overlay-port-blocked.js';
import { parseRule } from '../../src/analyzers/iptables.js';

const rules = (...specs: string[]) => specs.map((s) => parseRule('INPUT', s));

test('a plain DROP of the port decides; the first matching rule wins', () => {
  assert.equal(inputVerdict(rules('-p udp -m udp --dport 8472 -j DROP'), 'ACCEPT', 8472).kind, 'dropped');
  assert.equal(inputVerdict(rules('-p udp -m udp --dport 8472 -j ACCEPT', '-j DROP'), 'ACCEPT', 8472).kind, 'accepted');
  assert.equal(
    inputVerdict(
      rules('-p udp -m multiport --dports 4789,8000:9000 -j REJECT --reject-with icmp-port-unreachable'),
      'ACCEPT',
      8472,
    ).kind,
    'dropped',
  );
  assert.equal(inputVerdict(rules('-p udp -m udp ! --dport 8472 -j DROP'), 'ACCEPT', 8472).kind, 'accepted');
  assert.equal(inputVerdict(rules('-p tcp -m tcp --dport 8472 -j DROP'), 'ACCEPT', 8472).kind, 'accepted');
});

test('a DROP policy counts only when nothing uncertain comes first', () => {
  assert.equal(inputVerdict([], 'DROP', 8472).kind, 'dropped');
  assert.equal(inputVerdict(rules('-j KUBE-FIREWALL'), 'DROP', 8472).kind, 'unknown');
  assert.equal(
    inputVerdict(rules('-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'), 'DROP', 8472).kind,
    'unknown',
  );
  assert.equal(inputVerdict(rules('-i lo -j ACCEPT', '-p udp --dport 8472 -j ACCEPT'), 'DROP', 8472).kind, 'unknown');
});

test('a DROP limited to some sources does not decide for every peer', () => {
  assert.equal(inputVerdict(rules('-s 203.0.113.0/24 -p udp --dport 8472 -j DROP'), 'ACCEPT', 8472).kind, 'accepted');
});
