#!/usr/bin/env bash
# The npm package, a second channel beside the krew archives: the one-file bundle (scripts/bundle.mjs) as the
# kubectl-flannel command, with no dependencies, so `npm i -g kubectl-flannel-X.tgz` installs offline and
# needs only Node >= engines.node (22.19; scripts/bundle.mjs fails when a bundled package needs more). Built
# with `npm pack` from a staging directory whose package.json lists no dependencies (the repository's lists
# what the bundle was made from).
#   scripts/pack.sh            -> dist/npm/kubectl-flannel-<version>.tgz (run after scripts/bundle.mjs)
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/node_modules/.bin:$PATH"
[ -s dist/bundle/kubectl-flannel.cjs ] || { echo "pack: dist/bundle/kubectl-flannel.cjs missing; run scripts/bundle.mjs" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" dist/npm
# Extensionless and in a package without "type": Node runs it as CommonJS, which the bundle is.
cp dist/bundle/kubectl-flannel.cjs "$stage/bin/kubectl-flannel"
cp bin/kubectl_complete-flannel "$stage/bin/"
chmod 755 "$stage/bin/"*
cp LICENSE README.md dist/bundle/THIRD_PARTY_LICENSES.txt "$stage/"
cp -r rbac "$stage/"
node -e '
  const p = require("./package.json");
  const out = {
    name: p.name, version: p.version, description: p.description, license: p.license,
    bin: { "kubectl-flannel": "bin/kubectl-flannel", "kubectl_complete-flannel": "bin/kubectl_complete-flannel" },
    files: ["bin", "rbac", "THIRD_PARTY_LICENSES.txt"],
    engines: p.engines,
    keywords: ["kubectl", "kubectl-plugin", "flannel", "kubernetes", "cni", "vxlan"],
  };
  require("fs").writeFileSync(process.argv[1] + "/package.json", JSON.stringify(out, null, 2) + "\n");
' "$stage"
tgz=$(cd "$stage" && npm pack --silent --pack-destination "$OLDPWD/dist/npm")
echo "pack: dist/npm/$tgz ($(( $(stat -c %s "dist/npm/$tgz") / 1024 )) KiB)"
