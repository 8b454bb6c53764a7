#!/usr/bin/env bash
# Networking on real libxl, inside the lab's dom0: a container whose config.json joins a network
# namespace gets a vif in that namespace, redirected to the namespace's interface, and the
# interface's address and routes inside the guest. First a namespace made here by hand (a veth
# to dom0, as CNI makes one), then podman's own CNI bridge network.
# Sourced by Tests/lab/in-dom0.sh after clients-in-dom0.sh; alone:
# `RUNXL_LAB_ONLY=network Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  network_standalone=1
fi

# A bundle that joins the namespace: the sleeper's config with the network namespace's path.
net_bundle() {
  local name=$1 path=$2 script=$3
  rm -rf "${work:?}/$name"
  mkdir -p "$work/$name"
  /usr/bin/python3 - "$work/sleeper/config.json" "$work/$name/config.json" "$path" "$script" <<'PY'
import json, sys
source, target, path, script = sys.argv[1:]
config = json.load(open(source))
spaces = [n for n in config["linux"].get("namespaces", []) if n["type"] != "network"]
config["linux"]["namespaces"] = spaces + [{"type": "network", "path": path}]
config["process"]["args"] = ["sh", "-c", script]
json.dump(config, open(target, "w"), indent=1)
PY
}

echo "== network: without dom0's network backend, create says so before any domain exists"
if [ ! -e /sys/bus/xen-backend/drivers/vif ] && [ ! -d /sys/module/xen_netback ]; then
  modprobe veth 2>/dev/null
  ip netns del rxnoback 2>/dev/null
  ip netns add rxnoback
  ip link add rxnobackh type veth peer name eth0 netns rxnoback
  ip -n rxnoback addr add 10.78.0.2/24 dev eth0
  ip -n rxnoback link set eth0 up
  net_bundle noback /run/netns/rxnoback 'echo unreachable'
  start=$(now)
  rx create --bundle "$work/noback" noback </dev/null >/tmp/noback.out 2>/tmp/noback.err
  status=$?
  took=$(since "$start")
  [ "$status" != 0 ] && grep -q "modprobe xen-netback" /tmp/noback.err \
    && pass "network: no netback: create fails and says to load xen-netback (${took} s)" \
    || fail "network: no netback: status $status: $(tail -c 600 /tmp/noback.err)"
  only_dom0 && root_empty && pass "network: no netback: nothing left" || fail "network: no netback left: $(xl list) $(ls -A $root)"
  ip link del rxnobackh 2>/dev/null
  ip netns del rxnoback
else
  echo "skipped: xen-netback is already loaded in this boot (not counted)"
fi

echo "== network: a vif in the container's network namespace"
veth_namespace rxlab rxhost 10.77.0
ip -n rxlab route add default via 10.77.0.1
# Dual stack, as a podman network with an IPv6 subnet: a ULA on both ends and a default route.
ip addr add fd77::1/64 dev rxhost nodad
ip -n rxlab addr add fd77::2/64 dev eth0 nodad
ip -n rxlab -6 route add default via fd77::1
mkdir -p /tmp/www
echo net-hello >/tmp/www/hello
echo net-hello6 >/tmp/www/hello6
busybox httpd -f -p 8080 -h /tmp/www &
httpd=$!
# dom0's HTTP client: the static busybox's wget crashes in dom0 (glibc's resolver in a static binary).
http_get() {
  /usr/bin/python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null
}

net_bundle netguest /run/netns/rxlab 'ip -o -4 addr show eth0; ip route; ip -o -6 addr show eth0 scope global; ip -6 route show default; wget -q -O- http://10.77.0.1:8080/hello; wget -q -O- "http://[fd77::1]:8080/hello6"; nc -l -p 9000 -e echo tcp-hello & echo ready; trap "exit 0" TERM; while true; do sleep 1; done'
start=$(now)
rx create --bundle "$work/netguest" netguest </dev/null >/tmp/net.out 2>/tmp/net.err
expect "network: create" 0 "$?"
rx start netguest
for _ in $(seq 1 240); do grep -q ready /tmp/net.out 2>/dev/null && break; sleep 0.5; done
echo "FIGURE network: create to the guest's first HTTP reply from dom0 (s): $(since "$start")"
grep -q "inet 10.77.0.2/24" /tmp/net.out && pass "network: the guest's eth0 has the namespace's address" ||
  fail "network: guest address: $(head -c 600 /tmp/net.out) $(tail -c 600 /tmp/net.err)"
grep -q "default via 10.77.0.1 dev eth0" /tmp/net.out && pass "network: the guest has the namespace's default route" ||
  fail "network: guest routes: $(head -c 600 /tmp/net.out)"
grep -q net-hello /tmp/net.out && pass "network: the guest reaches dom0 over the vif" ||
  fail "network: no reply from dom0's httpd: $(cat /tmp/net.out) $(tail -c 600 /tmp/net.err)"
grep -q "inet6 fd77::2/64" /tmp/net.out && pass "network: the guest's eth0 has the namespace's IPv6 address" ||
  fail "network: guest IPv6 address: $(head -c 800 /tmp/net.out)"
grep -q "default via fd77::1 dev eth0" /tmp/net.out && pass "network: the guest has the namespace's IPv6 default route" ||
  fail "network: guest IPv6 routes: $(head -c 800 /tmp/net.out)"
grep -q net-hello6 /tmp/net.out && pass "network: the guest reaches dom0 over IPv6" ||
  fail "network: no IPv6 reply from dom0's httpd: $(cat /tmp/net.out)"
vif=$(ip -n rxlab -o link show | awk -F': ' '$2 ~ /^rxv/ { sub(/@.*/, "", $2); print $2 }')
[ -n "$vif" ] && pass "network: the vif ($vif) lives in the container's namespace" || fail "network: no rxv* link in the namespace: $(ip -n rxlab -o link show)"
busybox ping -c 3 -W 5 10.77.0.2 >/tmp/net.ping 2>&1 && pass "network: dom0 reaches the guest's address" ||
  fail "network: ping 10.77.0.2: $(tail -n 3 /tmp/net.ping)"
busybox ping -6 -c 3 -W 5 fd77::2 >/tmp/net.ping6 2>&1 && pass "network: dom0 reaches the guest's IPv6 address" ||
  fail "network: ping fd77::2: $(tail -n 3 /tmp/net.ping6)"
expect "network: dom0 opens a TCP connection to the guest" tcp-hello "$(echo | timeout 20 busybox nc 10.77.0.2 9000)"
rx kill netguest TERM
for _ in $(seq 1 120); do [ "$(rx state netguest 2>/dev/null | grep -c '"stopped"')" = 1 ] && break; sleep 0.5; done
rx delete --force netguest
expect "network: delete leaves no domain" "" "$(xl list | awk 'NR > 2 { print $1 }')"
expect "network: delete takes the vif out of the namespace" "" "$(ip -n rxlab -o link show | grep rxv)"
expect "network: delete takes the redirect off eth0" "" "$(tc -n rxlab qdisc show dev eth0 | grep ingress)"
ip -n rxlab -o link show eth0 | grep -q "state UP" && pass "network: the namespace's own eth0 is untouched" || fail "network: eth0: $(ip -n rxlab -o link show eth0)"

echo "== network: a missing namespace is refused and leaves nothing"
net_bundle netmissing /run/netns/runxl-no-such-namespace 'echo never'
rx create --bundle "$work/netmissing" netmissing </dev/null >/tmp/net.out 2>/tmp/net.err
expect "network: create with a missing namespace fails" 1 "$?"
grep -q "runxl-no-such-namespace" /tmp/net.err && pass "network: the error names the namespace" || fail "network: error: $(cat /tmp/net.err)"
expect "network: nothing left after the refused create" "" "$(xl list | awk 'NR > 2 { print $1 }')$(ls -A "$root" 2>/dev/null)"
kill "$httpd" 2>/dev/null
ip netns del rxlab
ip link del rxhost 2>/dev/null

echo "== network: podman's CNI bridge network"
. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"
busybox httpd -f -p 8081 -h /tmp/www &
httpd=$!
start=$(now)
pm run --rm --network bridge "$image" sh -c 'ip -o -4 addr show eth0; wget -q -O- http://10.88.0.1:8081/hello' >/tmp/pmnet.out 2>/tmp/pmnet.err
status=$?
echo "FIGURE network: podman run --network bridge to exit, runxl (s): $(since "$start")"
if wants_figures; then
  # The same with runc: what CNI's set-up and tear-down cost on their own in this dom0.
  start=$(now)
  timeout 180 podman --runtime runc --root "$clients/podman-graph" --runroot "$clients/podman-run" \
    run --rm --network bridge "$image" true </dev/null >/dev/null 2>&1
  echo "FIGURE network: podman run --network bridge to exit, runc (s): $(since "$start")"
fi
expect "network: podman run --network bridge exits 0" 0 "$status"
grep -q "inet 10.88." /tmp/pmnet.out && pass "network: podman's address reaches the guest" || fail "network: podman address: $(cat /tmp/pmnet.out) $(tail -c 800 /tmp/pmnet.err)"
grep -q net-hello /tmp/pmnet.out && pass "network: a podman container reaches dom0 through the CNI bridge" ||
  fail "network: podman wget: $(cat /tmp/pmnet.out) $(tail -c 800 /tmp/pmnet.err)"
expect "network: podman run --rm leaves no domain" 0 "$(podman_domains)"
kill "$httpd" 2>/dev/null

echo "== network: into a podman container: its address, and a published port"
pm run -d --name websrv --network bridge -p 18080:8080 "$image" \
  sh -c 'mkdir -p /tmp/w; echo guest-hello >/tmp/w/i; exec httpd -f -p 8080 -h /tmp/w' >/dev/null 2>/tmp/pmweb.err
expect "network: podman run -d -p" 0 "$?"
address=$(pm inspect -f '{{.NetworkSettings.IPAddress}}' websrv 2>/dev/null)
reply=""
for _ in $(seq 1 240); do
  reply=$(http_get "http://$address:8080/i") && break
  sleep 0.5
done
expect "network: dom0 reaches the guest's httpd at its podman address ($address)" guest-hello "$reply"
# Through dom0's bridge address: portmap's DNAT for locally sent packets (127.0.0.1 also needs
# route_localnet, which is CNI's business, not runxl's).
published=$(http_get http://10.88.0.1:18080/i)
expect "network: the published port (-p 18080:8080) reaches the guest" guest-hello "$published"
[ "$published" = guest-hello ] || iptables -t nat -S 2>&1 | grep -i -E "18080|HOSTPORT" | head -n 12
pm rm -f websrv >/dev/null 2>&1
expect "network: podman rm -f leaves no domain" 0 "$(podman_domains)"

# A pod's further containers, on the pod's own network or none: pods-in-dom0.sh.

if [ -n "${network_standalone:-}" ]; then finish_lab; fi
