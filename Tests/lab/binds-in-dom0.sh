#!/usr/bin/env bash
# Directory bind mounts on real libxl, inside the lab's dom0: each becomes an ext4 image in the
# container's state directory, a blkback disk (libxl's `block` script puts it on a loop
# device) and an ext4 mount made by runxl-init. Checks a read-only bind the guest reads, a
# read-write bind it writes (into the image, not the host directory), and that the domain, the
# loop devices and the images are gone after delete (the loop devices when the confined
# supervisor destroys the domain, before delete).
# Sourced by Tests/lab/in-dom0.sh (lab-common.sh: pass/fail/expect, $runxl, $work, rx); alone:
# `RUNXL_LAB_ONLY=binds Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  binds_standalone=1
fi

echo "== binds (initramfs mode): directory bind mounts reach the guest as disks"
# dom0's side of a disk: the block backend, and loop devices for the image files.
modprobe loop 2>/dev/null
modprobe xen-blkback 2>/dev/null
# libxl's `block` hotplug script takes its lock by comparing `stat /dev/stdin` with the lock
# file; udev or systemd make /dev/stdin on a real host, the lab's bare devtmpfs has none, and
# the script then spins until libxl kills it (create fails after the hotplug timeout).
for link in 0:stdin 1:stdout 2:stderr; do
  [ -e "/dev/${link#*:}" ] || ln -s "/proc/self/fd/${link%%:*}" "/dev/${link#*:}"
done
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -d /sys/bus/xen-backend/drivers/vbd ] && pass "binds: blkback loaded in dom0" || fail "binds: no blkback driver in dom0"
loops_before=$(losetup -a | wc -l)

binds_src=/tmp/binds-src
rm -rf "$binds_src"
mkdir -p "$binds_src/ro/sub" "$binds_src/rw"
echo "from-the-host" >"$binds_src/ro/sub/greeting"
echo "kept" >"$binds_src/rw/existing"

# binds_bundle NAME ARGS-JSON MOUNTS-JSON: a bundle around the lab's busybox rootfs.
binds_bundle() {
  rm -rf "/tmp/$1"
  mkdir -p "/tmp/$1"
  "$runxl" spec --bundle "/tmp/$1"
  /usr/bin/python3 - "/tmp/$1/config.json" "$work/busybox-rootfs" "$2" "$3" <<'PY'
import json, sys
path, rootfs, args, mounts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
config = json.load(open(path))
config["root"] = {"path": rootfs, "readonly": True}
config["process"]["terminal"] = False
config["process"]["args"] = args
config["mounts"] = config.get("mounts", []) + mounts
# The ext4 copies are initramfs mode's (share mode serves binds live: shares-in-dom0.sh).
config.setdefault("annotations", {})["org.runxl.rootfs"] = "initramfs"
json.dump(config, open(path, "w"), indent=1)
PY
}
script='cat /srv/ro/sub/greeting; echo guest-wrote >/srv/rw/new && cat /srv/rw/new; cat /srv/rw/existing; '
script+='if touch /srv/ro/nope 2>/dev/null; then echo ro-writable; else echo ro-refused; fi; '
script+='grep -c " /srv/r[ow] ext4 " /proc/mounts'
binds_bundle binds-bundle "$(python3 -c 'import json,sys; print(json.dumps(["sh", "-c", sys.argv[1]]))' "$script")" \
  "[{\"destination\": \"/srv/ro\", \"type\": \"bind\", \"source\": \"$binds_src/ro\", \"options\": [\"rbind\", \"ro\"]},
    {\"destination\": \"/srv/rw\", \"type\": \"bind\", \"source\": \"$binds_src/rw\", \"options\": [\"rbind\", \"rw\"]}]"
binds_bundle binds-plain '["true"]' '[]'

# The same rootfs and kernel without binds, for the cost of the images and disks at create.
rx create --bundle /tmp/binds-plain plain </dev/null >/dev/null 2>/tmp/plain.err
start=$(now)
rx delete --force plain
rx create --bundle /tmp/binds-plain plain </dev/null >/dev/null 2>/tmp/plain.err
echo "FIGURE create without binds, initramfs cached (s): $(since "$start")"
rx delete --force plain

start=$(now)
rx create --bundle /tmp/binds-bundle binds </dev/null >/tmp/binds.out 2>/tmp/binds.err
status=$?
echo "FIGURE create with two directory binds, first (s): $(since "$start")"
expect "binds: create" 0 "$status"
[ "$status" = 0 ] || echo "binds create: $(tail -c 600 /tmp/binds.err)"
ls "$root/binds/binds/"xvdb.img "$root/binds/binds/"xvdc.img >/dev/null 2>&1 \
  && pass "binds: one image per directory in the state directory" || fail "binds: images: $(ls -lR "$root/binds" 2>&1 | head)"
expect "binds: a loop device per disk while the domain lives" 2 "$(( $(losetup -a | wc -l) - loops_before ))"
start=$(now)
rx start binds 2>/tmp/binds-start.err
echo "FIGURE start of the container with binds (s): $(since "$start") (status $?)"
start=$(now)
for _ in $(seq 1 240); do [ "$(rx state binds 2>/dev/null | grep -c '"stopped"')" = 1 ] && break; sleep 0.5; done
echo "FIGURE start to stopped, container with binds (s): $(since "$start")"
if [ "$(rx state binds 2>/dev/null | grep -c '"stopped"')" != 1 ]; then
  echo "  not stopped: $(rx state binds 2>&1 | tr -d '\n' | head -c 600)"
  echo "  start's stderr: $(tail -c 300 /tmp/binds-start.err)"
  echo "  create's stderr: $(tail -c 600 /tmp/binds.err)"
  echo "  runxl processes: $(pgrep -af 'runxl' | grep -v pgrep | head -n 8 | tr '\n' ';')"
  xl list
fi
expect "binds: the guest read the read-only bind" "from-the-host" "$(sed -n 1p /tmp/binds.out)"
expect "binds: the guest wrote into the read-write bind" "guest-wrote" "$(sed -n 2p /tmp/binds.out)"
expect "binds: the read-write bind holds the host's files" "kept" "$(sed -n 3p /tmp/binds.out)"
expect "binds: the read-only bind refuses writes" "ro-refused" "$(sed -n 4p /tmp/binds.out)"
expect "binds: both are ext4 mounts" "2" "$(sed -n 5p /tmp/binds.out)"
[ -e "$binds_src/rw/new" ] && fail "binds: the guest's write reached the host directory" \
  || pass "binds: the host directory is untouched (writes go to the image)"
if [ "$(sed -n 1p /tmp/binds.out)" != "from-the-host" ]; then
  echo "binds output: $(cat /tmp/binds.out) / $(tail -c 600 /tmp/binds.err)"
  # The same guest with its kernel talking, to see what blkfront and ext4 said.
  python3 - /tmp/binds-bundle/config.json <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.setdefault("annotations", {})["org.runxl.cmdline.extra"] = "loglevel=8 ignore_loglevel"
json.dump(config, open(sys.argv[1], "w"))
PY
  dmesg -c >/dev/null 2>&1
  rx create --bundle /tmp/binds-bundle bindsdebug </dev/null >/dev/null 2>&1 && rx start bindsdebug
  sleep 15
  domid=$(xl domid runxl-bindsdebug 2>/dev/null)
  echo "---- backend and frontend in xenstore (domain $domid) ----"
  xenstore-ls -f /local/domain/0/backend/vbd 2>/dev/null | grep -E "/(state|physical-device|hotplug-status|mode|params|type|hotplug-error)" | head -n 30
  xenstore-ls -f "/local/domain/$domid/device/vbd" 2>/dev/null | head -n 30
  echo "---- dom0 kernel log ----"
  dmesg 2>/dev/null | tail -n 30
  sleep 25
  echo "---- guest console (bindsdebug) ----"
  tr -cd '[:print:]\n' </var/log/xen/console/guest-runxl-bindsdebug.log | tail -n 60
  echo "---- hotplug log ----"
  tail -n 20 /var/log/xen/xen-hotplug.log 2>/dev/null
  rx delete --force bindsdebug
fi
# The confined supervisor destroyed the domain when the process ended: libxl's block script
# ran under its seccomp filter and capabilities.
for _ in $(seq 1 40); do [ "$(losetup -a | wc -l)" = "$loops_before" ] && break; sleep 0.25; done
expect "binds: loop devices released when the guest ended" "$loops_before" "$(losetup -a | wc -l)"
rx delete binds 2>/tmp/binds-delete.err || echo "  delete: $(tail -c 300 /tmp/binds-delete.err)"
xl list runxl-binds >/dev/null 2>&1 && fail "binds: domain left after delete" || pass "binds: no domain after delete"
expect "binds: no loop device after delete" "$loops_before" "$(losetup -a | wc -l)"
[ -e "$root/binds" ] && fail "binds: state left after delete: $(ls -lR "$root/binds")" || pass "binds: no image file after delete"

# Second create of the same bundle (initramfs cached): the binds' own cost.
start=$(now)
rx create --bundle /tmp/binds-bundle binds2 </dev/null >/dev/null 2>/tmp/binds2.err
echo "FIGURE create with two directory binds, initramfs cached (s): $(since "$start")"
start=$(now)
rx delete --force binds2
echo "FIGURE delete --force with two disks (s): $(since "$start")"
expect "binds: no loop device after delete --force of a created container" "$loops_before" "$(losetup -a | wc -l)"

echo "== binds: a bad bind fails create and leaves nothing"
binds_bundle binds-missing '["true"]' "[{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$binds_src/missing\", \"options\": [\"rbind\"]}]"
rx create --bundle /tmp/binds-missing missing </dev/null >/dev/null 2>/tmp/missing.err
expect "binds: create with a missing source fails" 1 "$?"
grep -q "mounts\[.*(/data)" /tmp/missing.err && pass "binds: the error names the mount" || fail "binds: error: $(cat /tmp/missing.err)"
xl list runxl-missing >/dev/null 2>&1 && fail "binds: a domain was left" || pass "binds: no domain after a failed create"
[ -e "$root/missing" ] && fail "binds: state left after a failed create" || pass "binds: no state after a failed create"

if [ -n "${binds_standalone:-}" ]; then finish_lab; fi
