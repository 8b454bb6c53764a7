#!/usr/bin/env bash
# Failure and confinement checks on real libxl, inside the lab's dom0 (docs/failure-and-hostile-input.md):
# runxl SIGKILLed at named steps of create and delete (RUNXL_INJECT_KILL), then delete --force or
# gc, with `xl list` and the state root clean; the supervisor's seccomp filter and capabilities
# during a whole lifecycle; N parallel create+delete cycles. Sourced by Tests/lab/in-dom0.sh (its
# PASS/FAIL counters and helpers), or run alone (Scripts/bench concurrency with RUNXL_CONCURRENCY=lab).
# RUNXL_FAILURE_SECTIONS="kill seccomp concurrency" picks sections; RUNXL_LAB_CONCURRENCY the N's (default 4 8 in the test run; the bench takes larger ones).
set -uo pipefail
if ! declare -F pass >/dev/null; then
  standalone=1
  passed=0
  failed=0
  pass() { echo "PASS: $*"; passed=$((passed + 1)); }
  fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
  expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
  only_dom0() { [ "$(xl list | tail -n +2 | wc -l)" = 1 ]; }
  mkdir -p /etc/runxl /var/lib/runxl
  cat >/etc/runxl/config.json <<JSON
{"kernel": "$RUNXL_LAB_KERNEL", "cacheDir": "/var/lib/runxl/cache"}
JSON
fi
export RUNXL_INIT
# Kill injection and the seccomp audit are test seams: runxl-testing has them, runxl does not.
failure_runxl=${RUNXL_TEST_BINARY:-$RUNXL_BINARY}
failure_work=$RUNXL_LAB_WORK
froot=/run/runxl-failure
sections=${RUNXL_FAILURE_SECTIONS:-kill seccomp concurrency}
fx() { "$failure_runxl" --root "$froot" "$@"; }
froot_empty() { [ -z "$(find "$froot" -mindepth 1 2>/dev/null)" ]; }
supervisors_of() { pgrep -f -- "--root $froot .*supervise" | wc -l; }
# Share mode's 9pfs backends (QEMU, started by libxl per guest): none may outlive its domain.
backends() { pgrep -fc "xen-qemu-system-i386.*-xen-domid" || true; }
# clean_after WHAT: nothing of runxl left (domain, files, supervisor), waiting up to 30 s for
# supervisors that end when their domain is destroyed.
clean_after() {
  for _ in $(seq 1 60); do [ "$(supervisors_of)" = 0 ] && break; sleep 0.5; done
  for _ in $(seq 1 20); do [ "$(backends)" = 0 ] && break; sleep 0.25; done
  local nodes
  nodes=$(xenstore-list /local/domain/0/backend/9pfs 2>/dev/null)
  only_dom0 && froot_empty && [ "$(supervisors_of)" = 0 ] && [ "$(backends)" = 0 ] && [ -z "$nodes" ] && pass "$1 leaves nothing" \
    || fail "$1 left: $(xl list | tail -n +3) files: $(find "$froot" -mindepth 1 2>/dev/null | head) supervisors: $(supervisors_of) backends: $(backends) 9pfs nodes: [$nodes]"
}
mkdir -p "$froot"

if [[ " $sections " == *" kill "* ]]; then
  echo "== failure: runxl killed inside create and delete, then delete --force or gc (real libxl, share mode)"
  for case in "create after-prepare gc" "create after-domain-create delete" "create after-supervisor-spawn gc" "create before-save gc" \
              "delete after-destroy delete" "delete before-remove gc"; do
    read -r verb point recovery <<<"$case"
    id=kill-${point}
    if [ "$verb" = create ]; then
      RUNXL_INJECT_KILL=$point fx create --bundle "$failure_work/sleeper-share" "$id" >/dev/null 2>/tmp/fail.err </dev/null
      expect "create killed at $point" 137 "$?"
      case "$point" in after-domain-create|after-supervisor-spawn|before-save)
        xl list "runxl-$id" >/dev/null 2>&1 && pass "the domain exists after the kill at $point" \
          || fail "no domain after the kill at $point" ;;
      esac
    else
      fx run --detach --bundle "$failure_work/sleeper-share" "$id" >/dev/null 2>/tmp/fail.err </dev/null
      expect "run --detach before the delete kill" 0 "$?"
      RUNXL_INJECT_KILL=$point fx delete --force "$id" 2>/tmp/fail.err
      expect "delete killed at $point" 137 "$?"
    fi
    if [ "$recovery" = gc ]; then
      fx gc >/tmp/gc.out 2>&1
      expect "gc after $verb killed at $point" 0 "$?"
      sed 's/^/  gc: /' /tmp/gc.out
    else
      fx delete --force "$id" 2>/tmp/fail.err
      expect "delete --force after $verb killed at $point" 0 "$?"
    fi
    clean_after "$verb killed at $point, then $recovery"
  done
fi

if [[ " $sections " == *" seccomp "* ]]; then
  echo "== supervisor confinement: seccomp filter and capabilities through a whole lifecycle"
  fx create --bundle "$failure_work/sleeper" --pid-file /tmp/confined.pid confined >/tmp/confined.out 2>/tmp/confined.err </dev/null
  expect "create (confined supervisor)" 0 "$?"
  supervisor=$(cat /tmp/confined.pid 2>/dev/null)
  expect "supervisor seccomp mode (2 = filter)" 2 "$(awk '/^Seccomp:/ {print $2}' /proc/"$supervisor"/status 2>/dev/null)"
  expect "supervisor effective capabilities" 0000000000205022 "$(awk '/^CapEff:/ {print $2}' /proc/"$supervisor"/status 2>/dev/null)"
  echo "FIGURE supervisor VmRSS under the filter (kB): $(awk '/^VmRSS:/ {print $2}' /proc/"$supervisor"/status 2>/dev/null)"
  fx start confined
  expect "start (confined supervisor)" 0 "$?"
  for _ in $(seq 1 120); do grep -q ready /tmp/confined.out && break; sleep 0.5; done
  expect "output through the confined supervisor" ready "$(head -n 1 /tmp/confined.out)"
  fx kill confined TERM
  for _ in $(seq 1 120); do kill -0 "$supervisor" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$supervisor" 2>/dev/null && fail "confined supervisor still alive after kill TERM" || pass "confined supervisor ends with the container"
  grep -q got-term /tmp/confined.out && pass "TERM reached the process (confined)" || fail "no got-term: $(cat /tmp/confined.out)"
  expect "exit recorded by the confined supervisor (the trap exits 42)" exited:42 \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("exitStatus"))' "$froot/confined/state.json" 2>/dev/null)"
  fx delete confined
  expect "delete (confined)" 0 "$?"
  clean_after "confined lifecycle"
  grep -i "seccomp\|confinement" /tmp/confined.err | sed 's/^/  supervisor said: /'

  # The TERM lifecycle ran above under the killing filter (a call outside the list would have
  # ended the supervisor and failed its checks); the audit adds the kill 9 path and names calls.
  echo "== supervisor confinement audit: RUNXL_SUPERVISOR_SECCOMP=log, a kill 9 lifecycle"
  dmesg -C 2>/dev/null
  RUNXL_SUPERVISOR_SECCOMP=log fx run --detach --bundle "$failure_work/sleeper" audited >/dev/null 2>&1 </dev/null
  fx kill audited KILL; sleep 2; fx delete --force audited
  logged=$(dmesg 2>/dev/null | grep -o 'syscall=[0-9]*' | sort -u | tr '\n' ' ')
  echo "FIGURE system calls outside the allow list (audit log): ${logged:-none}"
  [ -z "$logged" ] && pass "no supervisor system call outside the allow list" || fail "supervisor made unlisted calls: $logged"
  clean_after "the audited lifecycle"
fi

if [[ " $sections " == *" concurrency "* ]]; then
  echo "== concurrency: N parallel create+delete cycles on real libxl (96 MiB guests)"
  cbundle=/var/tmp/runxl-concurrency-bundle
  rm -rf "$cbundle" && mkdir -p "$cbundle"
  python3 - "$failure_work/sleeper/config.json" "$cbundle/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.setdefault("annotations", {})["org.runxl.memory"] = "96"
json.dump(config, open(sys.argv[2], "w"))
PY
  echo "FIGURE dom0 MemAvailable before (MB): $(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)"
  echo "FIGURE Xen free memory before (MB): $(xl info | awk '/^free_memory/ {print $3}')"
  for n in ${RUNXL_LAB_CONCURRENCY:-8}; do
    rm -f /tmp/conc-fail.*
    start=$(date +%s.%N)
    for i in $(seq 1 "$n"); do
      ( fx create --bundle "$cbundle" "p$n-$i" >/dev/null 2>"/tmp/conc-fail.$i.create" </dev/null \
          && fx delete --force "p$n-$i" 2>"/tmp/conc-fail.$i.delete" && rm -f "/tmp/conc-fail.$i".* ) &
    done
    wait
    seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    failures=$(ls /tmp/conc-fail.*.create 2>/dev/null | wc -l)
    leftover_domains=$(($(xl list | tail -n +2 | wc -l) - 1))
    leftover_files=$(find "$froot" -mindepth 1 2>/dev/null | wc -l)
    echo "FIGURE concurrency N=$n: ${seconds} s, $failures failed, $leftover_domains domains and $leftover_files files left, $(supervisors_of) supervisors"
    [ "$failures" = 0 ] || cat /tmp/conc-fail.*.create /tmp/conc-fail.*.delete 2>/dev/null | sort | uniq -c | head -5 | sed 's/^/  error: /'
    if [ "$failures" = 0 ] && [ "$leftover_domains" = 0 ] && [ "$leftover_files" = 0 ]; then
      pass "concurrency N=$n: no failure, nothing left"
    else
      # Failures past what memory allows are the measurement's end, not a leak; leftovers are bugs.
      [ "$leftover_domains" = 0 ] && [ "$leftover_files" = 0 ] && pass "concurrency N=$n: failures left nothing behind" \
        || fail "concurrency N=$n left $leftover_domains domains, $leftover_files files"
      fx gc >/dev/null 2>&1
    fi
  done
  clean_after "parallel create+delete"
fi

if [ "${standalone:-0}" = 1 ]; then
  echo "failure lab: $passed passed, $failed failed"
  [ "$failed" = 0 ]
fi
