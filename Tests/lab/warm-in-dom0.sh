#!/usr/bin/env bash
# The warm pool on real libxl (docs/fast-start.md, issue 17): with "warmPool": 1 in the host
# config, a share-mode guest's first create records its shape and starts `runxl warm fill`,
# which boots a warm VM to init's wait; the next container of that shape takes it. Checked:
# the container's rootfs and bind reach the running backend (the process reads and writes
# them, the host sees the writes), its exit status, exec into it, podman on it, and that delete
# and `runxl warm drain` leave no domain, slot or mount. Sourced by Tests/lab/in-dom0.sh; alone:
# `RUNXL_LAB_ONLY=warm Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  warm_standalone=1
fi

warm_dir=/run/runxl-warm
# warm_wait_ready SECONDS: until the pool has an idle VM and none booting; 1 if not in time.
warm_wait_ready() {
  local i listing
  for ((i = 0; i < $1 * 2; i++)); do
    listing=$("$runxl" warm ls 2>/dev/null)
    [[ $listing == *" ready"* && $listing != *" booting"* ]] && return 0
    sleep 0.5
  done
  return 1
}
warm_domains() { xl list | awk 'NR > 2 && $1 ~ /^runxl-warm-/ { print $1 }'; }
warm_console() {
  local name
  for name in $(warm_domains); do echo "console of $name:"; tail -c 1500 "/var/log/xen/console/guest-$name.log" 2>/dev/null; done
}

echo "== warm: a pre-booted guest takes the next container of its shape"
cp /etc/runxl/config.json /tmp/runxl-config-before-warm.json
/usr/bin/python3 -c 'import json; p = "/etc/runxl/config.json"; c = json.load(open(p)); c["rootfs"] = "share"; c["warmPool"] = 1; json.dump(c, open(p, "w"))'
rm -rf "$warm_dir"
warm_rootfs=/tmp/warm-rootfs
warm_src=/tmp/warm-src
rm -rf "$warm_rootfs" "$warm_src" && cp -a "$work/busybox-rootfs" "$warm_rootfs" && mkdir -p "$warm_src"
echo "from-the-host" >"$warm_src/greeting"
# warm_bundle NAME SCRIPT: the rootfs above, writable, and $warm_src bound read-write at /data.
warm_bundle() {
  rm -rf "/tmp/$1" && mkdir -p "/tmp/$1"
  "$runxl" spec --bundle "/tmp/$1"
  /usr/bin/python3 - "/tmp/$1/config.json" "$warm_rootfs" "$warm_src" "$2" <<'PY'
import json, sys
path, rootfs, source, script = sys.argv[1:5]
config = json.load(open(path))
config["root"] = {"path": rootfs, "readonly": False}
config["process"]["terminal"] = False
config["process"]["args"] = ["sh", "-c", script]
config["mounts"].append({"destination": "/data", "type": "bind", "source": source, "options": ["rbind", "rw"]})
json.dump(config, open(path, "w"), indent=1)
PY
}

# The first container of the shape boots its own guest and starts the fill.
warm_bundle warm-first 'echo first-guest'
start=$(now)
timeout 300 "$runxl" --root "$root" run --bundle /tmp/warm-first warm-first </dev/null >/tmp/warm.out 2>/tmp/warm.err
status=$?
echo "FIGURE warm: run of the shape's first container, a cold boot (s): $(since "$start")"
expect "warm: the first container of the shape boots and runs" "0 first-guest" "$status $(tr -d '\r' </tmp/warm.out)"
start=$(now)
if warm_wait_ready 240; then
  pass "warm: runxl warm fill booted a warm VM ($(warm_domains | head -n 1))"
  echo "FIGURE warm: a warm VM's boot to init's wait, after the first container's end (s): $(since "$start")"
else
  fail "warm: no warm VM ready within 240 s: $("$runxl" warm ls 2>&1) $(ls "$warm_dir/shapes" 2>&1) $(cat "$warm_dir"/shapes/*.failed 2>/dev/null)"
  warm_console
fi
warm_vm=$(warm_domains | head -n 1)

warm_bundle warm-taken 'cat /data/greeting; echo written-by-the-guest >/data/from-guest; echo in-rootfs >/warm-mark; echo "pid $$ $(hostname)"; exit 3'
start=$(now)
timeout 120 "$runxl" --root "$root" run --bundle /tmp/warm-taken warm-taken </dev/null >/tmp/warm.out 2>/tmp/warm.err
status=$?
echo "FIGURE warm: run to exit of a container that takes the warm VM (s): $(since "$start")"
expect "warm: the container in the warm VM exits with its status" 3 "$status"
expect "warm: it reads its bind and is PID 1 with its spec's hostname" "from-the-host|pid 1 runxl" \
  "$(tr -d '\r' </tmp/warm.out | paste -sd '|')"
expect "warm: its writes reach the bind source on the host" written-by-the-guest "$(cat "$warm_src/from-guest" 2>/dev/null)"
expect "warm: its writes reach its rootfs on the host" in-rootfs "$(cat "$warm_rootfs/warm-mark" 2>/dev/null)"
[ "$status" = 3 ] || { tail -c 800 /tmp/warm.err; warm_console; }
xl list | awk '{ print $1 }' | grep -qx "$warm_vm" && fail "warm: the taken VM $warm_vm outlived its container" ||
  pass "warm: the taken VM went with its container"
[ -d "$warm_dir/$warm_vm" ] && fail "warm: the slot of $warm_vm is left" || pass "warm: the taken VM's slot is gone"

# A long-running one: exec, kill, delete.
warm_wait_ready 240 || fail "warm: the pool was not refilled within 240 s"
warm_vm=$(warm_domains | head -n 1)
warm_bundle warm-sleeper 'echo ready; exec sleep 600'
timeout 120 "$runxl" --root "$root" run --detach --bundle /tmp/warm-sleeper warm-sleeper </dev/null >/dev/null 2>/tmp/warm.err
expect "warm: a detached container in a warm VM runs" running "$("$runxl" --root "$root" state warm-sleeper 2>/dev/null | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)"
expect "warm: exec into it" "exec-in-warm 1" "$(timeout 60 "$runxl" --root "$root" exec warm-sleeper sh -c 'echo exec-in-warm $(pidof sleep)' 2>&1 | tr -d '\r')"
"$runxl" --root "$root" kill warm-sleeper KILL 2>/dev/null
for _ in $(seq 1 60); do
  [ "$("$runxl" --root "$root" state warm-sleeper 2>/dev/null | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)" = stopped ] && break
  sleep 0.5
done
"$runxl" --root "$root" delete warm-sleeper 2>/tmp/warm.err
expect "warm: delete after kill" 0 "$?"
xl list | awk '{ print $1 }' | grep -qx "$warm_vm" && fail "warm: $warm_vm outlived delete" || pass "warm: delete destroyed the warm VM it ran in"

# A pod whose first container took a warm VM: a further container's rootfs is bound where that
# VM's backend serves the sandbox's control directory (the slot, not the state directory).
warm_wait_ready 240 || fail "warm: the pool was not refilled within 240 s"
warm_vm=$(warm_domains | head -n 1)
warm_bundle warm-pod 'echo ready; exec sleep 600'
timeout 120 "$runxl" --root "$root" run --detach --bundle /tmp/warm-pod warm-pod </dev/null >/dev/null 2>/tmp/warm.err
xl list | awk '{ print $1 }' | grep -qx "$warm_vm" && pass "warm: a pod's first container took the warm VM" || fail "warm: the pod did not take $warm_vm: $(tail -c 300 /tmp/warm.err)"
rm -rf /tmp/warm-member-rootfs && cp -a "$work/busybox-rootfs" /tmp/warm-member-rootfs
rm -rf /tmp/warm-member && mkdir -p /tmp/warm-member && "$runxl" spec --bundle /tmp/warm-member
/usr/bin/python3 - /tmp/warm-member/config.json <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["root"] = {"path": "/tmp/warm-member-rootfs", "readonly": False}
config["process"]["terminal"] = False
config["process"]["args"] = ["sh", "-c", "echo member-wrote >/member-mark; echo member-in-pod; exit 6"]
config["annotations"] = {"io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.SandboxID": "warm-pod"}
config.pop("hostname", None)
json.dump(config, open(sys.argv[1], "w"), indent=1)
PY
timeout 120 "$runxl" --root "$root" run --bundle /tmp/warm-member warm-member </dev/null >/tmp/warm.out 2>/tmp/warm.err
status=$?
expect "warm: a further container runs in the pod's warm VM: status and output" "6 member-in-pod" "$status $(tr -d '\r' </tmp/warm.out)"
[ "$status" = 6 ] || tail -c 600 /tmp/warm.err
expect "warm: its writes reach its rootfs on the host" member-wrote "$(cat /tmp/warm-member-rootfs/member-mark 2>/dev/null)"
"$runxl" --root "$root" delete --force warm-member 2>/dev/null
"$runxl" --root "$root" delete --force warm-pod 2>/dev/null
xl list | awk '{ print $1 }' | grep -qx "$warm_vm" && fail "warm: the pod's VM $warm_vm outlived the pod" || pass "warm: the pod's warm VM went with the pod"

# podman on the pool: the same image twice, the second from a warm VM.
. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"
pm run --rm "$image" echo podman-cold </dev/null >/tmp/warm.pm 2>/tmp/warm.pm.err
expect "warm: podman run, the first container of podman's shape" podman-cold "$(tr -d '\r' </tmp/warm.pm)"
if warm_wait_ready 240; then
  warm_vm=$(warm_domains | head -n 1)
  start=$(now)
  pm run --rm "$image" sh -c 'echo podman-warm; exit 4' </dev/null >/tmp/warm.pm 2>/tmp/warm.pm.err
  status=$?
  echo "FIGURE warm: podman run --rm to exit from a warm VM (s): $(since "$start")"
  expect "warm: podman run from a warm VM: output and status" "podman-warm 4" "$(tr -d '\r' </tmp/warm.pm) $status"
  xl list | awk '{ print $1 }' | grep -qx "$warm_vm" && fail "warm: podman's container did not take $warm_vm" || pass "warm: podman's container took the warm VM"
else
  fail "warm: no warm VM for podman's image within 240 s: $("$runxl" warm ls 2>&1) $(cat "$warm_dir"/shapes/*.failed 2>/dev/null)"
fi

# Drain once no refill is booting: nothing of the pool is left.
warm_wait_ready 240
"$runxl" warm drain >/tmp/warm.drain 2>&1
expect "warm: drain destroys the idle warm VMs" 0 "$(warm_domains | wc -l)"
expect "warm: drain leaves no slot" "shapes" "$(ls "$warm_dir" 2>/dev/null | paste -sd ' ')"
runxl_state_empty && pass "warm: podman's runxl root is empty" || fail "warm: left in /run/runxl: $(ls -A /run/runxl)"
root_empty && pass "warm: the lab's runxl root is empty" || fail "warm: left in $root: $(ls -A "$root")"
only_dom0 && pass "warm: only dom0 is left" || fail "warm: domains left: $(xl list | awk 'NR > 2 { print $1 }' | paste -sd ' ')"
mv /tmp/runxl-config-before-warm.json /etc/runxl/config.json

[ -n "${warm_standalone:-}" ] && finish_lab
true
