#!/usr/bin/env bash
# Real OCI clients driving runxl on real libxl, inside the lab's dom0: podman (through conmon)
# and containerd's runc shim (through ctr), configured the way a user would for this machine.
# Sourced by Tests/lab/in-dom0.sh (lab-common.sh: pass/fail/expect, $runxl, $work); also
# runnable alone: `RUNXL_LAB_ONLY=clients Scripts/lab-tests`. The set-up is podman-setup.sh.

if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  clients_standalone=1
fi

. "$(dirname "${BASH_SOURCE[0]}")/podman-setup.sh"

# One guest for both: podman's plain run and -i take the same stdin path in runxl (conmon's
# /dev/null is an input that ends at once).
echo "== podman run -i --rm: output, exit status, stdin with its end-of-file"
start=$(now)
printf 'line one\nline two\n' | pm run -i --rm "$image" sh -c 'echo hi; wc -l; cat >/dev/null; echo eof-seen; exit 3' >/tmp/pm.out 2>/tmp/pm.err
status=$?
echo "FIGURE podman run --rm whole run (s): $(since "$start")"
expect "podman run output, stdin lines and end-of-file" "hi|2|eof-seen" "$(tr -d ' ' </tmp/pm.out | paste -sd'|')"
expect "podman run exit status" 3 "$status"
[ "$status" = 3 ] || { echo "podman stderr:"; tail -c 1500 /tmp/pm.err; }
expect "podman run --rm leaves no domain" 0 "$(podman_domains)"

echo "== podman run -d, then podman stop: SIGTERM reaches the container's handler"
pm run -d --name stopper "$image" sh -c 'trap "echo got-term; exit 42" TERM; echo ready; while true; do sleep 1; done' >/tmp/pm.cid 2>/tmp/pm.err
status=$?
expect "podman run -d" 0 "$status"
[ "$status" = 0 ] || tail -c 600 /tmp/pm.err
for _ in $(seq 1 240); do
  [ "$status" = 0 ] || break
  pm logs stopper 2>/dev/null | grep -q ready && break
  sleep 0.5
done
pm logs stopper 2>/dev/null | grep -q ready && pass "detached container printed ready" || fail "no ready: $(tail -c 600 /tmp/pm.err)"
echo "== podman exec into the running container"
pm exec stopper sh -c 'echo exec-hi; echo exec-err >&2; exit 5' </dev/null >/tmp/pm.exec 2>/tmp/pm.exec.err
expect "podman exec exit status" 5 "$?"
expect "podman exec stdout" "exec-hi" "$(cat /tmp/pm.exec)"
expect "podman exec stderr" "exec-err" "$(cat /tmp/pm.exec.err)"
echo "== the container's host cgroup (linux.cgroupsPath): the supervisor and the 9pfs backend"
stopper_pid=$(pm inspect -f '{{.State.Pid}}' stopper 2>/dev/null)
stopper_cgroup=$(awk -F: '$1 == "0" { print $3 }' "/proc/$stopper_pid/cgroup" 2>/dev/null)
case "$stopper_cgroup" in
  *libpod*) pass "the container's pid is in podman's cgroup ($stopper_cgroup)" ;;
  *) fail "the container's pid $stopper_pid is in cgroup [$stopper_cgroup]" ;;
esac
stopper_domid=$(xl list | awk 'NR > 2 { print $2; exit }')
stopper_backend=$(pgrep -f "xen-qemu-system-i386.*-xen-domid $stopper_domid( |$)" | head -n 1)
if [ -n "$stopper_backend" ]; then
  expect "the 9pfs backend shares the container's cgroup" "$stopper_cgroup" "$(awk -F: '$1 == "0" { print $3 }' "/proc/$stopper_backend/cgroup" 2>/dev/null)"
fi
[ -n "$stopper_cgroup" ] && [ -d "/sys/fs/cgroup$stopper_cgroup" ] && grep -q . "/sys/fs/cgroup$stopper_cgroup/memory.current" 2>/dev/null \
  && pass "podman's stats files are there ($(cat "/sys/fs/cgroup$stopper_cgroup/memory.current") bytes in use on the host)" \
  || fail "no cgroup directory /sys/fs/cgroup$stopper_cgroup"
pm stop -t 30 stopper >/dev/null 2>/tmp/pm.err
expect "podman stop" 0 "$?"
expect "the TERM handler ran" "got-term" "$(pm logs stopper 2>/dev/null | grep got-term)"
expect "podman reports the handler's exit code" 42 "$(pm inspect -f '{{.State.ExitCode}}' stopper 2>/dev/null)"
pm rm -f stopper >/dev/null 2>&1
expect "podman rm -f leaves no domain" 0 "$(podman_domains)"
[ -n "$stopper_cgroup" ] && [ ! -d "/sys/fs/cgroup$stopper_cgroup" ] && pass "podman rm -f leaves no cgroup" \
  || fail "cgroup left: /sys/fs/cgroup$stopper_cgroup"
runxl_state_empty && pass "podman rm -f leaves no runxl state" || fail "runxl state left: $(ls -A /run/runxl 2>/dev/null)"

echo "== podman run -it: a working tty (pty master over --console-socket)"
# script(1) gives podman a terminal; the input is typed before the guest is up and must wait.
printf 'test -t 0 && echo is-a-tty; stty size; echo $((6*7))\nexit 4\n' |
  script -qec "stty rows 33 cols 97; timeout --foreground -k 5 180 podman --runtime runxl --root $clients/podman-graph --runroot $clients/podman-run run -it --rm $image sh" /dev/null >/tmp/pm.tty 2>&1
status=$?
expect "podman run -it exit status" 4 "$status"
grep -q "^is-a-tty" /tmp/pm.tty && pass "the process's stdin is a tty" || fail "no tty: $(tail -c 600 /tmp/pm.tty)"
grep -q "^42" /tmp/pm.tty && pass "typed input ran in the guest" || fail "no 42: $(tail -c 600 /tmp/pm.tty)"
grep -q "^33 97" /tmp/pm.tty && pass "window size reached the guest" || fail "size: $(tail -c 600 /tmp/pm.tty)"
expect "podman run -it leaves no domain" 0 "$(podman_domains)"

echo "== podman exec into a container whose process has a terminal (run -dit)"
pm run -dit --name ttyc "$image" sh >/dev/null 2>/tmp/pm.err
expect "podman run -dit" 0 "$?"
pm exec ttyc sh -c 'echo exec-in-tty; echo exec-err >&2; exit 5' </dev/null >/tmp/pm.exec 2>/tmp/pm.exec.err
expect "podman exec into a terminal container: exit status" 5 "$?"
expect "podman exec into a terminal container: stdout" "exec-in-tty" "$(cat /tmp/pm.exec)"
expect "podman exec into a terminal container: stderr" "exec-err" "$(cat /tmp/pm.exec.err)"
head -c 300000 /dev/urandom >/tmp/pm.binary
pm exec -i ttyc md5sum </tmp/pm.binary >/tmp/pm.exec 2>/tmp/pm.exec.err
expect "podman exec -i: binary stdin arrives byte for byte" "$(md5sum </tmp/pm.binary | cut -d' ' -f1)" "$(cut -d' ' -f1 /tmp/pm.exec)"
printf 'test -t 0 && echo exec-has-a-tty; stty size\nexit 6\n' |
  script -qec "stty rows 21 cols 71; timeout --foreground -k 5 120 podman --runtime runxl --root $clients/podman-graph --runroot $clients/podman-run exec -it ttyc sh" /dev/null >/tmp/pm.exectty 2>&1
expect "podman exec -it: exit status" 6 "$?"
grep -q "^exec-has-a-tty" /tmp/pm.exectty && pass "podman exec -it: a tty" || fail "podman exec -it: $(tail -c 600 /tmp/pm.exectty)"
pm rm -f ttyc >/dev/null 2>&1
expect "podman rm -f of the terminal container leaves no domain" 0 "$(podman_domains)"

# Scripts/bench (section 6b) takes medians of several; here one sample each on request.
wants_figures && echo "== podman with runc in dom0, the same commands (runc is not a VM: the ratio is runxl's cost)"
for runtime in $(wants_figures && echo runxl runc); do
  times=()
  for _ in $(seq 1 "${RUNXL_LAB_SAMPLES:-1}"); do
    start=$(now)
    timeout 120 podman --runtime $runtime --root "$clients/podman-graph" --runroot "$clients/podman-run" \
      run --rm "$image" echo hi </dev/null 2>/tmp/pm.time.err |
      { read -r _; echo "$(since "$start")"; cat >/dev/null; } >/tmp/pm.time
    times+=("$(cat /tmp/pm.time)")
    [ -s /tmp/pm.time.err ] && echo "podman $runtime stderr: $(tail -c 300 /tmp/pm.time.err)"
  done
  echo "FIGURE podman run to first output, $runtime (s): ${times[*]} median $(median "${times[@]}")"
done

# Two by default, for CI's time budget (each cycle is a whole guest boot: start waits for it);
# RUNXL_LAB_CYCLES=N for more.
cycles=${RUNXL_LAB_CYCLES:-2}
echo "== $cycles create/start/kill/delete cycles with client-style 64-hex ids"
start=$(now)
cycles_ok=0
for i in $(seq 1 "$cycles"); do
  id=$(printf '%064x' "$i")
  timeout 120 "$runxl" create --bundle "$work/sleeper" "$id" </dev/null >/dev/null 2>/tmp/cycle.err &&
    "$runxl" start "$id" 2>>/tmp/cycle.err &&
    "$runxl" kill "$id" KILL 2>>/tmp/cycle.err &&
    "$runxl" delete --force "$id" 2>>/tmp/cycle.err && cycles_ok=$((cycles_ok + 1))
done
echo "FIGURE $cycles create/start/kill/delete cycles (s): $(since "$start")"
expect "$cycles cycles succeeded" "$cycles" "$cycles_ok"
[ "$cycles_ok" = "$cycles" ] || tail -c 600 /tmp/cycle.err
expect "$cycles cycles leave only dom0" 0 "$(podman_domains)"
runxl_state_empty && pass "$cycles cycles leave runxl's root empty" || fail "left: $(ls -A /run/runxl)"

echo "== unikernels through podman, PV and PVH (urunc.json in the rootfs)"
for kind in pv pvh; do
  layout_archive "$work/unikernel-images/uruncjson-$kind" "uk-$kind"
  if pm load -i "$clients/uk-$kind.tar" >/tmp/pm.load 2>&1; then
    uk_image=$(awk '/Loaded image/ { print $NF }' /tmp/pm.load)
    pm run --rm "$uk_image" hello exit=3 </dev/null >/tmp/pm.uk 2>/tmp/pm.uk.err
    expect "podman unikernel $kind exit status" 3 "$?"
    grep -q "^unikernel $kind: cmdline \"hello exit=3\"" /tmp/pm.uk && grep -q "^arg 1: exit=3" /tmp/pm.uk \
      && pass "podman unikernel $kind output and arguments" || fail "podman unikernel $kind: $(tail -c 400 /tmp/pm.uk /tmp/pm.uk.err)"
  else
    fail "podman load uk-$kind: $(tail -c 300 /tmp/pm.load)"
  fi
done
expect "podman unikernels leave no domain" 0 "$(podman_domains)"

echo "== containerd + ctr with the runc shim and runxl as its binary"
start_containerd
[ -n "$ctr_image" ] && pass "ctr image import ($ctr_image)" || fail "no image in containerd"

start=$(now)
c run --rm --runtime io.containerd.runc.v2 --runc-binary "$clients/bin/runxl" "$ctr_image" ctr-hi \
  sh -c 'echo hi from ctr; exit 5' >/tmp/ctr.out 2>/tmp/ctr.err
status=$?
echo "FIGURE ctr run whole run (s): $(since "$start")"
expect "ctr run output" "hi from ctr" "$(tr -d '\r' </tmp/ctr.out)"
expect "ctr run exit status" 5 "$status"
[ "$status" = 5 ] || { tail -c 1500 /tmp/ctr.err; tail -n 30 "$ctrd/log"; }

c run -d --runtime io.containerd.runc.v2 --runc-binary "$clients/bin/runxl" "$ctr_image" ctr-term \
  sh -c 'trap "echo got-term; exit 42" TERM; echo ready; while true; do sleep 1; done' >/tmp/ctr.out 2>/tmp/ctr.err
expect "ctr run -d" 0 "$?"
for _ in $(seq 1 240); do [ "$(c task ls | awk '$1 == "ctr-term" { print $3 }')" = RUNNING ] && break; sleep 0.5; done
sleep 8
c task exec --exec-id check ctr-term sh -c 'echo ctr-exec; exit 7' </dev/null >/tmp/ctr.exec 2>/tmp/ctr.exec.err
expect "ctr task exec exit status" 7 "$?"
expect "ctr task exec output" "ctr-exec" "$(tr -d '\r' </tmp/ctr.exec)"
c task kill -s SIGTERM ctr-term >/dev/null 2>/tmp/ctr.err
expect "ctr task kill" 0 "$?"
for _ in $(seq 1 120); do [ "$(c task ls | awk '$1 == "ctr-term" { print $3 }')" = STOPPED ] && break; sleep 0.5; done
expect "ctr task stopped after SIGTERM" STOPPED "$(c task ls | awk '$1 == "ctr-term" { print $3 }')"
c task delete ctr-term >/dev/null 2>&1
c container delete ctr-term >/dev/null 2>&1
expect "ctr leaves no domain" 0 "$(podman_domains)"

for runtime in "$clients/bin/runxl" runc; do
  times=()
  for n in $(seq 1 "${RUNXL_LAB_SAMPLES:-1}"); do
    start=$(now)
    c run --rm --runtime io.containerd.runc.v2 --runc-binary "$runtime" "$ctr_image" "ctr-time-$n" echo hi </dev/null |
      { read -r _; echo "$(since "$start")"; cat >/dev/null; } >/tmp/ctr.time
    times+=("$(cat /tmp/ctr.time)")
  done
  echo "FIGURE ctr run to first output, $(basename "$runtime") (s): ${times[*]} median $(median "${times[@]}")"
done
expect "ctr timing runs leave only dom0" 0 "$(podman_domains)"

echo "== unikernels through ctr, PV and PVH"
for kind in pv pvh; do
  before=$(c images ls -q | sort)
  # Without --base-name ctr keeps only refs under an import-DATE prefix: "uk-pv" would get no name.
  c images import --base-name localhost/uk "$clients/uk-$kind.tar" >/tmp/ctr.import 2>&1
  # Through a file: dom0 has no /dev/fd for a process substitution.
  c images ls -q | sort >/tmp/ctr.images
  uk_image=$(echo "$before" | comm -13 - /tmp/ctr.images | head -n 1)
  [ -n "$uk_image" ] || uk_image=localhost/uk:uk-$kind
  c run --rm --runtime io.containerd.runc.v2 --runc-binary "$clients/bin/runxl" "$uk_image" "uk-ctr-$kind" \
    hello exit=4 </dev/null >/tmp/ctr.uk 2>/tmp/ctr.uk.err
  expect "ctr unikernel $kind exit status" 4 "$?"
  tr -d '\r' </tmp/ctr.uk | grep -q "^arg 1: exit=4" && pass "ctr unikernel $kind output" \
    || fail "ctr unikernel $kind: $(tail -c 400 /tmp/ctr.uk /tmp/ctr.uk.err)"
  c images rm "$uk_image" >/dev/null 2>&1
done
expect "ctr unikernels leave no domain" 0 "$(podman_domains)"

. "$(dirname "${BASH_SOURCE[0]}")/unikernel-real-in-dom0.sh"

kill "$containerd_pid" 2>/dev/null
wait "$containerd_pid" 2>/dev/null

if [ -n "${clients_standalone:-}" ]; then finish_lab; fi
