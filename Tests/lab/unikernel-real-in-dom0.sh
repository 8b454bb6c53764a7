#!/usr/bin/env bash
# Real unikernels built from their own sources (Images/unikernels/real: Unikraft's helloworld in
# kraftkit's layout and its HTTP server on a vif, Mini-OS PV and PVH) through runxl launch,
# podman run and ctr run, with the launch-to-first-output figures docs/unikernels.md quotes.
# Sourced by clients-in-dom0.sh while its podman ($image, pm) and containerd (c) are up. The
# sources are in no package registry CI reaches: without them the check says it is skipped and
# why, and counts nothing.

real_images=$work/unikernel-images
if [ ! -d "$real_images/real-unikraft" ]; then
  echo "== real unikernels (Unikraft, Mini-OS)"
  if [ -s "$work/real-unikernels.failed" ]; then
    fail "real unikernels: the sources are there but the build failed: $(cat "$work/real-unikernels.failed")"
  else
    echo "  skipped: $(cat "$work/real-unikernels.skipped" 2>/dev/null || echo 'not built') (not counted)"
  fi
  return 0
fi

real_store=/var/tmp/runxl-real-store
rxr() { "$runxl" --root "$root" --store "$real_store" "$@"; }
# Bounded: a kernel that hangs costs one check, not the lab's whole run.
rxr_bounded() { timeout -k 5 "$1" "$runxl" --root "$root" --store "$real_store" "${@:2}"; }
# wait_for FILE TEXT SECONDS
# Half-second steps: under the lab's emulation every grep costs a noticeable fraction of that.
real_wait_for() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do grep -aqF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.5; done
  return 1
}
# real_wait_exit PID SECONDS: whether the process ended within SECONDS.
real_wait_exit() {
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done
  return 1
}
# first_output OUT COMMAND...: runs COMMAND with stdout to OUT; prints the seconds to its first
# line on fd 3 and returns COMMAND's status.
first_output() {
  local out=$1 start
  shift
  start=$(now)
  "$@" 2>/tmp/real.err | { IFS= read -r line; echo "$(since "$start")" >&3; printf '%s\n' "$line"; cat; } >"$out"
  return "${PIPESTATUS[0]}"
}
rm -rf "$real_store"
rxr image import "$real_images/real-unikraft" --name real-unikraft:lab --platform xen/x86_64 -q >/dev/null 2>/tmp/real.err \
  || fail "real unikernels: import Unikraft: $(cat /tmp/real.err)"
for kind in pv pvh; do
  rxr image import "$real_images/real-mini-os-$kind" --name "real-mini-os-$kind:lab" -q >/dev/null 2>/tmp/real.err \
    || fail "real unikernels: import Mini-OS $kind: $(cat /tmp/real.err)"
done

echo "== real unikernels: Unikraft helloworld through runxl launch (kraftkit's layout)"
unikraft_times=()
for _ in 1 2 3; do
  seconds=$(first_output /tmp/real.out rxr_bounded 120 launch real-unikraft:lab -- a "b c" 3>&1)
  status=$?
  unikraft_times+=("$seconds")
done
echo "FIGURE real Unikraft helloworld, launch to first output (s): ${unikraft_times[*]} median $(median "${unikraft_times[@]}")"
# The same measure, same boot, for the test kernel and a busybox Linux guest (docs/unikernels.md).
rxr image import "$real_images/runxl-pv" --name test-pv:lab -q >/dev/null 2>&1
test_times=() linux_times=()
for _ in 1 2 3; do
  test_times+=("$(first_output /tmp/real.cmp rxr_bounded 120 launch test-pv:lab -- hello 3>&1)")
  linux_times+=("$(first_output /tmp/real.cmp rxr_bounded 180 launch "$work/hello" 3>&1)")
done
echo "FIGURE test PV unikernel, launch to first output (s): ${test_times[*]} median $(median "${test_times[@]}")"
echo "FIGURE busybox Linux guest, launch to first output (s): ${linux_times[*]} median $(median "${linux_times[@]}")"
expect "Unikraft: exit status (main returned, the kernel powered off)" 0 "$status"
grep -aq "^Hello world!" /tmp/real.out && pass "Unikraft: the program's output" || fail "Unikraft output: $(tail -c 800 /tmp/real.out) $(tail -c 300 /tmp/real.err)"
# argv[0] is the binary's name, then the arguments as words: a space survives in quotes.
grep -aqF 'Arguments:  "kernel" "a" "b c"' /tmp/real.out && pass "Unikraft: argv is the program name and the arguments" \
  || fail "Unikraft arguments: $(grep -a Arguments /tmp/real.out)"
only_dom0 && root_empty && pass "Unikraft: launch leaves nothing" || fail "Unikraft left: $(xl list; ls -A "$root")"

# PV only: the PVH build prints its banner and memory map in the lab and stops before its
# application (docs/unikernels.md); it is shown below, not counted.
echo "== real unikernels: Mini-OS through runxl launch (PV); TERM is a clean power-off"
for kind in pv; do
  start=$(now)
  rxr_bounded 300 launch --name "real-minios-$kind" "real-mini-os-$kind:lab" -- hello world >/tmp/real-minios.out 2>/tmp/real-minios.err &
  launcher=$!
  if real_wait_for /tmp/real-minios.out "Xen Minimal OS" 120; then
    echo "FIGURE real Mini-OS $kind, launch to first output (s): $(since "$start")"
    pass "Mini-OS $kind: console output"
  else
    fail "Mini-OS $kind: no banner: $(tail -c 600 /tmp/real-minios.out) $(tail -c 300 /tmp/real-minios.err)"
  fi
  real_wait_for /tmp/real-minios.out "dummy main" 60 && pass "Mini-OS $kind: reached its application" \
    || fail "Mini-OS $kind: never reached its application: $(tail -c 600 /tmp/real-minios.out)"
  grep -aqF "cmd_line: hello world" /tmp/real-minios.out && pass "Mini-OS $kind: the arguments are its command line" \
    || fail "Mini-OS $kind command line: $(grep -a cmd_line /tmp/real-minios.out)"
  start=$(now)
  rxr kill "real-minios-$kind" TERM 2>/tmp/real.err || fail "Mini-OS $kind: kill TERM: $(cat /tmp/real.err)"
  real_wait_exit "$launcher" 60 || { fail "Mini-OS $kind: still running 60 s after TERM"; rxr kill "real-minios-$kind" KILL 2>/dev/null; }
  wait "$launcher"
  status=$?
  echo "FIGURE real Mini-OS $kind, kill TERM to exit (s): $(since "$start")"
  expect "Mini-OS $kind: TERM exit status (clean power-off)" 0 "$status"
  grep -aqF "Shutdown requested: 0" /tmp/real-minios.out && pass "Mini-OS $kind: saw the power-off request" \
    || fail "Mini-OS $kind: no shutdown line: $(tail -c 400 /tmp/real-minios.out)"
  only_dom0 && root_empty && pass "Mini-OS $kind: nothing left" || fail "Mini-OS $kind left: $(xl list; ls -A "$root")"
done

echo "== real unikernels: Mini-OS PVH (shown, not counted)"
rxr_bounded 90 launch --name real-minios-pvh "real-mini-os-pvh:lab" -- hello world >/tmp/real-minios.out 2>/tmp/real-minios.err
echo "  exit status $?; its last lines: $(tr -d '\r' </tmp/real-minios.out | tail -n 4 | paste -sd'|')"
# Xen turns a PVH guest's triple fault into a reboot, which ends a unikernel with status 1.
echo "  runxl said: $(grep -a "runxl:" /tmp/real-minios.err | head -c 300)"
echo "  Xen's log: $(xl dmesg | grep -a "Triple fault" | tail -n 1)"

echo "== real unikernels through podman: Unikraft runs to its end, Mini-OS stops on podman stop"
layout_archive "$real_images/real-unikraft" real-unikraft
layout_archive "$real_images/real-mini-os-pv" real-mini-os-pv
for name in real-unikraft real-mini-os-pv; do
  pm load -i "$clients/$name.tar" >/tmp/pm.load 2>&1 || fail "podman load $name: $(tail -c 300 /tmp/pm.load)"
done
pm run --rm localhost/real-unikraft:latest a "b c" </dev/null >/tmp/pm.real 2>/tmp/pm.real.err
expect "podman Unikraft: exit status" 0 "$?"
grep -aqF 'Arguments:  "kernel" "a" "b c"' /tmp/pm.real && pass "podman Unikraft: output and arguments" \
  || fail "podman Unikraft: $(tail -c 600 /tmp/pm.real /tmp/pm.real.err)"
start=$(now)
pm run -d --name real-minios localhost/real-mini-os-pv:latest hello podman </dev/null >/dev/null 2>/tmp/pm.real.err \
  || fail "podman run -d Mini-OS: $(tail -c 400 /tmp/pm.real.err)"
# `pm logs` to a file, then grep: under pipefail a `grep -q` that stops reading early fails the
# pipeline when podman is still writing (SIGPIPE), which once looked like missing output.
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do
  pm logs real-minios >/tmp/pm.minios 2>&1
  grep -aq "dummy main" /tmp/pm.minios && break
  sleep 1
done
if grep -aq "dummy main" /tmp/pm.minios; then
  echo "FIGURE real Mini-OS pv, podman run -d to its application's line in podman logs (s): $(since "$start")"
else
  # Seen in some lab boots, not in others: the rest was still in the guest's console ring, not
  # in xenconsoled's own log either, and arrived with the next console event (the power-off).
  name=$(xl list | awk 'NR > 2 { print $1; exit }')
  echo "  not in podman logs within 120 s (not counted); xenconsoled's own log of $name ends:" \
    "$(tr -d '\r' <"/var/log/xen/console/guest-$name.log" 2>/dev/null | tail -n 2 | paste -sd'|')"
fi
pm stop -t 60 real-minios >/dev/null 2>/tmp/pm.real.err || fail "podman stop Mini-OS: $(tail -c 300 /tmp/pm.real.err)"
expect "podman Mini-OS: exit code after stop (clean power-off)" 0 "$(pm inspect -f '{{.State.ExitCode}}' real-minios 2>&1)"
pm logs real-minios >/tmp/pm.minios 2>&1
grep -aqF "cmd_line: hello podman" /tmp/pm.minios && grep -aq "dummy main" /tmp/pm.minios && grep -aq "Shutdown requested" /tmp/pm.minios \
  && pass "podman Mini-OS: its whole console in podman logs (command line, application, power-off)" \
  || fail "podman Mini-OS: podman logs: $(tr -d '\r' </tmp/pm.minios | tail -n 12 | paste -sd'|')"
pm rm -f real-minios >/dev/null 2>&1
expect "podman real unikernels leave no domain" 0 "$(podman_domains)"

echo "== real unikernels: Unikraft's HTTP server answers on podman's bridge network (netfront, lwIP)"
load_network_modules
layout_archive "$real_images/real-unikraft-httpreply" real-unikraft-httpreply
pm load -i "$clients/real-unikraft-httpreply.tar" >/tmp/pm.load 2>&1 || fail "podman load httpreply: $(tail -c 300 /tmp/pm.load)"
start=$(now)
# The image has no Cmd, which podman refuses; the server ignores its arguments.
pm run -d --name real-http --network bridge localhost/real-unikraft-httpreply:latest serve </dev/null >/dev/null 2>/tmp/pm.real.err \
  || fail "podman run -d httpreply: $(grep -v 'image platform' /tmp/pm.real.err | tail -c 600)"
address=$(pm inspect -f '{{.NetworkSettings.IPAddress}}' real-http 2>/dev/null)
reply=
deadline=$((SECONDS + 120))
while [ -n "$address" ] && ((SECONDS < deadline)); do
  reply=$(timeout 10 wget -q -T 5 -O- "http://$address:8080/" 2>/dev/null) && [ -n "$reply" ] && break
  sleep 1
done
if [ -n "$reply" ]; then
  echo "FIGURE real Unikraft httpreply, podman run -d to the first HTTP reply from dom0 (s): $(since "$start")"
fi
expect "podman Unikraft httpreply: answers on its address ($address)" "Hello, World!" "$reply"
pm logs real-http >/tmp/pm.http 2>&1
grep -aq "Listening on port 8080" /tmp/pm.http || echo "  its console: $(tr -d '\r' </tmp/pm.http | tail -n 12 | paste -sd'|')"
domain=$(xl domid "$(xl list | awk 'NR > 2 { print $1; exit }')" 2>/dev/null)
# netback reaches Connected (4) only once runxl reports the wiring done (hotplug-status).
expect "podman Unikraft httpreply: the vif backend is Connected" 4 "$(xenstore-read "/local/domain/0/backend/vif/$domain/0/state" 2>&1)"
pm rm -f real-http >/dev/null 2>/tmp/pm.real.err || fail "podman rm -f httpreply: $(tail -c 300 /tmp/pm.real.err)"
expect "podman Unikraft httpreply: rm -f leaves no domain" 0 "$(podman_domains)"

echo "== real unikernels through ctr"
for name in real-unikraft real-mini-os-pv; do
  # --all-platforms: kraftkit's config says os "xen", which ctr's default platform filter drops.
  c images import --all-platforms --base-name "localhost/$name" "$clients/$name.tar" >/tmp/ctr.import 2>&1 || fail "ctr import $name: $(tail -c 300 /tmp/ctr.import)"
done
ctr_unikraft=$(c images ls -q | grep -m 1 "real-unikraft")
ctr_minios=$(c images ls -q | grep -m 1 "real-mini-os-pv")
c run --rm --runtime io.containerd.runc.v2 --runc-binary "$clients/bin/runxl" "$ctr_unikraft" real-uk-ctr a "b c" </dev/null >/tmp/ctr.real 2>/tmp/ctr.real.err
expect "ctr Unikraft: exit status" 0 "$?"
tr -d '\r' </tmp/ctr.real | grep -aqF 'Arguments:  "kernel" "a" "b c"' && pass "ctr Unikraft: output and arguments" \
  || fail "ctr Unikraft: $(tail -c 600 /tmp/ctr.real /tmp/ctr.real.err)"
c run --rm --runtime io.containerd.runc.v2 --runc-binary "$clients/bin/runxl" "$ctr_minios" real-minios-ctr hello ctr </dev/null >/tmp/ctr.real 2>/tmp/ctr.real.err &
runner=$!
real_wait_for /tmp/ctr.real "dummy main" 120 && grep -aqF "cmd_line: hello ctr" /tmp/ctr.real && pass "ctr Mini-OS: console and command line" \
  || fail "ctr Mini-OS: $(tail -c 600 /tmp/ctr.real /tmp/ctr.real.err)"
c task kill -s SIGTERM real-minios-ctr >/dev/null 2>/tmp/ctr.real.err || fail "ctr task kill Mini-OS: $(cat /tmp/ctr.real.err)"
real_wait_exit "$runner" 60 || { fail "ctr Mini-OS: still running 60 s after SIGTERM"; c task kill -s SIGKILL real-minios-ctr >/dev/null 2>&1; }
wait "$runner"
expect "ctr Mini-OS: exit status after SIGTERM (clean power-off)" 0 "$?"
c images rm "$ctr_unikraft" "$ctr_minios" >/dev/null 2>&1
expect "ctr real unikernels leave no domain" 0 "$(podman_domains)"

rm -rf "$real_store"
