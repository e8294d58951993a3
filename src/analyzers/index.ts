/**
 * The registry: every check, listed explicitly and sorted by ID. `docs/checks.md` is
 * generated from it, and a test fails when the two drift apart.
 */
import type { Check } from './check.js';
import backendTypeMismatch from './checks/backend-type-mismatch.js';
import cni0Address from './checks/cni0-address.js';
import flannelDevice from './checks/flannel-device.js';
import nodeNotRegistered from './checks/node-not-registered.js';
import ownPodcidrRoute from './checks/own-podcidr-route.js';
import peerRoutes from './checks/peer-routes.js';
import podcidrOutsideNetwork from './checks/podcidr-outside-network.js';
import podcidrOverlap from './checks/podcidr-overlap.js';
import podcidrUnset from './checks/podcidr-unset.js';
import publicIpDuplicate from './checks/public-ip-duplicate.js';
import publicIpNotLocal from './checks/public-ip-not-local.js';
import staleRoutes from './checks/stale-routes.js';
import subnetEnv from './checks/subnet-env.js';
import vtepMac from './checks/vtep-mac.js';
import vxlanFdb from './checks/vxlan-fdb.js';
import vxlanNeighbours from './checks/vxlan-neighbours.js';

export const CHECKS: readonly Check[] = [
  backendTypeMismatch,
  cni0Address,
  flannelDevice,
  nodeNotRegistered,
  ownPodcidrRoute,
  peerRoutes,
  podcidrOutsideNetwork,
  podcidrOverlap,
  podcidrUnset,
  publicIpDuplicate,
  publicIpNotLocal,
  staleRoutes,
  subnetEnv,
  vtepMac,
  vxlanFdb,
  vxlanNeighbours,
].sort((a, b) => a.id.localeCompare(b.id));
