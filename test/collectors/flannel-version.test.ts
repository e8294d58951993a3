// flannel's version from what the cluster shows per packaging: image references as registries spell them,
// rancher's build-suffixed tags, and k3s's kubelet version.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { imageTag, k3sVersion, versionFromTag } from '../../src/collectors/api/flannel-version.js';

test('imageTag: the tag after the last colon of the last path segment; none for a port or a digest only', () => {
  assert.equal(imageTag('ghcr.io/flannel-io/flannel:v0.28.9'), 'v0.28.9');
  assert.equal(imageTag('docker.io/flannel/flannel:v0.26.1@sha256:' + 'a'.repeat(64)), 'v0.26.1');
  assert.equal(imageTag('registry.local:5000/flannel:v0.27.0'), 'v0.27.0');
  assert.equal(imageTag('registry.local:5000/flannel'), null);
  assert.equal(imageTag('flannel@sha256:' + 'b'.repeat(64)), null);
  assert.equal(imageTag('flannel:'), null);
});

test('versionFromTag: the leading vX.Y.Z, the tag itself otherwise, "unknown" without one', () => {
  assert.equal(versionFromTag('v0.28.9'), 'v0.28.9');
  assert.equal(versionFromTag('v0.25.1-build20240910'), 'v0.25.1');
  assert.equal(versionFromTag('latest'), 'latest');
  assert.equal(versionFromTag(null), 'unknown');
});

test('k3sVersion: a node whose kubelet reports +k3s, else null (kubeadm, RKE2)', () => {
  const node = (v: string) => ({ status: { nodeInfo: { kubeletVersion: v } } }) as V1Node;
  assert.equal(k3sVersion([node('v1.33.4+k3s1')]), 'v1.33.4+k3s1');
  assert.equal(k3sVersion([node('v1.36.3'), node('v1.33.4+rke2r1')]), null);
  assert.equal(k3sVersion([]), null);
});
