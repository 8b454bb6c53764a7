#!/usr/bin/env bash
# Runs inside the lab's dom0 (started by Scripts/lab-tests): runxl's verbs on real libxl,
# each check a PASS or FAIL line, figures as "FIGURE name: value" lines, then the Swift
# LabTests suites, then a closing "lab: N passed, M failed" line.
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"

echo "== launch: stdout, stderr, exit status (PV)"
start=$(now)
rx launch "$work/stdio" >/tmp/out 2>/tmp/err
status=$?
echo "FIGURE launch PV whole run (s): $(since "$start")"
expect "launch stdout" "out" "$(cat /tmp/out)"
expect "launch stderr" "err" "$(cat /tmp/err)"
expect "launch exit status" 7 "$status"
only_dom0 && pass "launch leaves no domain" || fail "launch left a domain: $(xl list)"
root_empty && pass "launch leaves no state" || fail "launch left state: $(ls -A $root)"

echo "== launch: the same guest again (initramfs cache hit)"
start=$(now)
first=""
rx launch "$work/hello" >/tmp/out 2>/tmp/err
echo "FIGURE launch PV warm whole run (s): $(since "$start")"
expect "launch hello" "hello from a Xen guest" "$(cat /tmp/out)"

echo "== launch: PVH"
start=$(now)
rx launch "$work/pvh" >/tmp/out 2>/tmp/err
status=$?
echo "FIGURE launch PVH whole run (s): $(since "$start")"
expect "PVH stdout" "pvh-out" "$(cat /tmp/out)"
expect "PVH exit status" 3 "$status"
[ "$status" = 3 ] || echo "  PVH launch stderr: $(tail -c 800 /tmp/err)"

echo "== process identity: env, cwd, uid, gid, hostname, linux.devices"
rx launch "$work/identity" >/tmp/out 2>/tmp/err
expect "identity" "bar baz|/tmp|1000|1000|lab-host" "$(head -n 5 /tmp/out | paste -sd'|')"
expect "linux.devices made in the guest (type, numbers, mode, owner)" \
  "character special file a c8 640 1000 1000|fifo 0 0 600 0 0" "$(tail -n +6 /tmp/out | paste -sd'|')"

echo "== a process killed by a signal reports it"
rx launch "$work/selfkill" >/tmp/out 2>/tmp/err
expect "signal exit status (128+TERM)" 143 "$?"
# With the spec's pid namespace the process is PID 1, which (as under runc) ignores a signal it
# has no handler for, even its own.
rx launch "$work/sleeper" -- sh -c 'kill -TERM $$; echo survived' >/tmp/out 2>/tmp/err
expect "PID 1 survives its own TERM, as under runc" "0 survived" "$? $(cat /tmp/out)"

echo "== SIGTERM to launch (as Ctrl-C) destroys the guest, exits 143, leaves nothing"
# Not through rx(): a backgrounded function is a subshell, and $! would be its pid.
"$runxl" --root "$root" launch --name interrupted "$work/sleeper" >/tmp/int.out 2>/tmp/int.err &
launcher=$!
for _ in $(seq 1 240); do grep -q ready /tmp/int.out 2>/dev/null && break; sleep 0.5; done
grep -q ready /tmp/int.out && pass "interrupted launch printed ready" || fail "no ready from launch: $(tail -c 300 /tmp/int.err)"
expect "launch is the supervisor (state pid)" "$launcher" "$(rx state interrupted | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')"
kill -TERM "$launcher"
wait "$launcher"
expect "launch after SIGTERM exits 143" 143 "$?"
only_dom0 && pass "interrupted launch leaves no domain" || fail "interrupted launch left a domain: $(xl list)"
root_empty && pass "interrupted launch leaves no state" || fail "interrupted launch left state: $(ls -A $root)"

echo "== create boots and holds the process, start lets it run, kill TERM forwarded to its handler"
rx create --bundle "$work/sleeper" --pid-file /tmp/sleeper.pid sleeper >/tmp/sleeper.out 2>/tmp/sleeper.err &
creator=$!
wait $creator
expect "create exit status" 0 "$?"
state=$(xl list runxl-sleeper 2>/dev/null | awk 'NR==2 {print $5}')
case "$state" in *p*) fail "domain still paused after create: [$state]" ;; ?*) pass "domain booting after create ($state)" ;; *) fail "no domain after create" ;; esac
# The guest boots meanwhile; its process must not run before start.
sleep 5
[ -s /tmp/sleeper.out ] && fail "the process ran before start: $(head -c 200 /tmp/sleeper.out)" || pass "the process waits for start"
supervisor=$(cat /tmp/sleeper.pid)
kill -0 "$supervisor" 2>/dev/null && pass "supervisor alive after create" || fail "supervisor $supervisor not alive"
rx start sleeper
expect "start exit status" 0 "$?"
expect "state running" running "$(rx state sleeper | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')"
for _ in $(seq 1 120); do grep -q ready /tmp/sleeper.out && break; sleep 0.5; done
expect "running container's output reaches create's stdout" ready "$(head -n 1 /tmp/sleeper.out)"
rx kill sleeper TERM
for _ in $(seq 1 120); do kill -0 "$supervisor" 2>/dev/null || break; sleep 0.5; done
kill -0 "$supervisor" 2>/dev/null && fail "supervisor still alive after kill TERM" || pass "supervisor ends with the container"
grep -q got-term /tmp/sleeper.out && pass "TERM reached the process's trap" || fail "no got-term in output: $(cat /tmp/sleeper.out)"
expect "state stopped" stopped "$(rx state sleeper | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')"
rx delete sleeper
only_dom0 && root_empty && pass "delete leaves nothing" || fail "after delete: $(xl list; ls -A $root)"

echo "== kill 9 destroys a running guest"
rx run --detach --bundle "$work/sleeper" --pid-file /tmp/k.pid victim
xl list runxl-victim >/dev/null 2>&1 && pass "victim domain exists" || fail "victim domain missing"
rx kill victim KILL
for _ in $(seq 1 40); do xl list runxl-victim >/dev/null 2>&1 || break; sleep 0.25; done
xl list runxl-victim >/dev/null 2>&1 && fail "victim domain survived KILL" || pass "KILL destroyed the domain"
rx delete --force victim
only_dom0 && root_empty && pass "delete --force leaves nothing" || fail "after delete --force: $(xl list; ls -A $root)"

echo "== failures leave nothing behind"
rx launch "$work/badkernel" >/tmp/out 2>/tmp/err
status=$?
expect "bad kernel exit status" 1 "$status"
grep -q "/etc/hostname" /tmp/err && pass "bad kernel error names the path" || fail "bad kernel error: $(cat /tmp/err)"
only_dom0 && root_empty && pass "bad kernel leaves nothing" || fail "after bad kernel: $(xl list; ls -A $root)"
rx launch "$work/hugememory" >/tmp/out 2>/tmp/err
expect "too much memory exit status" 1 "$?"
echo "  error: $(cat /tmp/err)"
only_dom0 && root_empty && pass "too much memory leaves nothing" || fail "after too much memory: $(xl list; ls -A $root)"

echo "== image convert writes an xl.cfg that xl create boots"
rm -rf /tmp/converted
rx image convert "$work/hello" --output /tmp/converted >/tmp/convert.out 2>&1
expect "image convert exit status" 0 "$?"
name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' /tmp/converted/xl.cfg)
start=$(now)
xl create /tmp/converted/xl.cfg >/tmp/xlcreate.log 2>&1 || fail "xl create: $(cat /tmp/xlcreate.log)"
# Until the output appears or the guest is gone (a guest that fails powers itself off).
for _ in $(seq 1 1200); do
  grep -aq "hello from a Xen guest" "/var/log/xen/console/guest-$name.log" 2>/dev/null && break
  xl domid "$name" >/dev/null 2>&1 || break
  sleep 0.1
done
echo "FIGURE xl create of the converted guest to first output (s): $(since "$start")"
grep -aq "hello from a Xen guest" "/var/log/xen/console/guest-$name.log" && pass "xl create boots the converted guest" \
  || fail "converted guest printed nothing: $(tail -c 400 /var/log/xen/console/guest-$name.log 2>/dev/null)"
# xl create's guest powers off by itself; xl's own monitor then destroys it (on_poweroff).
for _ in $(seq 1 120); do xl domid "$name" >/dev/null 2>&1 || break; sleep 0.25; done
xl destroy "$name" >/dev/null 2>&1
echo "== images: import, launch IMAGE twice (snapshot read in place), convert IMAGE booted by xl create"
store=/var/tmp/runxl-lab-store
rm -rf "$store"
rx --store "$store" image import "$work/images/layout" --name busybox:lab >/dev/null 2>/tmp/err
expect "image import exit status" 0 "$?"
for round in 1 2; do
  rx --store "$store" launch busybox:lab -- sh -c "echo image-out-$round; exit 4" >/tmp/out 2>/tmp/err
  expect "launch IMAGE exit status (round $round)" 4 "$?"
  expect "launch IMAGE stdout (round $round)" "image-out-$round" "$(cat /tmp/out)"
done
only_dom0 && pass "launch IMAGE leaves no domain" || fail "launch IMAGE left a domain: $(xl list)"
root_empty && pass "launch IMAGE leaves no state" || fail "launch IMAGE left state: $(ls -A $root)"
rm -rf /tmp/image-converted
rx --store "$store" image convert busybox:lab --output /tmp/image-converted >/tmp/convert.out 2>&1
expect "image convert IMAGE exit status" 0 "$?"
name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' /tmp/image-converted/xl.cfg)
xl create /tmp/image-converted/xl.cfg >/tmp/xlcreate.log 2>&1 || fail "xl create of convert IMAGE: $(cat /tmp/xlcreate.log)"
# The image's command is `sh` with no input: runxl-init reports its exit and powers off.
for _ in $(seq 1 1200); do
  grep -aq "exited:0" "/var/log/xen/console/guest-$name.log" 2>/dev/null && break
  xl domid "$name" >/dev/null 2>&1 || break
  sleep 0.1
done
grep -aq "exited:0" "/var/log/xen/console/guest-$name.log" && pass "xl create boots convert IMAGE's guest to its exit" \
  || fail "convert IMAGE guest: $(tail -c 400 /var/log/xen/console/guest-$name.log 2>/dev/null)"
for _ in $(seq 1 120); do xl domid "$name" >/dev/null 2>&1 || break; sleep 0.25; done
xl destroy "$name" >/dev/null 2>&1

if wants_figures; then
  echo "== runxl launch against raw xl create of the same kernel + initramfs (first output)"
  start=$(now)
  rx launch "$work/hello" | { read -r line; echo "FIGURE runxl launch to first output (s): $(since "$start")"; cat >/dev/null; }
fi

# kill injection + gc, supervisor confinement, parallel cycles; exec; then podman and containerd
# driving runxl (the same pass/fail counters).
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/failure-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/exec-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/binds-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/shares-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/clients-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/network-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/pods-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/cri-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/warm-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/installed-in-dom0.sh"
lab_section_time; . "$(dirname "${BASH_SOURCE[0]}")/runtime-tools-in-dom0.sh"
# Its own process (its own root, store and rx), whose check lines count in this run's summary
# like every other suite's; the clock it prints continues this one's.
lab_clock_offset=$SECONDS bash "$(dirname "${BASH_SOURCE[0]}")/unikernel-runxl-in-dom0.sh" 2>&1 | tee /tmp/unikernel-runxl.out
unikernel_status=${PIPESTATUS[0]}
unikernel_failed=$(grep -c '^FAIL: ' /tmp/unikernel-runxl.out)
passed=$((passed + $(grep -c '^PASS: ' /tmp/unikernel-runxl.out)))
failed=$((failed + unikernel_failed))
[ "$unikernel_status" = 0 ] || [ "$unikernel_failed" -gt 0 ] \
  || fail "unikernel-runxl-in-dom0.sh exited $unikernel_status without a FAIL line"

lab_section_time
echo "== Swift LabTests (XenLight on real libxl)"
tests=$(dirname "$runxl")/runxlPackageTests.xctest
if [ -x "$tests" ]; then
  timeout "${RUNXL_LABTESTS_TIMEOUT:-420}" "$tests" --testing-library swift-testing --filter LabTests >/tmp/labtests.log 2>&1
  status=$?
  grep -E "✘|Test run with" /tmp/labtests.log | tail -n 20
  [ "$status" = 0 ] || tail -n 40 /tmp/labtests.log
  expect "Swift LabTests" 0 "$status"
else
  fail "test binary $tests missing"
fi

only_dom0 && pass "no domain left at the end" || fail "domains left: $(xl list)"
finish_lab
