#!/usr/bin/env bash
# runxl exec on real libxl, inside the lab's dom0: a second process in a running guest through
# the supervisor and runxl-init, with its own stdout, stderr, stdin and exit status.
# Sourced by Tests/lab/in-dom0.sh (lab-common.sh: pass/fail/expect, $runxl, $work, rx); alone:
# `RUNXL_LAB_ONLY=exec Scripts/lab-tests`.
if [ -z "${lab_common_loaded:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
  exec_standalone=1
fi

echo "== exec: a second process in a running guest"
rx create --bundle "$work/sleeper" execd </dev/null >/tmp/execd.out 2>/tmp/execd.err
expect "exec: create" 0 "$?"
rx start execd
for _ in $(seq 1 240); do grep -q ready /tmp/execd.out 2>/dev/null && break; sleep 0.5; done
grep -q ready /tmp/execd.out && pass "exec: container up" || fail "exec: no ready: $(tail -c 300 /tmp/execd.err)"
start=$(now)
timeout 120 "$runxl" --root "$root" exec execd sh -c 'echo exec-out; echo exec-err >&2; exit 6' </dev/null >/tmp/exec.out 2>/tmp/exec.err
status=$?
echo "FIGURE exec to exit (s): $(since "$start")"
expect "exec: exit status" 6 "$status"
expect "exec: stdout" "exec-out" "$(cat /tmp/exec.out)"
expect "exec: stderr" "exec-err" "$(cat /tmp/exec.err)"
printf 'one\ntwo\nthree\n' | timeout 120 "$runxl" --root "$root" exec execd wc -l >/tmp/exec.out 2>/tmp/exec.err
expect "exec: stdin with its end-of-file" "3" "$(tr -d ' ' </tmp/exec.out)"
timeout 60 "$runxl" --root "$root" exec execd no-such-program >/tmp/exec.out 2>/tmp/exec.err
expect "exec: a missing program fails on the host" 1 "$?"
grep -q "no-such-program" /tmp/exec.err && pass "exec: the error names the program" || fail "exec error: $(cat /tmp/exec.err)"
timeout 120 "$runxl" --root "$root" exec --detach --pid-file /tmp/exec.pid execd sh -c 'sleep 8; exit 9' </dev/null >/dev/null 2>/tmp/exec.err
expect "exec --detach returns at once" 0 "$?"
waiter=$(cat /tmp/exec.pid 2>/dev/null)
[ -n "$waiter" ] && kill -0 "$waiter" 2>/dev/null && pass "exec --detach: the pid file names a live waiter" || fail "no live waiter: $waiter $(cat /tmp/exec.err)"
for _ in $(seq 1 300); do kill -0 "$waiter" 2>/dev/null || break; sleep 0.2; done
kill -0 "$waiter" 2>/dev/null && fail "exec --detach: the waiter outlived the process" || pass "exec --detach: the waiter ended with the process"
rx kill execd TERM
for _ in $(seq 1 120); do [ "$(rx state execd 2>/dev/null | grep -c '"stopped"')" = 1 ] && break; sleep 0.5; done
rx delete --force execd
expect "exec: the container's own exit is untouched" "got-term" "$(grep got-term /tmp/execd.out)"

if [ -n "${exec_standalone:-}" ]; then finish_lab; fi
