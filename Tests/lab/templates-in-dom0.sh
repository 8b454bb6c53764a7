#!/usr/bin/env bash
# VM templates on real libxl (issue 17, docs/fast-start.md): a share-mode guest with
# org.runxl.template=true. The first run boots the template to init's ready report and saves it
# (libxl_domain_suspend); every run restores it (libxl_domain_create_restore) with the
# container's own 9pfs shares and vif, which the guest meets only as it resumes. Checks that a
# restored guest writes into its rootfs and reads its bind, gets fresh randomness and the host's
# clock, takes its network, and leaves nothing; prints restore against boot.
# Not in CI: templates are experimental, off by default and for PVH guests only (a restored PV
# guest loses 9pfs shares: docs/fast-start.md), and PVH under the lab's TCG is slow.
# Alone: `RUNXL_LAB_ONLY=templates Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  templates_standalone=1
fi

echo "== templates: share-mode guests restored from a saved VM template"
tpl_rootfs=/tmp/tpl-rootfs
tpl_data=/tmp/tpl-data
rm -rf "$tpl_rootfs" "$tpl_data" /var/lib/runxl/cache/templates
cp -a "$work/busybox-rootfs" "$tpl_rootfs"
mkdir -p "$tpl_data"
echo "from-the-host" >"$tpl_data/in"

# tpl_bundle NAME TEMPLATE(true|false) SCRIPT [NETNS-PATH]
tpl_bundle() {
  rm -rf "/tmp/$1"
  mkdir -p "/tmp/$1"
  "$runxl" spec --bundle "/tmp/$1"
  /usr/bin/python3 - "/tmp/$1/config.json" "$tpl_rootfs" "$tpl_data" "$2" "$3" "${4:-}" <<'PY'
import json, sys
path, rootfs, data, template, script, netns = sys.argv[1:7]
config = json.load(open(path))
config["root"] = {"path": rootfs, "readonly": False}
config["process"]["terminal"] = False
config["process"]["args"] = ["sh", "-c", script]
config["mounts"] = config.get("mounts", []) + [
    {"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]}]
config["annotations"] = {"org.runxl.rootfs": "share", "org.runxl.template": template,
                         "org.runxl.guest.type": "pvh"}
if netns:
    spaces = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
    config["linux"]["namespaces"] = spaces + [{"type": "network", "path": netns}]
json.dump(config, open(path, "w"), indent=1)
PY
}

# One line of facts the host compares: what the guest wrote, read, drew and thinks the time is.
tpl_script='echo guest-wrote >/written-by-guest; echo "read:$(cat /data/in)"; '
tpl_script+='echo "random:$(head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n")"; echo "clock:$(date +%s)"'
tpl_bundle tpl-on true "$tpl_script"
tpl_bundle tpl-off false "$tpl_script"

# tpl_run NAME BUNDLE: a foreground run, bounded; its seconds in $tpl_took, its output in
# /tmp/NAME.out, its --debug trace in /tmp/NAME.err. A failed run prints its trace's end and
# the console of every template and of its own guest.
tpl_run() {
  local start log
  start=$(now)
  timeout -k 5 300 "$runxl" --root "$root" --debug run --bundle "/tmp/$2" "$1" </dev/null >"/tmp/$1.out" 2>"/tmp/$1.err"
  tpl_status=$?
  tpl_took=$(since "$start")
  [ "$tpl_status" = 0 ] && return
  echo "run $1 (bundle $2): status $tpl_status after $tpl_took s; its trace ends:"
  tail -n 15 "/tmp/$1.err"
  for log in /var/log/xen/console/guest-runxl-template-*.log "/var/log/xen/console/guest-runxl-$1.log"; do
    [ -f "$log" ] && { echo "-- $log"; tail -c 1500 "$log"; }
  done
  rx delete --force "$1" >/dev/null 2>&1
}

tpl_run tpl-first tpl-on
echo "FIGURE templates: first run, template booted and saved, then restored (s): $tpl_took"
expect "templates: first run exits 0" 0 "$tpl_status"
[ "$tpl_status" = 0 ] || echo "tpl-first: $(tail -c 1500 /tmp/tpl-first.err)"
tpl_image=$(ls /var/lib/runxl/cache/templates/*.xen-save 2>/dev/null | head -n 1)
[ -n "$tpl_image" ] && pass "templates: the saved image is in the cache ($(du -m "$tpl_image" | cut -f1) MiB)" \
  || fail "templates: no saved image: $(ls -la /var/lib/runxl/cache/templates 2>&1)"
grep -q "restored from the VM template" /tmp/tpl-first.err && pass "templates: the first run's guest was restored" \
  || fail "templates: the first run booted: $(grep -i template /tmp/tpl-first.err | tail -c 800)"
expect "templates: the restored guest read its bind" "read:from-the-host" "$(grep -a -o 'read:[a-z-]*' /tmp/tpl-first.out)"
expect "templates: the restored guest wrote into its rootfs" "guest-wrote" "$(cat "$tpl_rootfs/written-by-guest" 2>/dev/null)"
host_clock=$(date +%s)
guest_clock=$(grep -a -o 'clock:[0-9]*' /tmp/tpl-first.out | cut -d: -f2)
[ -n "$guest_clock" ] && [ $((host_clock - guest_clock)) -lt 30 ] && [ $((guest_clock - host_clock)) -lt 30 ] \
  && pass "templates: the restored guest has the host's clock (guest $guest_clock, host $host_clock)" \
  || fail "templates: guest clock [$guest_clock], host $host_clock"

tpl_restore_t=()
tpl_boot_t=()
for round in 1 2 3; do
  tpl_run "tpl-r$round" tpl-on
  [ "$tpl_status" = 0 ] && grep -q "restored from the VM template" "/tmp/tpl-r$round.err" && tpl_restore_t+=("$tpl_took") \
    || fail "templates: restored run $round: status $tpl_status: $(tail -c 800 "/tmp/tpl-r$round.err")"
  tpl_run "tpl-b$round" tpl-off
  [ "$tpl_status" = 0 ] && tpl_boot_t+=("$tpl_took") || fail "templates: booted run $round: $(tail -c 800 "/tmp/tpl-b$round.err")"
done
expect "templates: three restored runs" 3 "${#tpl_restore_t[@]}"
echo "FIGURE templates: run to exit, restored from the template, median of ${#tpl_restore_t[@]} (s): $(median "${tpl_restore_t[@]}")"
echo "FIGURE templates: run to exit, booted, median of ${#tpl_boot_t[@]} (s): $(median "${tpl_boot_t[@]}")"
randoms=$(cat /tmp/tpl-first.out /tmp/tpl-r1.out /tmp/tpl-r2.out /tmp/tpl-r3.out | grep -a -o 'random:[0-9a-f]*' | sort -u | wc -l)
expect "templates: each restored guest draws different random bytes" 4 "$randoms"

echo "== templates: a restored guest takes its vif"
veth_namespace rxtpl rxtplh 10.79.0
tpl_bundle tpl-net true 'ping -c 1 -W 5 10.79.0.1 >/dev/null && echo ping-ok || echo ping-failed' /run/netns/rxtpl
tpl_run tpl-net tpl-net
echo "FIGURE templates: networked run, template made on first use (s): $tpl_took"
expect "templates: networked run exits 0" 0 "$tpl_status"
grep -q "restored from the VM template" /tmp/tpl-net.err && pass "templates: the networked guest was restored" \
  || fail "templates: the networked guest booted: $(grep -ai template /tmp/tpl-net.err | tail -c 600)"
expect "templates: the restored guest reaches dom0 over its vif" "ping-ok" "$(grep -a -o 'ping-[a-z]*' /tmp/tpl-net.out)"
[ "$tpl_status" = 0 ] || echo "tpl-net: $(tail -c 1500 /tmp/tpl-net.err)"
ip link del rxtplh 2>/dev/null
ip netns del rxtpl

echo "== templates: nothing left"
only_dom0 && pass "templates: no domain left (template or container)" || fail "templates: domains left: $(xl list)"
expect "templates: no 9pfs backend left" 0 "$(pgrep -c -f xen-qemu-system-i386)"
root_empty && pass "templates: no record left" || fail "templates: records left: $(ls -A "$root")"
expect "templates: no partial image left" 0 "$(ls /var/lib/runxl/cache/templates | grep -c runxl-tmp)"
rm -rf "$tpl_rootfs" "$tpl_data" /var/lib/runxl/cache/templates

if [ -n "${templates_standalone:-}" ]; then finish_lab; fi
