# flanneld and its Kubernetes objects, configured like the official kube-flannel manifest (read from the
# flannel module in the Go module cache at run time, never copied into this repository).

backend_json() {  # backend_json NAME: the net-conf.json "Backend" object for a lab backend name
  case $1 in
    vxlan) echo '{"Type":"vxlan"}' ;;
    vxlan-directrouting) echo '{"Type":"vxlan","DirectRouting":true}' ;;
    host-gw) echo '{"Type":"host-gw"}' ;;
    udp) echo '{"Type":"udp"}' ;;
    *) return 1 ;;
  esac
}

flannel_manifest() {
  local dir
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "github.com/flannel-io/flannel@v$FLANNEL_VERSION" | jq -r .Dir)
  [ -f "$dir/Documentation/kube-flannel.yml" ] || die "kube-flannel.yml not found in the flannel v$FLANNEL_VERSION module ($dir)"
  echo "$dir/Documentation/kube-flannel.yml"
}

# apply_flannel_manifest BACKEND: the official manifest, with net-conf.json's Backend set to BACKEND (what an admin
# does when choosing a backend) and EnableNFTables with --nftables, then the ConfigMap's files put where the
# DaemonSet's volumes would put them.
apply_flannel_manifest() {
  local backend=$1 netconf
  lab_kubectl apply -f "$(flannel_manifest)" >/dev/null
  netconf=$(lab_kubectl -n kube-flannel get cm kube-flannel-cfg -o json | jq -r '.data["net-conf.json"]' |
            jq --argjson b "$(backend_json "$backend")" --argjson nft "$([ "${NFTABLES:-0}" = 1 ] && echo true || echo false)" \
              --arg net6 "$([ "${IP_FAMILY:-ipv4}" != ipv4 ] && echo "$LAB_POD_NETWORK6")" \
              --argjson v4 "$([ "${IP_FAMILY:-ipv4}" = ipv6 ] && echo false || echo true)" \
              '.Backend = $b | if $nft then .EnableNFTables = true else . end
               | if $net6 != "" then .EnableIPv6 = true | .IPv6Network = $net6 else . end
               | if $v4 then . else .EnableIPv4 = false | del(.Network) end')
  lab_kubectl -n kube-flannel patch cm kube-flannel-cfg --type merge \
    -p "$(jq -n --arg v "$netconf" '{data: {"net-conf.json": $v}}')" >/dev/null
  sync_flannel_config
}
# sync_flannel_config [NODE...]: ConfigMap -> /etc/kube-flannel (configMap volume) and the CNI conflist
# (what the install-cni init container copies) on each node.
sync_flannel_config() {
  local cm n S
  cm=$(lab_kubectl -n kube-flannel get cm kube-flannel-cfg -o json)
  for n in ${*:-$NODE_NAMES}; do
    S=$(node_dir "$n")
    echo "$cm" | jq -r '.data["net-conf.json"]' > "$S/etc-kube-flannel/net-conf.json"
    echo "$cm" | jq -r '.data["cni-conf.json"]' > "$S/etc-kube-flannel/cni-conf.json"
    install_cni "$n" --copy-only
  done
}
# install_cni NODE [--copy-only]: what a new kube-flannel pod on NODE does before flanneld starts: the kubelet
# mounts the ConfigMap as it is now (sync_flannel_config) and the install-cni init container runs
# `cp -f /etc/kube-flannel/cni-conf.json /etc/cni/net.d/10-flannel.conflist`. (install-cni-plugin copies the
# flannel binary to /opt/cni/bin: the lab's nodes share one read-only plugin directory, which no fault touches.)
install_cni() {
  local S; S=$(node_dir "$1")
  [ "${2:-}" = --copy-only ] || sync_flannel_config "$1"
  cp -f "$S/etc-kube-flannel/cni-conf.json" "$S/etc-cni-net.d/10-flannel.conflist"
}

# write_k3s_files BACKEND: what k3s writes on every node before it starts its embedded flannel
# (k3s pkg/agent/flannel/setup.go): net-conf.json from its template (single-stack IPv4: IPv6Network "::/0") and
# 10-flannel.conflist (cbr0: flannel, portmap; k3s writes cniVersion 1.0.0 and chains bandwidth, which the lab's
# flannel plugin v0.9.1 (CNI <= 0.4.0) and plugin build do not support: 0.3.1 and no bandwidth here).
write_k3s_files() {  # write_k3s_files BACKEND [NODE...]
  local backend=$1 n S; shift
  for n in ${*:-$NODE_NAMES}; do
    S=$(node_dir "$n")
    jq -n --arg net "$LAB_POD_NETWORK" --argjson b "$(backend_json "$backend")" \
      --argjson nft "$([ "${NFTABLES:-0}" = 1 ] && echo true || echo false)" \
      '{Network: $net, EnableIPv6: false, EnableIPv4: true, IPv6Network: "::/0", Backend: $b}
       + (if $nft then {EnableNFTables: true} else {} end)' > "$S/k3s-agent-etc/flannel/net-conf.json"
    jq -n '{name: "cbr0", cniVersion: "0.3.1", plugins: [
        {type: "flannel", delegate: {hairpinMode: true, forceAddress: true, isDefaultGateway: true}},
        {type: "portmap", capabilities: {portMappings: true}}]}' > "$S/k3s-agent-etc/cni/net.d/10-flannel.conflist"
  done
}

flannel_pod() {  # flannel_pod NODE: name of the kube-flannel DaemonSet pod bound to NODE
  lab_kubectl -n kube-flannel get pods -l app=flannel --field-selector "spec.nodeName=$1" \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null
}

# ensure_flannel_pods: the DaemonSet's pods exist on every node and are Running (kwok), and flanneld has a
# kubeconfig with the DaemonSet's ServiceAccount token, so it runs with flannel's real RBAC.
ensure_flannel_pods() {
  local n i
  if [ "${HAVE_KCM:-1}" = 0 ]; then
    # Without kube-controller-manager and kube-scheduler the DaemonSet creates no pods; create the pods it would
    # create, owned by it, from its own template.
    local ds; ds=$(lab_kubectl -n kube-flannel get ds kube-flannel-ds -o json)
    for n in $NODE_NAMES; do
      [ -n "$(flannel_pod "$n")" ] && continue
      echo "$ds" | jq --arg n "$n" '{apiVersion: "v1", kind: "Pod",
          metadata: {generateName: "kube-flannel-ds-", namespace: "kube-flannel", labels: .spec.template.metadata.labels,
            ownerReferences: [{apiVersion: "apps/v1", kind: "DaemonSet", name: .metadata.name, uid: .metadata.uid,
                               controller: true, blockOwnerDeletion: true}]},
          spec: (.spec.template.spec + {nodeName: $n})}' | lab_kubectl create -f - >/dev/null
    done
  fi
  # One list per poll, not one per node: with 30 nodes on two busy cores a per-node poll takes longer than the wait.
  local end=$(( $(date +%s) + 60 + 4 * NODES )) running
  while :; do
    running=$(lab_kubectl -n kube-flannel get pods -l app=flannel -o json 2>/dev/null |
      jq -r '[.items[] | select(.status.phase == "Running") | .spec.nodeName] | unique | length' 2>/dev/null || echo 0)
    [ "${running:-0}" -ge "$NODES" ] && break
    [ "$(date +%s)" -ge "$end" ] && die "flannel DaemonSet pods did not become Running on every node ($running of $NODES)"
    sleep 0.5
  done
  local token
  token=$(lab_kubectl -n kube-flannel create token flannel --duration=48h)
  make_kubeconfig "$LAB_RUN/flannel.kubeconfig" flannel --token="$token"
}

# start_flanneld NODE: flanneld as the DaemonSet runs it (same args and env), in NODE's namespaces. Its output
# goes through a CRI log formatter into the file kwok serves for `kubectl logs` of the node's flannel pod
# (mawk -W interactive: otherwise mawk reads its pipe in blocks and the last lines never reach the file).
start_flanneld() {
  local n=$1 S pod pidf
  S=$(node_dir "$n"); pidf=$LAB_RUN/pids/flanneld-$n.pid
  pid_alive "$pidf" && return 0
  if [ "${FLAVOR:-kube-flannel}" = k3s ]; then start_flanneld_k3s "$n"; return; fi
  pod=$(flannel_pod "$n")
  [ -n "$pod" ] || die "no kube-flannel pod on $n"
  export LAB_RUN LAB_CNI_BIN
  ( "$LAB_SRC/lib/node-exec.sh" "$n" env POD_NAME="$pod" POD_NAMESPACE=kube-flannel EVENT_QUEUE_DEPTH=5000 \
        CONT_WHEN_CACHE_NOT_READY=false PIDFILE="$pidf" FLANNELD="$FLANNEL_DIR/bin/flanneld" \
        KCFG="$LAB_RUN/flannel.kubeconfig" \
      sh -c 'echo "$$ flanneld" > "$PIDFILE"; exec "$FLANNELD" --ip-masq --kube-subnet-mgr --healthz-port=8081 --kubeconfig-file="$KCFG" 2>&1' \
    | mawk -W interactive '{ print strftime("%Y-%m-%dT%H:%M:%SZ", systime(), 1), "stderr F", $0; fflush() }' >> "$S/flanneld.log" ) \
    </dev/null >/dev/null 2>&1 &
  local i; for i in $(seq 50); do [ -s "$pidf" ] && break; sleep 0.1; done
}
# start_flanneld_k3s NODE: flanneld as k3s runs it embedded: a host process (no pod), NODE_NAME from the agent,
# --ip-masq and the kube subnet manager, net-conf.json from k3s's agent dir, no health server (k3s starts none).
# k3s uses its node or k3s-controller credentials; the lab uses its admin kubeconfig.
start_flanneld_k3s() {
  local n=$1 S pidf
  S=$(node_dir "$n"); pidf=$LAB_RUN/pids/flanneld-$n.pid
  export LAB_RUN LAB_CNI_BIN
  ( "$LAB_SRC/lib/node-exec.sh" "$n" env NODE_NAME="$n" PIDFILE="$pidf" FLANNELD="$FLANNEL_DIR/bin/flanneld" \
        KCFG="$KUBECONFIG_PATH" NETCONF="$K3S_AGENT_ETC/flannel/net-conf.json" \
      sh -c 'echo "$$ flanneld" > "$PIDFILE"; exec "$FLANNELD" --ip-masq --kube-subnet-mgr --net-config-path="$NETCONF" --kubeconfig-file="$KCFG" 2>&1' \
    >> "$S/flanneld.log" ) </dev/null >/dev/null 2>&1 &
  local i; for i in $(seq 50); do [ -s "$pidf" ] && break; sleep 0.1; done
}
wait_flanneld() {  # wait_flanneld NODE: until flanneld wrote subnet.env and published its lease on the Node
  local n=$1 healthy limit=$(( 60 + 2 * ${NODES:-3} )) end
  end=$(( $(date +%s) + limit ))
  while [ "$(date +%s)" -lt "$end" ]; do
    # subnet.env and the annotation may be left from a previous run of flanneld; healthz answers only from this one
    # (k3s: no health server; the lab's fresh node dirs hold no old subnet.env)
    healthy=1
    if [ "${FLAVOR:-kube-flannel}" = k3s ] ||
       ip netns exec "$n" curl -fs --max-time 1 http://127.0.0.1:8081/healthz >/dev/null 2>&1; then healthy=0; fi
    if [ -s "$(node_dir "$n")/run-flannel/subnet.env" ] && [ "$healthy" = 0 ] &&
       [ -n "$(lab_kubectl get node "$n" -o jsonpath="{.metadata.annotations.flannel\.alpha\.coreos\.com/public-ip$([ "${IP_FAMILY:-ipv4}" = ipv6 ] && echo v6)}")" ]; then
      return 0
    fi
    pid_alive "$LAB_RUN/pids/flanneld-$n.pid" || die "flanneld on $n exited; see $(node_dir "$n")/flanneld.log"
    sleep 0.5
  done
  die "flanneld on $n did not become ready in ${limit}s; see $(node_dir "$n")/flanneld.log"
}
stop_flanneld() { stop_pidfile "$LAB_RUN/pids/flanneld-$1.pid"; }
