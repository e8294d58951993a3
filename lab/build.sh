#!/usr/bin/env bash
# lab/lab build: builds every upstream program the lab runs, through the Go module proxy, into
# $LAB_CACHE/<component>-<version>/bin. Idempotent: a component whose .complete stamp exists is skipped.
#   build.sh [--tier a|all] [--deadline EPOCH]
# Tier a = everything except kube-controller-manager and kube-scheduler (the lab then creates flannel's
# DaemonSet pods itself). --deadline makes the build give up (exit 3) instead of starting a step it cannot finish.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

TIER=all DEADLINE=0
while [ $# -gt 0 ]; do
  case $1 in
    --tier) TIER=$2; shift 2 ;;
    --deadline) DEADLINE=$2; shift 2 ;;
    *) die "build: unknown argument '$1' (expected --tier a|all, --deadline EPOCH)" ;;
  esac
done
case $TIER in a|all) ;; *) die "build: --tier must be 'a' or 'all', got '$TIER'" ;; esac

command -v go >/dev/null || die "build: go not found on PATH (need Go >= 1.26)"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath -p=${LAB_BUILD_JOBS:-2}"
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
NICE="nice -n 10"

check_deadline() {
  if [ "$DEADLINE" -gt 0 ] && [ "$(date +%s)" -ge "$DEADLINE" ]; then
    log "build: deadline reached before '$1'; stopping (cached steps are kept)"; exit 3
  fi
}
# step NAME DIR FUNC: run FUNC to fill DIR/bin unless DIR/.complete exists; time it.
step() {
  local name=$1 dir=$2 fn=$3
  if [ -f "$dir/.complete" ]; then log "build: $name cached in $dir"; return; fi
  check_deadline "$name"
  log "build: $name -> $dir"
  rm -rf "$dir/bin"; mkdir -p "$dir/bin"
  local t0; t0=$(date +%s)
  "$fn" "$dir"
  echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - t0 ))s with $(go version)" > "$dir/.complete"
  log "build: $name done in $(( $(date +%s) - t0 ))s"
}

b_kwok() { GOBIN=$1/bin $NICE go install -ldflags='-s -w' "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"; }
b_flannel() {
  # flanneld's module has no replace directives, but one dependency (the Tencent Cloud VPC SDK, used only by the
  # tencent-vpc backend) is refused by the module proxy; a wrapper module swaps in build-stubs/tencentcloud-vpc.
  # cgo is required: the udp backend's proxy is C code on amd64 (without it the package does not compile).
  local w=$1/wrapper; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init lab.local/flannel-build >/dev/null 2>&1
  go mod edit -replace="github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc=$LAB_SRC/build-stubs/tencentcloud-vpc"
  $NICE go get "github.com/flannel-io/flannel@v$FLANNEL_VERSION"
  CGO_ENABLED=1 $NICE go build -ldflags="-s -w -X github.com/flannel-io/flannel/pkg/version.Version=v$FLANNEL_VERSION" \
    -o "$1/bin/flanneld" github.com/flannel-io/flannel
}
b_cni() {
  local p=github.com/containernetworking/plugins/plugins v=v$CNI_PLUGINS_VERSION
  GOBIN=$1/bin $NICE go install -ldflags='-s -w' \
    "$p/main/bridge@$v" "$p/main/loopback@$v" "$p/ipam/host-local@$v" "$p/meta/portmap@$v"
  GOBIN=$1/bin $NICE go install -ldflags='-s -w' "$p/meta/flannel@v$FLANNEL_CNI_VERSION"
}
b_cnitool() { GOBIN=$1/bin $NICE go install -ldflags='-s -w' "github.com/containernetworking/cni/cnitool@v$CNITOOL_VERSION"; }

# etcd's and Kubernetes' own go.mod files carry replace directives, which `go install pkg@v` refuses. A generated
# wrapper module (outside the repo, in the cache) requires them as ordinary dependencies instead.
b_etcd() {
  local w=$1/wrapper; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init lab.local/etcd-build >/dev/null 2>&1
  $NICE go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@v$ETCD_VERSION"
  $NICE go build -ldflags='-s -w' -o "$1/bin/etcd" go.etcd.io/etcd/server/v3
  $NICE go build -ldflags='-s -w' -o "$1/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3
}
k8s_wrapper() {
  local w=$1/wrapper staging=v0.${K8S_VERSION#1.} kmod m
  mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init lab.local/k8s-build >/dev/null 2>&1
  # The staging replace list comes from the real go.mod of that release, fetched through the proxy.
  kmod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  [ -s "$kmod" ] || die "build: could not fetch go.mod of k8s.io/kubernetes@v$K8S_VERSION"
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$kmod"); do
    go mod edit -replace="$m=$m@$staging"
  done
}
k8s_build() {  # k8s_build DIR CMD...
  local d=$1; shift
  local V=k8s.io/component-base/version C=k8s.io/client-go/pkg/version minor; minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  local ldf="-s -w -X $V.gitVersion=v$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$minor -X $V.gitTreeState=clean"
  ldf="$ldf -X $C.gitVersion=v$K8S_VERSION -X $C.gitMajor=1 -X $C.gitMinor=$minor -X $C.gitTreeState=clean"
  local pkgs=() c
  for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c@v$K8S_VERSION"); done
  cd "$d/wrapper"
  $NICE go get "${pkgs[@]}"
  pkgs=(); for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  $NICE go build -ldflags "$ldf" -o "$d/bin/" "${pkgs[@]}"
}
# Kubernetes builds in two steps with separate stamps so that a time-guarded CI build can stop after tier A.
b_k8s_a() { k8s_wrapper "$1"; k8s_build "$1" kube-apiserver kubectl; }
b_k8s_b() { k8s_wrapper "$1"; k8s_build "$1" kube-controller-manager kube-scheduler; }

T0=$(date +%s)
step "cnitool v$CNITOOL_VERSION" "$CNITOOL_DIR" b_cnitool
step "cni plugins v$CNI_PLUGINS_VERSION + flannel cni v$FLANNEL_CNI_VERSION" "$CNI_DIR" b_cni
step "etcd v$ETCD_VERSION" "$ETCD_DIR" b_etcd
step "kwok v$KWOK_VERSION" "$KWOK_DIR" b_kwok
step "flanneld v$FLANNEL_VERSION" "$FLANNEL_DIR" b_flannel
# tier A and tier B share $K8S_DIR/bin; their stamps are separate files.
step_k8s() {
  local stamp=$1 fn=$2 name=$3
  if [ -f "$K8S_DIR/.complete-$stamp" ]; then log "build: $name cached"; return; fi
  check_deadline "$name"; log "build: $name -> $K8S_DIR"
  mkdir -p "$K8S_DIR/bin"; local t0; t0=$(date +%s)
  "$fn" "$K8S_DIR"
  echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - t0 ))s with $(go version)" > "$K8S_DIR/.complete-$stamp"
  log "build: $name done in $(( $(date +%s) - t0 ))s"
}
step_k8s a b_k8s_a "kubernetes v$K8S_VERSION tier A (kube-apiserver, kubectl)"
if [ "$TIER" = all ]; then
  step_k8s b b_k8s_b "kubernetes v$K8S_VERSION tier B (kube-controller-manager, kube-scheduler)"
fi
log "build: all requested components present (${TIER}) after $(( $(date +%s) - T0 ))s"
