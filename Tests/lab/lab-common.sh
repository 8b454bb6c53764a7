# The helpers every lab check script uses, sourced once per dom0 run: PASS/FAIL counters,
# timing, runxl under the lab's root, and the host config naming the lab's guest kernel.
set -uo pipefail
runxl=$RUNXL_BINARY
work=$RUNXL_LAB_WORK
root=/run/runxl-lab
export RUNXL_INIT
passed=0
failed=0
# Each line ends with the lab's clock ([S s], seconds since its commands began): the gap between
# two lines is what a check cost, for keeping CI's time budget.
pass() { echo "PASS: $* [$SECONDS s]"; passed=$((passed + 1)); }
fail() { echo "FAIL: $* [$SECONDS s]"; failed=$((failed + 1)); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# expect NAME EXPECTED ACTUAL
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
only_dom0() { [ "$(xl list | tail -n +2 | wc -l)" = 1 ]; }
root_empty() { [ -z "$(ls -A "$root" 2>/dev/null)" ]; }
rx() { "$runxl" --root "$root" "$@"; }
# Runs that only give a comparison figure (runc beside runxl, runxl beside raw xl) and no
# pass or fail: Scripts/bench measures each with medians, so CI's lab, at its time budget,
# skips them unless RUNXL_LAB_FIGURES=1.
wants_figures() { [ "${RUNXL_LAB_FIGURES:-}" = 1 ]; }
# What a Xen host's xencommons loads (netback), plus tc's redirect and the veth and bridge CNI
# uses: the lab's dom0 loads none of them by itself.
load_network_modules() {
  local module
  for module in xen-netback sch_ingress act_mirred cls_u32 veth bridge; do
    modprobe "$module" 2>/dev/null || echo "note: modprobe $module failed"
  done
}
# share_mode_on / share_mode_off: the host config switched to share mode, runxl's default, for
# a suite whose pods need it (the suites' config runs initramfs mode, above), and put back.
share_mode_on() {
  cp /etc/runxl/config.json /tmp/runxl-config-before-share.json
  /usr/bin/python3 -c 'import json; p = "/etc/runxl/config.json"; c = json.load(open(p)); c["rootfs"] = "share"; json.dump(c, open(p, "w"))'
}
share_mode_off() { mv /tmp/runxl-config-before-share.json /etc/runxl/config.json; }
# median X...: the middle value (the mean of the two middle ones for an even count), as the
# bench scripts compute it.
# veth_namespace NS HOSTIF PREFIX: network namespace NS, as CNI makes one, with eth0 at
# PREFIX.2/24 and its veth peer HOSTIF in dom0 at PREFIX.1/24, all up (a stale one is replaced).
veth_namespace() {
  local ns=$1 host=$2 prefix=$3
  load_network_modules
  ip netns del "$ns" 2>/dev/null
  ip link del "$host" 2>/dev/null
  ip netns add "$ns"
  ip link add "$host" type veth peer name eth0 netns "$ns"
  ip addr add "$prefix.1/24" dev "$host"
  ip link set "$host" up
  ip -n "$ns" addr add "$prefix.2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Seconds since the previous call (or since the lab's commands began), printed as a TIME line:
# where the lab's time goes, for keeping CI's budget.
lab_section_mark=$SECONDS
lab_section_time() {
  echo "TIME up to here: $((SECONDS - lab_section_mark)) s (total $SECONDS s)"
  lab_section_mark=$SECONDS
}

# The closing line Scripts/lab-tests reads; the exit status says whether anything failed.
finish_lab() {
  echo "lab: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}

# The guest kernel: the lab's ELF (already extracted on the host), through the host config file.
# The suites that test the lifecycle, exec, the clients and the network run initramfs mode
# (`"rootfs"` below): under the lab's emulation a share-mode guest costs some 20 s more per boot
# (9p round trips through dom0's QEMU backend, the backend's own start), which would double the
# lab's time. Share mode, runxl's default, is what shares-in-dom0.sh, the kill-injection checks
# (failure-in-dom0.sh) and the sleeper-share fixture run, through the org.runxl.rootfs annotation.
mkdir -p /etc/runxl /var/lib/runxl
cat >/etc/runxl/config.json <<JSON
{"kernel": "$RUNXL_LAB_KERNEL", "cacheDir": "/var/lib/runxl/cache", "rootfs": "initramfs"}
JSON
# The fixtures' rootfs from the 9p share to dom0's own file system, as a Xen host keeps its
# containers' trees on local storage: a share-mode guest would otherwise reach it through two
# 9p hops (Xen's, then the lab's virtio one), and every initramfs key walk through one. The
# share keeps a symlink in its place, so every script's "$work/busybox-rootfs" is the local copy.
if [ ! -L "$work/busybox-rootfs" ] && [ -d "$work/busybox-rootfs" ]; then
  rm -rf /var/tmp/lab-rootfs
  cp -a "$work/busybox-rootfs" /var/tmp/lab-rootfs
  mv "$work/busybox-rootfs" "$work/busybox-rootfs.share"
  ln -s /var/tmp/lab-rootfs "$work/busybox-rootfs"
elif [ -L "$work/busybox-rootfs" ] && [ ! -d /var/tmp/lab-rootfs ] && [ -d "$work/busybox-rootfs.share" ]; then
  # A work directory used by an earlier lab boot: this dom0 is new, its copy is not there.
  cp -a "$work/busybox-rootfs.share" /var/tmp/lab-rootfs
fi
lab_common_loaded=1
