#!/usr/bin/env bash
# Share mode on real libxl, inside the lab's dom0: the rootfs and bind sources are the host's,
# served over Xen 9pfs (libxl `p9` devices, QEMU's xen-9pfs backend). One guest writes into its
# rootfs and a read-write bind (the host reads both while it runs), reads a read-only bind, sees
# a host-side change to a bind-mounted file, and tries to leave its shares; then the backend,
# its mounts and xenstore nodes must be gone. Then root.readonly, and podman's volumes, cp and
# diff. Sourced by Tests/lab/in-dom0.sh; alone: `RUNXL_LAB_ONLY=shares Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  shares_standalone=1
fi

echo "== shares: the rootfs and binds are the host's, live over Xen 9pfs"
shares_src=/tmp/shares-src
shares_rootfs=/tmp/shares-rootfs
rm -rf "$shares_src" "$shares_rootfs"
mkdir -p "$shares_src/rw" "$shares_src/ro"
cp -a "$work/busybox-rootfs" "$shares_rootfs"
echo "from-the-host" >"$shares_src/ro/greeting"
echo "v1" >"$shares_src/hostfile"
echo "dom0-only" >/shares-dom0-marker
echo "untouched" >/tmp/shares-dom0-secret

# shares_bundle NAME ROOTFS READONLY SCRIPT MOUNTS-JSON
shares_bundle() {
  rm -rf "/tmp/$1"
  mkdir -p "/tmp/$1"
  "$runxl" spec --bundle "/tmp/$1"
  /usr/bin/python3 - "/tmp/$1/config.json" "$2" "$3" "$4" "$5" <<'PY'
import json, sys
path, rootfs, readonly, script, mounts = sys.argv[1:6]
config = json.load(open(path))
config["root"] = {"path": rootfs, "readonly": readonly == "true"}
config["process"]["terminal"] = False
config["process"]["args"] = ["sh", "-c", script]
config["mounts"] = config.get("mounts", []) + json.loads(mounts)
# Share mode by name: the lab's host config makes initramfs the other suites' default.
config["annotations"] = {"org.runxl.rootfs": "share"}
# Every capability (runc's without the list), so the guest may mknod for the containment check.
config["process"].pop("capabilities", None)
json.dump(config, open(path, "w"), indent=1)
PY
}
script='echo rootfs-write >/written-by-guest; echo bind-write >/data/new; cat /ro/greeting; '
script+='if touch /ro/nope 2>/dev/null; then echo ro-writable; else echo ro-refused; fi; cat /etc/hostfile; echo ready; '
script+='for i in $(seq 1 240); do grep -q v2 /etc/hostfile && break; sleep 0.5; done; cat /etc/hostfile; '
script+='ln -s /tmp/shares-dom0-secret /escape-link; echo pwned >/escape-link; mknod /host-memory c 1 1; '
script+='ln /data/new /hardlink-across 2>/dev/null && echo linked-across || echo link-refused; '
script+='cat /../../../../shares-dom0-marker 2>/dev/null || echo no-climb; '
script+='mv /data/new /moved-across 2>/dev/null; cat /moved-across; '
script+='grep -c " / 9p " /proc/mounts; echo done'
shares_bundle shares-bundle "$shares_rootfs" false "$script" \
  "[{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$shares_src/rw\", \"options\": [\"rbind\", \"rw\"]},
    {\"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"$shares_src/ro\", \"options\": [\"rbind\", \"ro\"]},
    {\"destination\": \"/etc/hostfile\", \"type\": \"bind\", \"source\": \"$shares_src/hostfile\", \"options\": [\"bind\", \"ro\"]}]"

start=$(now)
rx create --bundle /tmp/shares-bundle shares </dev/null >/tmp/shares.out 2>/tmp/shares.err
status=$?
echo "FIGURE share-mode create, busybox with three binds (s): $(since "$start")"
expect "shares: create" 0 "$status"
[ "$status" = 0 ] || echo "shares create: $(tail -c 800 /tmp/shares.err)"
domid=$(xl domid runxl-shares 2>/dev/null)
qemu=$(pgrep -f "xen-qemu-system-i386.*-xen-domid $domid( |$)" | head -n 1)
[ -n "$qemu" ] && pass "shares: a 9pfs backend process for the domain" || fail "shares: no backend for domain $domid: $(ps -ef | grep -i qemu)"
if [ -n "$qemu" ]; then
  echo "FIGURE 9pfs backend RSS (KiB): $(awk '/VmRSS/ { print $2 }' /proc/$qemu/status)"
  grep -q " $root/shares/share/root .*nodev" "/proc/$qemu/mountinfo" \
    && pass "shares: the backend sees the rootfs bind, nodev" || fail "shares: backend mounts: $(grep "$root" /proc/$qemu/mountinfo)"
  expect "shares: the backend sees each bind source" 3 "$(grep -c " $root/shares/share/control/binds/" "/proc/$qemu/mountinfo")"
fi
expect "shares: dom0's own mount table has none of them" 0 "$(grep -c "$root/shares" /proc/self/mountinfo)"
xenstore-ls "/local/domain/0/backend/9pfs/$domid" >/dev/null 2>&1 \
  && pass "shares: 9pfs backend nodes in xenstore" || fail "shares: no 9pfs backend in xenstore"
start=$(now)
rx start shares
for _ in $(seq 1 240); do grep -q ready /tmp/shares.out && break; sleep 0.25; done
echo "FIGURE share-mode start to the process's ready line (s): $(since "$start")"
expect "shares: the guest's rootfs write is on the host while it runs" "rootfs-write" "$(cat "$shares_rootfs/written-by-guest" 2>/dev/null)"
expect "shares: the guest's bind write is in the host directory" "bind-write" "$(cat "$shares_src/rw/new" 2>/dev/null)"
echo "v2" >"$shares_src/hostfile"
for _ in $(seq 1 240); do [ "$(rx state shares 2>/dev/null | grep -c '"stopped"')" = 1 ] && break; sleep 0.5; done
expect "shares: the read-only bind is read" "from-the-host" "$(sed -n 1p /tmp/shares.out)"
expect "shares: the read-only bind refuses writes" "ro-refused" "$(sed -n 2p /tmp/shares.out)"
expect "shares: the file bind holds the host's file" "v1" "$(sed -n 3p /tmp/shares.out)"
expect "shares: a host-side change to the file bind is seen by the running guest" "v2" "$(sed -n 5p /tmp/shares.out)"
expect "shares: a symlink to an absolute path stays in the rootfs (dom0's file untouched)" "untouched" "$(cat /tmp/shares-dom0-secret)"
expect "shares: ... and the write landed in the container's own /tmp" "pwned" "$(cat "$shares_rootfs/tmp/shares-dom0-secret" 2>/dev/null)"
expect "shares: .. above / does not climb out" "no-climb" "$(sed -n 7p /tmp/shares.out)"
expect "shares: a rename across binds copies within the shares" "bind-write" "$(cat "$shares_rootfs/moved-across" 2>/dev/null)"
expect "shares: a hard link across shares is refused" "link-refused" "$(sed -n 6p /tmp/shares.out)"
expect "shares: / is the 9p share" "1" "$(sed -n 9p /tmp/shares.out)"
# A device node the guest makes in its rootfs must never open a dom0 device through the
# backend: its mounts are nodev (checked above). Where the guest could make one, try it.
if [ -n "$qemu" ] && [ -e "$shares_rootfs/host-memory" ]; then
  nsenter --mount="/proc/$qemu/ns/mnt" head -c 1 "$root/shares/share/root/host-memory" >/dev/null 2>/tmp/shares-nodev.err \
    && fail "shares: the backend could open a device node the guest made" \
    || pass "shares: a device node the guest made cannot be opened through the share ($(tr -d '\n' </tmp/shares-nodev.err | tail -c 80))"
else
  echo "  the guest made no device node to try (its mknod: $(grep -a mknod /tmp/shares.err | tail -n 1))"
fi
grep -q done /tmp/shares.out || echo "shares output: $(cat /tmp/shares.out) / $(tail -c 800 /tmp/shares.err)"
rx delete shares
xl list runxl-shares >/dev/null 2>&1 && fail "shares: domain left after delete" || pass "shares: no domain after delete"
for _ in $(seq 1 20); do [ -z "$(pgrep -f "xen-qemu-system-i386.*-xen-domid $domid( |$)")" ] && break; sleep 0.25; done
[ -z "$(pgrep -f "xen-qemu-system-i386.*-xen-domid $domid( |$)")" ] && pass "shares: no backend process after delete" \
  || fail "shares: backend left: $(pgrep -af xen-qemu)"
xenstore-ls "/local/domain/0/backend/9pfs/$domid" >/dev/null 2>&1 && fail "shares: xenstore backend nodes left" \
  || pass "shares: no 9pfs xenstore nodes after delete"
[ -e "$root/shares" ] && fail "shares: state left after delete: $(ls -A "$root/shares")" || pass "shares: no state after delete"

echo "== shares: root.readonly refuses writes; the guest's memory is the default, whatever the image"
shares_bundle shares-ro "$shares_rootfs" true \
  'if touch /guest-was-here 2>/dev/null; then echo root-writable; else echo root-refused; fi; grep MemTotal /proc/meminfo' '[]'
rx launch /tmp/shares-ro >/tmp/shares-ro.out 2>/tmp/shares-ro.err
expect "shares: root.readonly refuses writes" "root-refused" "$(sed -n 1p /tmp/shares-ro.out)"
[ -e "$shares_rootfs/guest-was-here" ] && fail "shares: a read-only rootfs was written" || pass "shares: the host rootfs is unchanged"
echo "  guest memory: $(sed -n 2p /tmp/shares-ro.out)"

echo "== shares: a bind source dom0 cannot share fails create and leaves nothing"
mkfifo /tmp/shares-fifo 2>/dev/null
shares_bundle shares-bad "$shares_rootfs" false 'true' \
  '[{"destination": "/fifo", "type": "bind", "source": "/tmp/shares-fifo", "options": ["bind"]}]'
rx create --bundle /tmp/shares-bad sharesbad </dev/null >/dev/null 2>/tmp/shares-bad.err
expect "shares: create with a fifo source fails" 1 "$?"
grep -q "neither a file nor a directory" /tmp/shares-bad.err && pass "shares: the error says why" || fail "shares: error: $(cat /tmp/shares-bad.err)"
only_dom0 && [ ! -e "$root/sharesbad" ] && pass "shares: nothing left after a failed create" || fail "shares: left: $(xl list; ls -A "$root")"

echo "== shares: a backend that dies under a running guest stops the container with the reason; delete leaves nothing"
shares_bundle shares-die "$shares_rootfs" false \
  'echo ready; while true; do cat /etc/hostname >/dev/null 2>&1 || echo io-error; sleep 0.5; done' '[]'
rx create --bundle /tmp/shares-die sharesdie </dev/null >/tmp/shares-die.out 2>/tmp/shares-die.err
rx start sharesdie
for _ in $(seq 1 240); do grep -q ready /tmp/shares-die.out && break; sleep 0.25; done
domid=$(xl domid runxl-sharesdie 2>/dev/null)
qemu=$(pgrep -f "xen-qemu-system-i386.*-xen-domid $domid( |$)" | head -n 1)
[ -n "$qemu" ] && kill -9 "$qemu"
for _ in $(seq 1 60); do rx state sharesdie 2>/dev/null | grep -q '"stopped"' && break; sleep 0.5; done
expect "shares: the container stops when its backend dies" stopped "$(rx state sharesdie 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])' 2>&1)"
grep -q "9pfs backend.*exited while the container ran" /tmp/shares-die.err && pass "shares: the backend's death is given as the reason on the container's stderr" \
  || fail "shares: no reason for the stop: $(tail -c 600 /tmp/shares-die.err)"
expect "shares: no domain once the backend died" "" "$(xl domid runxl-sharesdie 2>/dev/null)"
rx delete --force sharesdie
only_dom0 && [ ! -e "$root/sharesdie" ] && [ -z "$(xenstore-list /local/domain/0/backend/9pfs 2>/dev/null)" ] \
  && pass "shares: delete after the backend died leaves nothing" || fail "shares: left: $(xl list; ls -A "$root"; xenstore-list /local/domain/0/backend/9pfs 2>&1)"

echo "== shares: a guest whose init fails before the process says why on stderr"
shares_bundle shares-initfail "$shares_rootfs" false 'echo never' \
  '[{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=not-a-size"]}]'
rx launch /tmp/shares-initfail >/tmp/shares-initfail.out 2>/tmp/shares-initfail.err
expect "shares: init's failure exit status" 127 "$?"
grep -q "runxl: container .* failed: mount tmpfs" /tmp/shares-initfail.err && pass "shares: the failure's reason reaches stderr" \
  || fail "shares: no reason on stderr: $(tail -c 600 /tmp/shares-initfail.err)"
only_dom0 && root_empty && pass "shares: a failed guest leaves nothing" || fail "shares: after a failed guest: $(xl list; ls -lAR "$root" | head -n 40)"

echo "== shares: a Debian minbase image runs with the default guest memory"
if [ -d "$work/minbase/rootfs" ]; then
  start=$(now)
  rx launch --rootfs share "$work/minbase" -- sh -c 'cat /etc/debian_version; dpkg-query -W -f="\${Package}\n" dpkg' >/tmp/minbase.out 2>/tmp/minbase.err
  status=$?
  echo "FIGURE launch of Debian minbase (share mode, default memory) to exit (s): $(since "$start")"
  expect "shares: Debian minbase exit status" 0 "$status"
  grep -q "^12" /tmp/minbase.out && grep -q "^dpkg$" /tmp/minbase.out && pass "shares: Debian minbase runs dpkg" \
    || fail "shares: minbase: $(cat /tmp/minbase.out) / $(tail -c 600 /tmp/minbase.err)"
  start=$(now)
  python3 - "$work/minbase/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.setdefault("annotations", {})["org.runxl.rootfs"] = "share"
json.dump(config, open(sys.argv[1], "w"))
PY
  rx create --bundle "$work/minbase" minbase </dev/null >/dev/null 2>/tmp/minbase.err
  echo "FIGURE share-mode create of Debian minbase (s): $(since "$start")"
  rx delete --force minbase
else
  echo "SKIP: shares: Debian minbase (Scripts/lab-tests could not build it: no Debian mirror?)"
fi

. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"
# The guest's 9pfs backend for a podman container (no domain id when it has none).
podman_backends() { pgrep -fc "xen-qemu-system-i386.*-xen-domid" || true; }

echo "== shares: podman run -v HOSTDIR writes into the host directory"
rm -rf /tmp/shares-volume && mkdir -p /tmp/shares-volume
start=$(now)
# The image's user is uid 1000 (Tests/images/make-archives.sh): the volume is its to write.
chown 1000:1000 /tmp/shares-volume
pm run --rm --annotation org.runxl.rootfs=share -v /tmp/shares-volume:/data "$image" sh -c 'echo written-in-guest >/data/f; echo first-output' >/tmp/pm.out 2>/tmp/pm.err
status=$?
echo "FIGURE podman run --rm -v share mode whole run (s): $(since "$start")"
expect "shares: podman run -v exit status" 0 "$status"
[ "$status" = 0 ] || tail -c 800 /tmp/pm.err
expect "shares: the host reads what the container wrote" "written-in-guest" "$(cat /tmp/shares-volume/f 2>/dev/null)"
expect "shares: the file has the container process's owner on the host" "1000:1000" "$(stat -c %u:%g /tmp/shares-volume/f 2>/dev/null)"
grep -q written-in-guest /tmp/shares-volume/f 2>/dev/null || echo "  podman run -v: $(cat /tmp/pm.out) / $(tail -c 600 /tmp/pm.err)"

echo "== shares: a named volume keeps data from one container to the next"
pm volume rm -f sharesvol >/dev/null 2>&1
pm volume create sharesvol >/dev/null 2>&1
pm run --rm --annotation org.runxl.rootfs=share -v sharesvol:/data "$image" sh -c 'echo kept-in-volume >/data/k' >/dev/null 2>/tmp/pm.err
pm run --rm --annotation org.runxl.rootfs=share -v sharesvol:/data "$image" cat /data/k >/tmp/pm.out 2>/tmp/pm.err
expect "shares: the second container reads the volume" "kept-in-volume" "$(cat /tmp/pm.out)"
pm volume rm -f sharesvol >/dev/null 2>&1

echo "== shares: podman cp and podman diff see what a running container wrote"
pm run -d --annotation org.runxl.rootfs=share --user 0 --name sharescp "$image" sh -c 'echo made-inside >/tmp/out; mkdir /new-dir; echo ready; sleep 600' >/dev/null 2>/tmp/pm.err
for _ in $(seq 1 240); do pm logs sharescp 2>/dev/null | grep -q ready && break; sleep 0.5; done
pm logs sharescp 2>/dev/null | grep -q ready && pass "shares: the podman container is running" || fail "shares: no ready: $(tail -c 600 /tmp/pm.err)"
rm -rf /tmp/shares-cp && mkdir -p /tmp/shares-cp
pm cp sharescp:/tmp/out /tmp/shares-cp/out >/tmp/pm.cp 2>&1
expect "shares: podman cp out of the running container" "made-inside" "$(cat /tmp/shares-cp/out 2>/dev/null)"
[ -s /tmp/shares-cp/out ] || echo "  podman cp: $(tail -c 600 /tmp/pm.cp)"
# Copying INTO a running share-mode container does not reach it yet (podman 4.3 writes in the
# reported pid's mount namespace; what it resolves there is under investigation): shown, not
# counted, until it works. docs/guest-build.md lists it.
echo "put-by-cp" >/tmp/shares-cp/in
pm cp /tmp/shares-cp/in sharescp:/tmp/in >/tmp/pm.cp 2>&1
echo "  podman cp into the running container: status $?, the container reads [$(pm exec sharescp cat /tmp/in 2>&1 </dev/null | head -c 200)], found on the host at: $(find /run -name in -path '*/tmp/in' 2>/dev/null | head -n 3 | tr '\n' ' ')"
pm diff sharescp >/tmp/pm.diff 2>&1
grep -q "^A /tmp/out" /tmp/pm.diff && grep -q "^A /new-dir" /tmp/pm.diff && pass "shares: podman diff lists the container's writes"   || fail "shares: podman diff: $(head -c 400 /tmp/pm.diff)"
expect "shares: one 9pfs backend while the container runs" 1 "$(podman_backends)"
pm rm -f sharescp >/dev/null 2>&1
expect "shares: podman rm -f leaves no domain" 0 "$(podman_domains)"
for _ in $(seq 1 20); do [ "$(podman_backends)" = 0 ] && break; sleep 0.25; done
expect "shares: podman rm -f leaves no backend process" 0 "$(podman_backends)"
expect "shares: podman rm -f leaves no 9pfs xenstore backend" "" "$(xenstore-list /local/domain/0/backend/9pfs 2>/dev/null)"
expect "shares: podman rm -f leaves no loop device" 0 "$(losetup -a | wc -l)"
runxl_state_empty && pass "shares: podman rm -f leaves no runxl state" || fail "shares: runxl state left: $(ls -A /run/runxl 2>/dev/null)"

if [ -n "${shares_standalone:-}" ]; then finish_lab; fi
