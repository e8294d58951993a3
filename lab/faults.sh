#!/usr/bin/env bash
# Fault injection: lab/lab faults | break FAULT NODE | heal
# Each `break` changes real kernel or API state the way a real failure would, and writes
# $LAB_RUN/faults/FAULT@NODE.fault: line 1 describes the fault, every further line is a command that undoes one
# step. `heal` runs those commands newest first, then waits until every test pod reaches every other one.
# What each fault changes and what doctor must report: the fault catalog, src/analyzers/fault-catalog/catalog.ts.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
. "$LAB_SRC/lib/pki.sh"
. "$LAB_SRC/lib/flannel.sh"
. "$LAB_SRC/lib/node.sh"

# The faults, their injection functions and descriptions come from the fault catalog (src/analyzers/fault-catalog,
# compiled to dist/): adding a fault is one catalog entry plus, for a new kind of injection, one inject_* function.
catalog() {
  local node=$LAB_SRC/../node_modules/.bin/node
  [ -x "$node" ] || node=node
  [ -e "$LAB_SRC/../dist/src/analyzers/fault-catalog/catalog.js" ] || die "faults: the catalog is not compiled; run npx tsc -p . first"
  "$node" "$LAB_SRC/lib/catalog.mjs"
}
catalog_field() {  # FAULT FIELD(2=inject 3=backends 4=changes 5=kube-flannel-only or -)
  awk -F'\t' -v f="$1" -v k="$2" '$1==f {print $k; found=1} END {exit !found}' <<<"$CATALOG"
}

# What the overlay puts on the underlay between two nodes, as an nft match: the encapsulation port, or for host-gw
# (and DirectRouting's on-link peers) the routed pod packet itself towards the receiver's podCIDR.
overlay_matches() {  # overlay_matches SENDER RECEIVER
  local encap="ip saddr $(node_ip_of "$1")" routed="ip saddr $(pod_cidr "$1") ip daddr $(pod_cidr "$2")"
  case $BACKEND in
    vxlan) echo "$encap udp dport 8472" ;;
    udp) echo "$encap udp dport 8285" ;;
    host-gw) echo "$routed" ;;
    vxlan-directrouting) echo "$encap udp dport 8472"; echo "$routed" ;;
  esac
}
node_ip_of() { lab_kubectl get node "$1" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}'; }

FDIR=$LAB_RUN/faults
fault_file=""
undo() { echo "$*" >> "$fault_file"; }
in_node() { ip netns exec "$NODE" "$@"; }

peer_of() {  # the next node after $1 (wrapping): the peer whose entries a per-peer fault touches
  local arr=($NODE_NAMES) i; i=$(node_index "$1"); echo "${arr[$((i % ${#arr[@]}))]}"
}
annotation() { lab_kubectl get node "$1" -o json | jq -r --arg k "flannel.alpha.coreos.com/$2" '.metadata.annotations[$k] // empty'; }
pod_cidr() { lab_kubectl get node "$1" -o jsonpath='{.spec.podCIDR}'; }
vtep_mac() { annotation "$1" backend-data | jq -r .VtepMAC; }
need_vxlan() { in_node ip link show flannel.1 >/dev/null 2>&1 || die "break $FAULT: $NODE has no flannel.1 (backend $BACKEND)"; }
restart_flanneld_all() { local n; for n in $NODE_NAMES; do stop_flanneld "$n"; done; for n in $NODE_NAMES; do start_flanneld "$n"; done; for n in $NODE_NAMES; do wait_flanneld "$n"; done; }
q() { printf '%q ' "$@"; }

# kwok keeps a pod Running whatever happens to flanneld; when the lab stops flanneld it reports the container's
# exit in the pod status the way a kubelet does, so the API and the node agree.
pod_terminated() {
  local p now; p=$(flannel_pod "$1"); now=$(date -u +%FT%TZ)
  lab_kubectl -n kube-flannel patch pod "$p" --subresource=status --type=strategic -p "$(jq -n --arg now "$now" '{status: {
    conditions: [{type: "Ready", status: "False", reason: "ContainersNotReady", message: "containers with unready status: [kube-flannel]", lastTransitionTime: $now},
                 {type: "ContainersReady", status: "False", reason: "ContainersNotReady", message: "containers with unready status: [kube-flannel]", lastTransitionTime: $now}],
    containerStatuses: [{name: "kube-flannel", image: "ghcr.io/flannel-io/flannel:v'"$FLANNEL_VERSION"'", imageID: "", ready: false, started: false, restartCount: 1,
      state: {waiting: {reason: "CrashLoopBackOff", message: "back-off 10s restarting failed container=kube-flannel"}},
      lastState: {terminated: {exitCode: 1, reason: "Error", startedAt: $now, finishedAt: $now}}}]}}')" >/dev/null
}
pod_running() {
  local p now; p=$(flannel_pod "$1"); now=$(date -u +%FT%TZ)
  lab_kubectl -n kube-flannel patch pod "$p" --subresource=status --type=strategic -p "$(jq -n --arg now "$now" '{status: {
    conditions: [{type: "Ready", status: "True", lastTransitionTime: $now}, {type: "ContainersReady", status: "True", lastTransitionTime: $now}],
    containerStatuses: [{name: "kube-flannel", image: "ghcr.io/flannel-io/flannel:v'"$FLANNEL_VERSION"'", imageID: "", ready: true, started: true, restartCount: 1,
      state: {running: {startedAt: $now}}}]}}')" >/dev/null
}

# --- injections: inject_<catalog lab.inject>, run with NODE, FAULT, peer, pcidr (the peer's podCIDR) and pgw set --
inject_route_deleted() {
  line=$(in_node ip route show "$pcidr"); [ -n "$line" ] || die "break: $NODE has no route to $pcidr"
  in_node ip route del "$pcidr"
  undo "in_node ip route replace $line"; echo "peer=$peer route=$line"
}
inject_route_wrong_via() {
  line=$(in_node ip route show "$pcidr"); [ -n "$line" ] || die "break: $NODE has no route to $pcidr"
  in_node ip route replace "$pcidr" via "$LAB_UNDERLAY_PREFIX.99" dev eth0
  undo "in_node ip route replace $line"; echo "peer=$peer route-was=$line now=via $LAB_UNDERLAY_PREFIX.99"
}
fdb_fault() {  # delete | wrong-dst
  need_vxlan; mac=$(vtep_mac "$peer"); pip=$(annotation "$peer" public-ip)
  in_node bridge fdb show dev flannel.1 | grep -q "^$mac dst $pip" || die "break: no fdb entry $mac dst $pip on $NODE"
  if [ "$1" = delete ]; then in_node bridge fdb del "$mac" dev flannel.1 dst "$pip"
  else in_node bridge fdb replace "$mac" dev flannel.1 dst "$LAB_UNDERLAY_PREFIX.99" self permanent; fi
  undo "in_node bridge fdb replace $mac dev flannel.1 dst $pip self permanent"; echo "peer=$peer vtepmac=$mac dst=$pip"
}
inject_fdb_deleted() { fdb_fault delete; }
inject_fdb_wrong_dst() { fdb_fault wrong-dst; }
neigh_fault() {  # delete | wrong-mac
  need_vxlan; mac=$(vtep_mac "$peer")
  in_node ip neigh show "$pgw" dev flannel.1 | grep -q "lladdr $mac" || die "break: no neighbour $pgw lladdr $mac on $NODE"
  if [ "$1" = delete ]; then in_node ip neigh del "$pgw" dev flannel.1
  else in_node ip neigh replace "$pgw" lladdr 02:00:00:00:00:99 dev flannel.1 nud permanent; fi
  undo "in_node ip neigh replace $pgw lladdr $mac dev flannel.1 nud permanent"; echo "peer=$peer neigh=$pgw lladdr=$mac"
}
inject_neigh_deleted() { neigh_fault delete; }
inject_neigh_wrong_mac() { neigh_fault wrong-mac; }
inject_mtu_flannel() {
  local dev=flannel.1; [ "$BACKEND" = udp ] && dev=flannel0
  in_node ip link show "$dev" >/dev/null 2>&1 || die "break: $NODE has no $dev"
  i=$(in_node cat "/sys/class/net/$dev/mtu")
  in_node ip link set "$dev" mtu 1350
  undo "in_node ip link set $dev mtu $i"; echo "device=$dev mtu-was=$i now=1350"
}
inject_mtu_underlay() {
  i=$(in_node cat /sys/class/net/eth0/mtu)
  in_node ip link set eth0 mtu 1400
  undo "in_node ip link set eth0 mtu $i"; echo "device=eth0 mtu-was=$i now=1400"
}
inject_flanneld_stopped() {
  stop_flanneld "$NODE"; pod_terminated "$NODE"
  undo "start_flanneld $NODE; wait_flanneld $NODE"
  undo "pod_running $NODE"
  echo "flanneld stopped, pod $(flannel_pod "$NODE") not ready"
}
inject_vxlan_device_deleted() {
  need_vxlan; in_node ip link del flannel.1
  undo "stop_flanneld $NODE; start_flanneld $NODE; wait_flanneld $NODE"; echo "flannel.1 deleted"
}
inject_public_ip_wrong() {
  pip=$(annotation "$NODE" public-ip)
  lab_kubectl annotate node "$NODE" --overwrite "flannel.alpha.coreos.com/public-ip=$LAB_UNDERLAY_PREFIX.99" >/dev/null
  undo "lab_kubectl annotate node $NODE --overwrite flannel.alpha.coreos.com/public-ip=$pip >/dev/null"
  echo "public-ip-was=$pip now=$LAB_UNDERLAY_PREFIX.99"
}
inject_duplicate_vtepmac() {
  need_vxlan; line=$(annotation "$NODE" backend-data); mac=$(vtep_mac "$peer")
  lab_kubectl annotate node "$NODE" --overwrite "flannel.alpha.coreos.com/backend-data=$(echo "$line" | jq -c --arg m "$mac" '.VtepMAC = $m')" >/dev/null
  # the peer's flanneld added an fdb entry for its own MAC toward NODE, which no restart removes (doctor reported it
  # as a leftover after heal in the lab); heal deletes it last
  pip=$(annotation "$NODE" public-ip)
  undo "ip netns exec $peer bridge fdb del $mac dev flannel.1 dst $pip 2>/dev/null || true"
  # the peers' flanneld re-pointed the duplicated MAC; restarting them replays every lease
  undo "restart_flanneld_all"
  undo "lab_kubectl annotate node $NODE --overwrite $(q "flannel.alpha.coreos.com/backend-data=$line") >/dev/null"
  echo "peer=$peer vtepmac=$mac own-was=$(echo "$line" | jq -r .VtepMAC)"
}
inject_annotations_removed() {
  stop_flanneld "$NODE"; pod_terminated "$NODE"
  undo "pod_running $NODE"
  lab_kubectl annotate node "$NODE" flannel.alpha.coreos.com/backend-data- flannel.alpha.coreos.com/backend-type- \
    flannel.alpha.coreos.com/public-ip- flannel.alpha.coreos.com/kube-subnet-manager- \
    flannel.alpha.coreos.com/backend-v6-data- flannel.alpha.coreos.com/public-ipv6- >/dev/null   # v6: on a dual lab
  undo "start_flanneld $NODE; wait_flanneld $NODE"; echo "flanneld stopped, flannel annotations removed"
}
inject_vxlan_port_blocked() {
  local port=8472; [ "$BACKEND" = udp ] && port=8285
  [ "$BACKEND" = host-gw ] && die "break: host-gw has no encapsulation port"
  in_node iptables -I INPUT -p udp --dport $port -m comment --comment kfl-lab-fault -j DROP
  undo "in_node iptables -D INPUT -p udp --dport $port -m comment --comment kfl-lab-fault -j DROP"; echo "udp/$port dropped in INPUT"
}
inject_forward_drop_rule() {
  in_node iptables -I FORWARD 1 -m comment --comment kfl-lab-fault -j DROP
  undo "in_node iptables -D FORWARD -m comment --comment kfl-lab-fault -j DROP"; echo "DROP inserted at FORWARD 1"
}
inject_forward_policy_drop() {
  line=$(in_node iptables -S FORWARD | awk '$1=="-P"{print $3}')
  in_node iptables -P FORWARD DROP
  undo "in_node iptables -P FORWARD $line"; echo "FORWARD policy was $line, now DROP"
}
inject_ip_forward_off() {
  i=$(in_node sysctl -n net.ipv4.ip_forward)
  in_node sysctl -qw net.ipv4.ip_forward=0
  undo "in_node sysctl -qw net.ipv4.ip_forward=$i"; echo "ip_forward was $i, now 0"
}
inject_cni0_wrong_address() {
  line=$(in_node ip -4 -o addr show dev cni0 | awk '{print $4}' | head -1)
  [ -n "$line" ] || die "break: cni0 on $NODE has no IPv4 address"
  in_node ip addr del "$line" dev cni0
  in_node ip addr add 10.244.99.1/24 dev cni0
  undo "in_node ip addr add $line dev cni0"
  undo "in_node ip addr del 10.244.99.1/24 dev cni0"
  echo "cni0 was $line, now 10.244.99.1/24"
}
inject_subnet_env_removed() {
  mv "$(node_dir "$NODE")/run-flannel/subnet.env" "$fault_file.subnet.env"
  undo "mv $fault_file.subnet.env $(node_dir "$NODE")/run-flannel/subnet.env"; echo "subnet.env removed"
}
inject_cni_conf_removed() {
  local confdir=$(node_dir "$NODE")/etc-cni-net.d
  [ "${FLAVOR:-kube-flannel}" = k3s ] && confdir=$(node_dir "$NODE")/k3s-agent-etc/cni/net.d
  mv "$confdir/10-flannel.conflist" "$fault_file.conflist"
  undo "mv $fault_file.conflist $confdir/10-flannel.conflist"; echo "10-flannel.conflist removed from $(cni_conf_dir)"
}
inject_route6_deleted() {
  [ "${IP_FAMILY:-ipv4}" = dual ] || die "break $FAULT: needs a dual-stack lab (lab/lab up --ip-family dual)"
  local pcidr6; pcidr6=$(lab_kubectl get node "$peer" -o jsonpath='{.spec.podCIDRs[1]}')
  line=$(in_node ip -6 route show "$pcidr6"); [ -n "$line" ] || die "break: $NODE has no IPv6 route to $pcidr6"
  in_node ip -6 route del "$pcidr6"
  undo "in_node ip -6 route replace $line"; echo "peer=$peer route=$line"
}
inject_nft_postrtg_flushed() {
  [ "${NFTABLES:-0}" = 1 ] || die "break $FAULT: needs a lab in nftables mode (lab/lab up --nftables)"
  in_node nft list chain ip flannel-ipv4 postrtg > "$fault_file.postrtg"
  in_node nft flush chain ip flannel-ipv4 postrtg
  # flanneld writes the chain only at start: restarting it is how the chain comes back
  undo "stop_flanneld $NODE; start_flanneld $NODE; wait_flanneld $NODE"; echo "postrtg flushed"
}
inject_flanneld_hung() {
  local pid; read -r pid _ < "$LAB_RUN/pids/flanneld-$NODE.pid"
  pid_alive "$LAB_RUN/pids/flanneld-$NODE.pid" || die "break: flanneld on $NODE is not running"
  kill -STOP "$pid"; undo "kill -CONT $pid"; echo "flanneld (pid $pid) stopped with SIGSTOP, pod $(flannel_pod "$NODE") still Running"
}
inject_stale_node_entries() {
  local gw=10.244.250.0 smac=0a:fa:fa:fa:fa:fa sip=$LAB_UNDERLAY_PREFIX.250
  if in_node ip link show flannel.1 >/dev/null 2>&1; then
    in_node ip neigh replace $gw lladdr $smac dev flannel.1 nud permanent
    in_node bridge fdb append $smac dev flannel.1 dst $sip self permanent
    in_node ip route replace 10.244.250.0/24 via $gw dev flannel.1 onlink
    undo "in_node bridge fdb del $smac dev flannel.1 dst $sip"
    undo "in_node ip neigh del $gw dev flannel.1"
  else
    in_node ip route replace 10.244.250.0/24 via $sip dev eth0 onlink
  fi
  undo "in_node ip route del 10.244.250.0/24"
  echo "entries for 10.244.250.0/24 (vtep $smac at $sip) left behind"
}
inject_network_unavailable() {
  lab_kubectl patch node "$NODE" --subresource=status --type=strategic -p \
    '{"status":{"conditions":[{"type":"NetworkUnavailable","status":"True","reason":"NoRouteCreated","message":"injected by kubectl-flannel lab"}]}}' >/dev/null
  undo "lab_kubectl patch node $NODE --subresource=status --type=strategic -p '{\"status\":{\"conditions\":[{\"type\":\"NetworkUnavailable\",\"status\":\"False\",\"reason\":\"FlannelIsUp\",\"message\":\"Flannel is running on this node\"}]}}' >/dev/null"
  echo "NetworkUnavailable=True"
}
inject_netconf_drift() {
  line=$(lab_kubectl -n kube-flannel get cm kube-flannel-cfg -o json | jq -r '.data["net-conf.json"]')
  local other=host-gw; [ "$BACKEND" = host-gw ] && other=vxlan
  lab_kubectl -n kube-flannel patch cm kube-flannel-cfg --type merge -p "$(jq -n --arg v "$(echo "$line" |
    jq --argjson b "$(backend_json $other)" '.Backend = $b')" '{data: {"net-conf.json": $v}}')" >/dev/null
  undo "lab_kubectl -n kube-flannel patch cm kube-flannel-cfg --type merge -p $(q "$(jq -n --arg v "$line" '{data: {"net-conf.json": $v}}')") >/dev/null"
  echo "ConfigMap Backend now $other, flanneld still runs $BACKEND"
}
inject_underlay_drop() {
  # A bridge-family filter on the root netns bridge: what a cloud security group or NSX does to one node pair.
  local t="kfl${LAB_INSTANCE}_underlay_${NODE//-/_}" m
  nft add table bridge "$t"
  undo "nft delete table bridge $t"
  nft add chain bridge "$t" filter_fwd '{ type filter hook forward priority 0; }'
  while IFS= read -r m; do
    nft add rule bridge "$t" filter_fwd iifname "v-$NODE" oifname "v-$peer" $m drop
  done < <(overlay_matches "$NODE" "$peer")
  echo "peer=$peer bridge $LAB_BRIDGE drops $(overlay_matches "$NODE" "$peer" | paste -sd, -) from $NODE to $peer"
}
inject_arrival_drop() {
  local t="kfl_arrival_drop" m
  in_node nft add table netdev "$t"
  undo "in_node nft delete table netdev $t"
  in_node nft add chain netdev "$t" arrival '{ type filter hook ingress device eth0 priority 0; }'
  while IFS= read -r m; do
    in_node nft add rule netdev "$t" arrival $m drop
  done < <(overlay_matches "$peer" "$NODE")
  echo "peer=$peer eth0 ingress drops $(overlay_matches "$peer" "$NODE" | paste -sd, -) from $peer"
}

inject_policy_rule_other_table() {
  in_node ip route add "$pcidr" via "$LAB_UNDERLAY_PREFIX.99" dev eth0 onlink table 100
  undo "in_node ip route flush table 100"
  in_node ip rule add pref 100 to "$pcidr" lookup 100
  undo "in_node ip rule del pref 100 to $pcidr lookup 100"; echo "peer=$peer rule=100:to $pcidr lookup 100"
}
inject_podcidr_shadowed() {
  in_node ip route add "$pgw/25" via "$LAB_UNDERLAY_PREFIX.99" dev eth0 onlink
  undo "in_node ip route del $pgw/25"; echo "peer=$peer shadow=$pgw/25"
}
inject_blackhole_local_table() {
  in_node ip route add blackhole "$pcidr" table local
  undo "in_node ip route del blackhole $pcidr table local"; echo "peer=$peer route=blackhole $pcidr table local"
}
inject_cni0_mtu_low() {
  line=$(in_node cat /sys/class/net/cni0/mtu)
  in_node ip link set cni0 mtu 1400
  undo "in_node ip link set cni0 mtu $line"; echo "cni0 mtu $line -> 1400"
}
inject_uplink_mtu_differs() {
  line=$(in_node cat /sys/class/net/eth0/mtu)
  in_node ip link set eth0 mtu 9000
  undo "in_node ip link set eth0 mtu $line"; echo "eth0 mtu $line -> 9000"
}

# --- faults only the pod-path walk finds (issue 9 item 6): something outside flannel's entries on the packet's path --
peer_podcidr_drop() {  # raw|mangle: drop the peer's pod traffic in PREROUTING, a table no flannel check reads
  in_node iptables -t "$1" -A PREROUTING -s "$pcidr" -j DROP
  undo "in_node iptables -t $1 -D PREROUTING -s $pcidr -j DROP 2>/dev/null || true"; echo "peer=$peer $1 PREROUTING drops -s $pcidr"
}
inject_raw_drop_peer_podcidr() { peer_podcidr_drop raw; }
inject_mangle_drop_peer_podcidr() { peer_podcidr_drop mangle; }
inject_nft_table_drops_pods() {
  local own; own=$(pod_cidr "$NODE")
  in_node nft add table inet kfl_guard
  undo "in_node nft delete table inet kfl_guard"
  in_node nft add chain inet kfl_guard pre '{ type filter hook prerouting priority -300; policy accept; }'
  in_node nft add rule inet kfl_guard pre ip daddr "$own" drop
  echo "nft inet kfl_guard pre (priority -300) drops ip daddr $own"
}
inject_dnat_pod_traffic() {
  local own to; own=$(pod_cidr "$NODE"); to=${own%.0/*}.99
  in_node iptables -t nat -I PREROUTING -s "$pcidr" -d "$own" -j DNAT --to-destination "$to"
  undo "in_node iptables -t nat -D PREROUTING -s $pcidr -d $own -j DNAT --to-destination $to 2>/dev/null || true"
  echo "peer=$peer nat PREROUTING DNATs $pcidr -> $own to $to"
}
inject_cni0_port_disabled() {
  # the test pod's veth on the node: the node-side end of the pod's eth0
  local netns idx dev
  netns=$(lab_kubectl -n kfl-e2e get pods --field-selector "spec.nodeName=$NODE" -o jsonpath='{.items[0].metadata.annotations.lab\.flannel\.dev/netns}')
  [ -n "$netns" ] || die "break: no test pod on $NODE"
  idx=$(ip netns exec "$netns" cat /sys/class/net/eth0/iflink)
  dev=$(in_node ip -j link show | jq -r --argjson i "$idx" '.[] | select(.ifindex == $i) | .ifname')
  [ -n "$dev" ] || die "break: no veth with ifindex $idx on $NODE"
  in_node bridge link set dev "$dev" state 0
  undo "in_node bridge link set dev $dev state 3"; echo "cni0 port $dev (pod netns $netns) disabled"
}
inject_pod_eth0_mtu() {
  # the test pod's own end of its veth, raised above its peer on the node (a process in the pod with NET_ADMIN)
  local netns was
  netns=$(lab_kubectl -n kfl-e2e get pods --field-selector "spec.nodeName=$NODE" -o jsonpath='{.items[0].metadata.annotations.lab\.flannel\.dev/netns}')
  [ -n "$netns" ] || die "break: no test pod on $NODE"
  was=$(ip netns exec "$netns" cat /sys/class/net/eth0/mtu)
  ip netns exec "$netns" ip link set dev eth0 mtu 1500
  undo "ip netns exec $netns ip link set dev eth0 mtu $was"; echo "pod netns $netns eth0 mtu-was=$was now=1500"
}

# --- podCIDR allocation: the Node registered again (kubelet) with the range kube-controller-manager or an IPAM
# gave it, and flanneld on it restarted as it is on a re-joined node. The undo gives the Node back its range:
# patched when it has none (allowed from empty), else registered again.
node_cidrs() { lab_kubectl get node "$1" -o json | jq -r '.spec.podCIDRs // [] | join(" ")'; }
undo_reregister() {  # the last undo to run first: the Node back to up.sh's range, flanneld restarted on it
  undo "pod_running $NODE"
  undo "stop_flanneld $NODE; start_flanneld $NODE; wait_flanneld $NODE"
  undo "restore_node_range $NODE $*"
}
# flanneld exits when it cannot take a lease; wait for that and say what it logged
flanneld_fails() {  # flanneld_fails NODE PATTERN
  local i
  for i in $(seq 120); do pid_alive "$LAB_RUN/pids/flanneld-$1.pid" || break; sleep 0.5; done
  pid_alive "$LAB_RUN/pids/flanneld-$1.pid" && die "break: flanneld on $1 still runs"
  grep -q "$2" "$(node_dir "$1")/flanneld.log" || die "break: flanneld on $1 exited without logging '$2'"
  pod_terminated "$1"
}
inject_podcidr_unset() {
  local was; was=$(node_cidrs "$NODE")
  reregister_node "$NODE"
  undo_reregister $was
  stop_flanneld "$NODE"; start_flanneld "$NODE"; flanneld_fails "$NODE" 'pod cidr not assigned'
  echo "Node registered again without a podCIDR (was $was); flanneld exits: pod cidr not assigned"
}

inject_podcidr_outside_network() {
  local was i; was=$(node_cidrs "$NODE"); i=$(node_index "$NODE")
  [ "${IP_FAMILY:-ipv4}" = ipv4 ] || die "break $FAULT: the lab injects it on IPv4 only"
  reregister_node "$NODE" "10.224.$i.0/24"
  undo_reregister $was
  stop_flanneld "$NODE"; start_flanneld "$NODE"; flanneld_fails "$NODE" "doesn't contain"
  echo "Node registered again with 10.224.$i.0/24 (kubeadm's --pod-network-cidr 10.224.0.0/16; was $was); flanneld exits: Network doesn't contain it"
}
inject_podcidr_overlap() {
  local was third taken; was=$(node_cidrs "$NODE"); third=$(peer_of "$(peer_of "$NODE")")
  [ "${IP_FAMILY:-ipv4}" = ipv4 ] || die "break $FAULT: the lab injects it on IPv4 only"
  taken=$(node_cidrs "$third")
  # the peers' flanneld re-point the shared range at NODE and drop it again when NODE's lease goes: heal replays
  undo "restart_flanneld_all"
  # shellcheck disable=SC2086
  reregister_node "$NODE" $taken
  undo_reregister $was
  stop_flanneld "$NODE"; start_flanneld "$NODE"; wait_flanneld "$NODE"
  echo "Node registered again with $third's $taken (was $was); flanneld took it as its lease, its pods stay in $was"
}

do_break() {
  local peer pcidr pgw line mac pip i fn
  peer=$(peer_of "$NODE"); pcidr=$(pod_cidr "$peer"); pgw=${pcidr%/*}
  if [ "${FLAVOR:-kube-flannel}" != kube-flannel ] && [ "$(catalog_field "$FAULT" 5)" = kube-flannel-only ]; then
    die "break $FAULT: needs the kube-flannel packaging (flannel pods, ConfigMap or health server); this lab is --flavor $FLAVOR"
  fi
  fn=inject_$(catalog_field "$FAULT" 2)
  declare -F "$fn" >/dev/null || die "break $FAULT: the catalog names $fn, which lab/faults.sh does not define"
  "$fn"
}

cmd=${1:-}; shift || true
case $cmd in
  faults)
    CATALOG=$(catalog) || exit 1
    while IFS=$'\t' read -r f _ _ changes _; do printf '%-22s %s\n' "$f" "$changes"; done <<<"$CATALOG" ;;
  break)
    need_root; load_state
    FAULT=${1:-}; NODE=${2:-}
    CATALOG=$(catalog) || exit 1
    catalog_field "$FAULT" 2 >/dev/null || die "break: unknown fault '$FAULT'; lab/lab faults lists them"
    echo " $NODE_NAMES " | grep -q " $NODE " || die "break: '$NODE' is not a lab node (nodes: $NODE_NAMES)"
    fault_file=$FDIR/$FAULT@$NODE.fault
    [ -e "$fault_file" ] && die "break: $FAULT is already injected on $NODE"
    mkdir -p "$FDIR"
    echo "$FAULT $NODE" > "$fault_file.tmp"; fault_file=$fault_file.tmp
    detail=$(do_break) || { rm -f "$fault_file"; exit 1; }
    # line 1 keeps "FAULT NODE detail"; the undo lines follow
    { echo "$FAULT $NODE $detail"; tail -n +2 "$fault_file"; } > "${fault_file%.tmp}"; rm -f "$fault_file"
    log "break: $FAULT on $NODE: $detail"
    ;;
  restart-flanneld)
    # What a "restart the flannel pod on NODE" fix does: flanneld starts again and re-programs every lease.
    need_root; load_state
    NODE=${1:-}
    echo " $NODE_NAMES " | grep -q " $NODE " || die "restart-flanneld: '$NODE' is not a lab node (nodes: $NODE_NAMES)"
    stop_flanneld "$NODE"
    # What starts with it: the new kube-flannel pod mounts the ConfigMap as it is now (/etc/kube-flannel) and its
    # install-cni init container copies cni-conf.json to 10-flannel.conflist; k3s writes its net-conf.json and
    # conflist each time it starts (a k3s restart is how its embedded flannel restarts).
    if [ "${FLAVOR:-kube-flannel}" = k3s ]; then write_k3s_files "$BACKEND" "$NODE"; else install_cni "$NODE"; fi
    start_flanneld "$NODE"; wait_flanneld "$NODE"
    [ "${FLAVOR:-kube-flannel}" = k3s ] || pod_running "$NODE"
    log "restart-flanneld: flanneld on $NODE restarted"
    ;;
  restart-kubelet)
    # What restarting the kubelet on NODE does when its Node object was deleted: it registers the Node again
    # (register_node: the labels, and k3s's annotations, up.sh gives it; KWOK, the lab's kubelet, keeps running and
    # reports its status), and kube-controller-manager allocates it a range at once, done here because the lab's
    # controller manager runs with --allocate-node-cidrs=false: the lowest free one of the cluster CIDR
    # (free_ranges). A Node that still exists is left as it is, as a kubelet leaves it.
    need_root; load_state
    NODE=${1:-}
    echo " $NODE_NAMES " | grep -q " $NODE " || die "restart-kubelet: '$NODE' is not a lab node (nodes: $NODE_NAMES)"
    if lab_kubectl get node "$NODE" >/dev/null 2>&1; then log "restart-kubelet: $NODE is registered; nothing to do"; exit 0; fi
    ranges=$(free_ranges)
    # shellcheck disable=SC2086  # one word per range
    register_node "$(node_index "$NODE")" $ranges
    wait_node_ready "$NODE"
    log "restart-kubelet: $NODE registered again with $ranges"
    ;;
  underlay-allow)
    # What an underlay-probe fix tells the operator to do in the network between two nodes, done to the lab's
    # underlay (the root netns bridge): delete this instance's bridge-family filter rules that drop exactly that
    # traffic on its way between the two nodes' bridge ports, nothing else.
    #   underlay-allow udp PORT FROM_IP TO_IP          the backend's encapsulation between the node addresses
    #   underlay-allow ip SRC_CIDR DST_CIDR FROM_IP TO_IP   routed pod packets between two podCIDRs
    need_root; load_state
    case ${1:-} in
      udp) [ $# = 4 ] || die "usage: underlay-allow udp PORT FROM_IP TO_IP"; from_ip=$3 to_ip=$4 ;;
      ip) [ $# = 5 ] || die "usage: underlay-allow ip SRC_CIDR DST_CIDR FROM_IP TO_IP"; from_ip=$4 to_ip=$5 ;;
      *) die "usage: underlay-allow udp PORT FROM_IP TO_IP | ip SRC_CIDR DST_CIDR FROM_IP TO_IP" ;;
    esac
    from="" to=""
    for n in $NODE_NAMES; do
      ip=$(node_ip_of "$n"); [ "$ip" = "$from_ip" ] && from=$n; [ "$ip" = "$to_ip" ] && to=$n
    done
    [ -n "$from" ] && [ -n "$to" ] || die "underlay-allow: $from_ip or $to_ip is no lab node's address"
    if [ "$1" = udp ]; then want="ip saddr $from_ip udp dport $2"; else want="ip saddr $2 ip daddr $3"; fi
    deleted=0
    for t in $(nft list tables bridge | awk -v p="kfl${LAB_INSTANCE}_underlay_" '$1=="table" && index($3, p)==1 {print $3}'); do
      while read -r chain handle; do
        nft delete rule bridge "$t" "$chain" handle "$handle"; deleted=$((deleted + 1))
      done < <(nft -a list table bridge "$t" | awk -v sel="iifname \"v-$from\" oifname \"v-$to\" $want drop" '
        $1 == "chain" {chain = $2} index($0, sel " # handle ") {print chain, $NF}')
    done
    [ $deleted -gt 0 ] || die "underlay-allow: no underlay filter drops '$want' from $from to $to"
    log "underlay-allow: $deleted rule(s) dropping '$want' from $from to $to deleted"
    ;;
  heal)
    need_root; load_state
    for f in $(ls -t "$FDIR"/*.fault 2>/dev/null); do
      NODE=$(head -1 "$f" | awk '{print $2}')
      tail -n +2 "$f" | tac > "$f.undo"
      while IFS= read -r c; do eval "$c" || log "heal: '$c' failed"; done < "$f.undo"
      log "heal: undid $(head -1 "$f" | cut -d' ' -f1-2)"
      rm -f "$f" "$f.undo"
    done
    # converged when every pod reaches every other pod
    pods=$(lab_kubectl -n kfl-e2e get pods -o jsonpath='{.items[*].metadata.name}')
    for i in $(seq 60); do
      ok=1
      for a in $pods; do for b in $pods; do
        [ "$a" = "$b" ] && continue
        "$LAB_SRC/pods.sh" ping "$a" "$b" -c 1 -W 1 >/dev/null 2>&1 || { ok=0; break 2; }
      done; done
      [ $ok = 1 ] && { log "heal: every test pod reaches every other"; exit 0; }
      sleep 1
    done
    die "heal: pods still cannot reach each other after 60 s" ;;
  *) die "faults.sh: unknown command '$cmd'" ;;
esac
