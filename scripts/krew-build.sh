#!/usr/bin/env bash
# Builds krew (kubectl krew, and validate-krew-manifest, the validator krew-index runs on every manifest) from the
# Go module proxy into a cache outside the repository, once: scripts/package-test.sh installs the release with it.
#   scripts/krew-build.sh        prints the bin directory (cached: a .complete stamp makes reruns instant)
# v0.4.3 is the newest sigs.k8s.io/krew this machine's module proxy serves (v0.4.4 and v0.4.5 answer 403).
set -euo pipefail
KREW_VERSION=0.4.3
dir=${KFL_KREW_CACHE:-/var/cache/kubectl-flannel-lab}/krew-$KREW_VERSION
if [ ! -f "$dir/.complete" ]; then
  command -v go >/dev/null || { echo "krew-build: go not found on PATH (Go >= 1.22 builds krew)" >&2; exit 1; }
  rm -rf "$dir/bin" && mkdir -p "$dir/bin"
  t0=$(date +%s)
  GOBIN=$dir/bin CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-trimpath -p=2" nice -n 10 go install -ldflags='-s -w' \
    "sigs.k8s.io/krew/cmd/krew@v$KREW_VERSION" "sigs.k8s.io/krew/cmd/validate-krew-manifest@v$KREW_VERSION" >&2
  # kubectl finds plugins by name: kubectl-krew is what `kubectl krew` runs.
  mv "$dir/bin/krew" "$dir/bin/kubectl-krew"
  echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - t0 ))s with $(go version)" > "$dir/.complete"
fi
echo "$dir/bin"
