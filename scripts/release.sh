#!/usr/bin/env bash
# The release: for each platform a .tar.gz with the single executable (scripts/sea.sh), LICENSE, the
# third-party licences and the kubectl_complete-flannel helper; SHA256SUMS; and the krew manifest
# plugins/flannel.yaml (krew-index layout), all in dist/release/.
#   scripts/release.sh                 build everything (tsc, bundle, executables, archives, manifest)
# Environment:
#   KFL_RELEASE_TARGETS   platforms (default: linux-amd64 linux-arm64; see scripts/sea.sh for why no darwin)
#   KFL_RELEASE_BASE_URL  where the archives will be published: the manifest's uri is BASE/ARCHIVE. The default
#                         (.invalid) says it is unset; `kubectl krew install --archive` never downloads it.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/node_modules/.bin:$PATH"
version=$(node -p 'require("./package.json").version')
tag=v$version
targets=${KFL_RELEASE_TARGETS:-linux-amd64 linux-arm64}
base=${KFL_RELEASE_BASE_URL:-https://kubectl-flannel.invalid/releases/download/$tag}
out=dist/release
T0=$(date +%s)

tsc -p tsconfig.json
node scripts/bundle.mjs
rm -rf "$out" && mkdir -p "$out/plugins"
# Archives are reproducible: fixed order, owner and times (the commit's), gzip without a name or time stamp.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)

platforms=""
for t in $targets; do
  os=${t%-*} arch=${t#*-}
  stage=$(mktemp -d)
  scripts/sea.sh "$t" "$stage/kubectl-flannel"
  cp bin/kubectl_complete-flannel "$stage/"
  cp LICENSE dist/bundle/THIRD_PARTY_LICENSES.txt "$stage/"
  chmod 755 "$stage/kubectl-flannel" "$stage/kubectl_complete-flannel"
  chmod 644 "$stage/LICENSE" "$stage/THIRD_PARTY_LICENSES.txt"
  archive=kubectl-flannel_${tag}_${os}_${arch}.tar.gz
  tar -C "$stage" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -cf - kubectl-flannel kubectl_complete-flannel LICENSE THIRD_PARTY_LICENSES.txt | gzip -n -6 > "$out/$archive"
  rm -rf "$stage"
  sum=$(sha256sum "$out/$archive" | cut -d' ' -f1)
  echo "$sum  $archive" >> "$out/SHA256SUMS"
  platforms+="
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base/$archive
    sha256: $sum
    bin: kubectl-flannel
    files:
      - from: kubectl-flannel
        to: .
      - from: kubectl_complete-flannel
        to: .
      - from: LICENSE
        to: .
      - from: THIRD_PARTY_LICENSES.txt
        to: ."
  echo "release: $out/$archive ($(( $(stat -c %s "$out/$archive") / 1048576 )) MiB, sha256 $sum)"
done

cat > "$out/plugins/flannel.yaml" <<EOF
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: flannel
spec:
  version: $tag
  shortDescription: Diagnose Flannel pod networking on every node
  description: |
    kubectl flannel doctor collects flannel's state from every node (routes, VXLAN fdb and
    neighbours, subnet.env, CNI config, iptables, xfrm, WireGuard) through the flannel pods,
    computes what flanneld must have configured for its backend, and reports every
    difference with the evidence and the command that fixes it. trace follows a packet
    hop by hop through each node's kernel tables; bundle writes a support bundle with
    secrets removed; capture decrypts flannel's IPsec (ESP) captures.
    Try it without a cluster: kubectl flannel doctor --example
  caveats: |
    Shell completion: link kubectl_complete-flannel from the plugin's directory
    (\$KREW_ROOT/store/flannel/$tag, KREW_ROOT defaults to ~/.krew) onto your PATH.
    doctor execs into the kube-flannel pods, and on some nodes starts a short-lived,
    labelled helper pod: it needs the RBAC in the project's rbac/ directory.
  platforms:$platforms
EOF
echo "release: $out/plugins/flannel.yaml ($tag; $targets) in $(( $(date +%s) - T0 ))s"
