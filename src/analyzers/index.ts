/**
 * The registry: every check, listed explicitly and sorted by ID. `docs/checks.md` is
 * generated from it, and a test fails when the two drift apart.
 */
import type { Check } from './check.js';
import backendTypeMismatch from './checks/backend-type-mismatch.js';
import blackholeRoute from './checks/blackhole-route.js';
import brNetfilter from './checks/br-netfilter.js';
import cniConfig from './checks/cni-config.js';
import cni0Address from './checks/cni0-address.js';
import collectionIncomplete from './checks/collection-incomplete.js';
import firewallModeConflict from './checks/firewall-mode-conflict.js';
import flannelDevice from './checks/flannel-device.js';
import flannelPodMissing from './checks/flannel-pod-missing.js';
import flannelPodUnhealthy from './checks/flannel-pod-unhealthy.js';
import flanneldHealth from './checks/flanneld-health.js';
import forwardDrop from './checks/forward-drop.js';
import hostgwNotOnlink from './checks/hostgw-not-onlink.js';
import ipForward from './checks/ip-forward.js';
import ipsecPolicies from './checks/ipsec-policies.js';
import ipsecSa from './checks/ipsec-sa.js';
import iptablesSplit from './checks/iptables-split.js';
import leftoverBackendDevice from './checks/leftover-backend-device.js';
import masqueradeRules from './checks/masquerade-rules.js';
import mtu from './checks/mtu.js';
import mtuMixed from './checks/mtu-mixed.js';
import netconfInvalid from './checks/netconf-invalid.js';
import networkOverlap from './checks/network-overlap.js';
import networkPolicyUnenforced from './checks/network-policy-unenforced.js';
import nftablesRules from './checks/nftables-rules.js';
import nodeNetworkUnavailable from './checks/node-network-unavailable.js';
import nodeNotRegistered from './checks/node-not-registered.js';
import overlayPortBlocked from './checks/overlay-port-blocked.js';
import ownPodcidrRoute from './checks/own-podcidr-route.js';
import peerRoutes from './checks/peer-routes.js';
import podEth0Mtu from './checks/pod-eth0-mtu.js';
import podPath from './checks/pod-path.js';
import podcidrOutsideNetwork from './checks/podcidr-outside-network.js';
import podcidrOverlap from './checks/podcidr-overlap.js';
import podcidrUnset from './checks/podcidr-unset.js';
import publicIpDuplicate from './checks/public-ip-duplicate.js';
import publicIpNotLocal from './checks/public-ip-not-local.js';
import routeDecision from './checks/route-decision.js';
import staleRoutes from './checks/stale-routes.js';
import subnetEnv from './checks/subnet-env.js';
import underlayProbe from './checks/underlay-probe.js';
import underlaySamples from './checks/underlay-samples.js';
import vtepMac from './checks/vtep-mac.js';
import vxlanFdb from './checks/vxlan-fdb.js';
import vxlanNeighbours from './checks/vxlan-neighbours.js';
import vxlanPortMismatch from './checks/vxlan-port-mismatch.js';
import wireguardPeers from './checks/wireguard-peers.js';

export const CHECKS: readonly Check[] = [
  blackholeRoute,
  firewallModeConflict,
  flanneldHealth,
  nftablesRules,
  backendTypeMismatch,
  brNetfilter,
  cni0Address,
  cniConfig,
  collectionIncomplete,
  flannelDevice,
  flannelPodMissing,
  flannelPodUnhealthy,
  forwardDrop,
  hostgwNotOnlink,
  ipForward,
  ipsecPolicies,
  ipsecSa,
  iptablesSplit,
  leftoverBackendDevice,
  masqueradeRules,
  mtu,
  mtuMixed,
  podEth0Mtu,
  netconfInvalid,
  networkOverlap,
  networkPolicyUnenforced,
  nodeNetworkUnavailable,
  nodeNotRegistered,
  overlayPortBlocked,
  ownPodcidrRoute,
  peerRoutes,
  podPath,
  podcidrOutsideNetwork,
  podcidrOverlap,
  podcidrUnset,
  publicIpDuplicate,
  publicIpNotLocal,
  routeDecision,
  staleRoutes,
  subnetEnv,
  underlayProbe,
  underlaySamples,
  vtepMac,
  vxlanFdb,
  vxlanNeighbours,
  vxlanPortMismatch,
  wireguardPeers,
].sort((a, b) => a.id.localeCompare(b.id));
